"""`python -m bot validate`: Rasa's data validation, strict, minus what only custom actions use.

Rasa warns about every response no story or rule utters; responses that actions choose at run time
(balances, line items, disclosures) are legitimately absent from stories. A response is accepted as
used when Python code under actions/, bot/ or channels/ names it; every other warning fails the check.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import List

_UNUSED_RESPONSE = re.compile(r"The utterance '(\w+)' is not used in any story or rule")
# Intents the system triggers (Rasa's trigger_intent API, the channels) have no training examples.
_EXTERNAL_INTENT = re.compile(r"The intent 'EXTERNAL_\w+' is listed in the domain file, but is not found in the NLU")


def responses_named_in_code(project_root: Path) -> set:
    names = set()
    for folder in ("actions", "bot", "channels"):
        for path in (project_root / folder).rglob("*.py"):
            names |= set(re.findall(r"utter_\w+", path.read_text()))
    return names


def responses_asked_by_forms(domain) -> set:
    """Forms ask for each required slot with `utter_ask_<slot>` on their own."""
    return {f"utter_ask_{slot}" for form in domain.forms.values() for slot in form.get("required_slots", [])}


def _expected_by_rasa(warning) -> bool:
    """Warnings Rasa itself silences when it runs (e.g. the blanket slot auto-fill notice)."""
    from rasa.utils.common import EXPECTED_WARNINGS

    return any(issubclass(warning.category, kind) and re.match(pattern, str(warning.message))
               for kind, pattern in EXPECTED_WARNINGS)


def problems(project_root: Path) -> List[str]:
    from rasa.shared.importers.importer import TrainingDataImporter
    from rasa.validator import Validator

    importer = TrainingDataImporter.load_from_config(
        str(project_root / "config.yml"), str(project_root / "domain.yml"), [str(project_root / "data")]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validator = Validator.from_importer(importer)
        checks = [
            validator.verify_domain_validity(),
            validator.verify_actions_in_stories_rules(),
            validator.verify_forms_in_stories_rules(),
            validator.verify_form_slots(),
            validator.verify_slot_mappings(),
            validator.verify_nlu(ignore_warnings=True),
            validator.verify_story_structure(ignore_warnings=True),
        ]
    used_by_rasa = {"utter_default"}  # uttered by Rasa's own action_default_fallback
    used_in_code = (responses_named_in_code(project_root) | responses_asked_by_forms(importer.get_domain())
                    | used_by_rasa)
    found = []
    for warning in caught:
        if not issubclass(warning.category, UserWarning) or issubclass(warning.category, DeprecationWarning):
            continue
        message = str(warning.message)
        if _expected_by_rasa(warning):
            continue
        if _EXTERNAL_INTENT.search(message):
            continue
        unused = _UNUSED_RESPONSE.search(message)
        if unused and unused.group(1) in used_in_code:
            continue
        found.append(message.splitlines()[0])
    if not all(checks):
        found.append("Rasa's validator reported errors (see the log above).")
    return found


def main(project_root: Path) -> int:
    found = problems(project_root)
    for problem in found:
        print(f"- {problem}")
    print("training data and domain: " + ("OK" if not found else f"{len(found)} problem(s)"))
    return 1 if found else 0
