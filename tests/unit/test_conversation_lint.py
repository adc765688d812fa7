"""`make lint-conversations`: each product rule is caught on a deliberately broken copy of the project,
and the real project passes."""
import re
import shutil
from pathlib import Path

import pytest

from bot.conversation_lint import confusable_pairs, Example, lint, main, normalise

ROOT = Path(__file__).resolve().parents[2]
DESIGNER_FILES = ("domain.yml", "config.yml", "messaging.yml", "conversation_design.yml", "data", "locales")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the files designers edit, to break one rule at a time."""
    for name in DESIGNER_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drifted: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def findings(root: Path, check: str):
    return [str(f) for f in lint(root) if f.check == check]


def test_the_real_project_passes_every_rule():
    assert [str(f) for f in lint(ROOT)] == []


def test_the_real_project_passes_rasa_validation_too(capsys):
    assert main(ROOT) == 0
    assert "training data and domain: OK" in capsys.readouterr().out


def test_a_response_without_a_spanish_translation_is_named_with_what_to_add(project):
    domain = project / "domain.yml"
    edit(domain, '  utter_thank:\n    - text: "You\'re welcome. I\'m glad to help."',
         '  utter_thank:\n    - text: "You\'re very welcome."')
    [problem] = findings(project, "translations")
    assert re.match(r"domain\.yml:\d+: utter_thank: the text \"You're very welcome.\" has no translation in es", problem)
    assert 'msgctxt "utter_thank"' in problem and "locales/es/LC_MESSAGES/messages.po" in problem


def test_a_new_channel_variation_needs_its_own_translation(project):
    edit(project / "domain.yml", '  utter_goodbye:\n    - text: "Take care. You can message me here any time."',
         '  utter_goodbye:\n    - channel: sms\n      text: "Take care."\n'
         '    - text: "Take care. You can message me here any time."')
    [problem] = findings(project, "translations")
    assert "utter_goodbye (channel sms)" in problem and 'msgctxt "utter_goodbye|sms"' in problem


def test_a_rule_that_shows_the_balance_without_verification_is_caught(project):
    rules = project / "data" / "rules" / "account.yml"
    edit(rules, "  - rule: balance when verified\n    condition:\n      - slot_was_set:\n          - verified: true\n",
         "  - rule: balance when verified\n")
    [problem] = findings(project, "disclosure")
    assert problem.startswith("data/rules/account.yml:")
    assert "rule 'balance when verified': the action action_show_balance discloses account data" in problem


def test_a_story_that_utters_a_disclosing_response_before_verifying_is_caught(project):
    # utter_balance_due is not listed anywhere: its {balance} placeholder marks it as disclosing.
    (project / "data" / "stories.yml").write_text(
        'version: "3.1"\nstories:\n  - story: greeting then balance\n    steps:\n      - intent: greet\n'
        "      - action: utter_greet\n      - intent: ask_balance\n      - action: utter_balance_due\n")
    [problem] = findings(project, "disclosure")
    assert problem.startswith("data/stories.yml:8: story 'greeting then balance': the response utter_balance_due")


def test_a_story_that_verifies_first_may_disclose(project):
    (project / "data" / "stories.yml").write_text(
        'version: "3.1"\nstories:\n  - story: verified then balance\n    steps:\n      - intent: ask_balance\n'
        "      - action: action_verify_identity\n      - slot_was_set:\n          - verified: true\n"
        "      - action: utter_balance_due\n")
    assert findings(project, "disclosure") == []


def test_a_whatsapp_template_without_the_opt_out_line_is_caught(project):
    domain = project / "domain.yml"
    edit(domain, " {link} Reply STOP to stop messages to this number.", " {link}")
    problems = findings(project, "opt-out")
    assert any("utter_payment_reminder is a WhatsApp template (messaging.yml)" in p and " in en " in p
               for p in problems)


def test_an_opt_out_line_translated_without_stop_is_caught(project):
    po = project / "locales" / "es" / "LC_MESSAGES" / "messages.po"
    edit(po, 'msgstr "Responda STOP (o ALTO) para dejar de recibir mensajes de texto en este número."',
         'msgstr "Responda ALTO para dejar de recibir mensajes de texto en este número."')
    [problem] = findings(project, "opt-out")
    assert "utter_opt_out_line is appended to every proactive message, but its sms text in es lacks" in problem


def test_a_contract_intent_without_spanish_examples_is_caught(project):
    nlu = project / "data" / "nlu" / "es" / "special.yml"
    text = nlu.read_text(encoding="utf-8")
    nlu.write_text(re.sub(r"- intent: deceased\n  examples: \|\n(    - .*\n)+", "", text), encoding="utf-8")
    assert "- intent: deceased" not in nlu.read_text(encoding="utf-8")
    [problem] = findings(project, "intents")
    assert problem == ("data/nlu/es/: the intent deceased has no es training examples: add `- intent: deceased` "
                       "with examples to a file in data/nlu/es/.")


def test_the_same_example_under_two_intents_is_reported_as_a_pair(project):
    nlu = project / "data" / "nlu" / "en" / "core.yml"
    edit(nlu, "    - hey there\n", "    - hey there\n    - Thanks, Goodbye!\n")
    edit(nlu, "- intent: goodbye\n  examples: |\n", "- intent: goodbye\n  examples: |\n    - goodbye thanks\n")
    [problem] = findings(project, "confusable")
    assert "greet 'Thanks, Goodbye!'" in problem and "goodbye 'goodbye thanks'" in problem
    assert "are same words" in problem


@pytest.mark.parametrize("a, b, expected", [
    ("i want to pay now", "i want to pay mow", True),  # one letter changed
    ("i want to pay now", "i want to pay", False),  # a word shorter: a different example
    ("no thanks", "ok thanks", False),  # two letters apart: read differently
    ("Pagaré el viernes", "pagare el viernes!", True),  # accents, case and punctuation do not count
])
def test_near_duplicates_are_one_typo_apart(a, b, expected):
    pairs = confusable_pairs([Example("one", a, "x:1"), Example("two", b, "y:1")], min_length=8)
    assert bool(pairs) is expected


def test_normalise_keeps_only_what_the_model_reads():
    assert normalise("  ¿Cuánto DEBO?? ") == "cuanto debo"
