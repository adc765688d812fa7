"""`python -m bot lint-conversations`: the product's conversation-design rules on top of Rasa's validation.

Designers change data/, domain.yml, locales/ and messaging.yml without Python; these checks tell them
before a consumer does when a change breaks a rule: a response missing a translation, a rule that can
disclose the debt before verification, a proactive template without the opt-out line, a contract intent
without examples in a language, or two intents sharing examples. The rules themselves (which responses
disclose, how verification shows in a rule) live in conversation_design.yml, which designers edit too.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

from bot.translations import (
    DOMAIN_FILE,
    SOURCE_LANGUAGE,
    SourceMessage,
    placeholders,
    read_catalog,
    source_catalogs,
    source_messages,
)

DESIGN_FILE = "conversation_design.yml"
MESSAGING_FILE = "messaging.yml"
SYSTEM_INTENT_PREFIX = "EXTERNAL_"


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, where, and what to do about it."""

    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(path.read_text(encoding="utf-8"))


def _line(node: Any, key: Any = None) -> int:
    """1-based line of a YAML node (or of one of its keys); 0 when unknown."""
    try:
        if key is None:
            return node.lc.line + 1
        return node.lc.key(key)[0] + 1
    except (AttributeError, KeyError, TypeError):
        return 0


class Project:
    """The files a designer edits, read once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.design = _yaml(self.root / DESIGN_FILE)
        self.domain = _yaml(self.root / DOMAIN_FILE)
        self.messages: List[SourceMessage] = source_messages(self.root / DOMAIN_FILE)
        self.catalogs = {lang: path for lang, path in source_catalogs(self.root).items() if lang != SOURCE_LANGUAGE}
        self.languages = [SOURCE_LANGUAGE] + sorted(self.catalogs)
        self._read: Dict[str, Any] = {}

    def rel(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def catalog(self, language: str):
        if language not in self._read:
            self._read[language] = read_catalog(self.catalogs[language])
        return self._read[language]

    def responses(self) -> Mapping[str, Any]:
        return self.domain.get("responses") or {}

    def response_line(self, name: str) -> str:
        return f"{DOMAIN_FILE}:{_line(self.responses(), name)}"

    def actions(self) -> Set[str]:
        return {str(a) for a in self.domain.get("actions") or []} | {str(f) for f in self.domain.get("forms") or {}}

    def intents(self) -> List[str]:
        names = []
        for entry in self.domain.get("intents") or []:
            names.append(str(next(iter(entry))) if isinstance(entry, Mapping) else str(entry))
        return names

    def texts(self, response: str, language: str, kind: str = "text") -> Iterator[Tuple[SourceMessage, str]]:
        """Each (source message, text in `language`) of a response; '' where a translation is missing."""
        for message in self.messages:
            if message.response != response or message.kind != kind:
                continue
            if language == SOURCE_LANGUAGE:
                yield message, message.text
            else:
                entry = self.catalog(language).get(message.text, context=message.context)
                yield message, (entry.string if entry is not None and not entry.fuzzy else "") or ""

    def training_files(self) -> List[Path]:
        return sorted(p for p in (self.root / "data").rglob("*.yml") if p.is_file())


# --- every response exists in every language -----------------------------------------------------

def missing_translations(project: Project) -> Iterator[Finding]:
    for language, po in project.catalogs.items():
        catalog = project.catalog(language)
        for message in project.messages:
            entry = catalog.get(message.text, context=message.context)
            if entry is not None and entry.string and not entry.fuzzy:
                continue
            what = "button" if message.kind == "button" else "text"
            channel = f" (channel {message.channel})" if message.channel else ""
            state = "is marked fuzzy" if entry is not None and entry.fuzzy else "has no translation"
            yield Finding(
                "translations", f"{DOMAIN_FILE}:{message.lineno}",
                f"{message.response}{channel}: the {what} {message.text!r} {state} in {language}. "
                f"Add at the end of {project.rel(po)}: msgctxt \"{message.context}\" / msgid (the English "
                f"text exactly) / msgstr (the {language} text), then run `python -m bot translations compile`.",
            )


# --- nothing is disclosed before verification ---------------------------------------------------

def disclosing_responses(project: Project) -> Set[str]:
    rules = project.design.get("disclosure") or {}
    named = {str(r) for r in rules.get("responses") or []}
    marked = set(str(p) for p in rules.get("placeholders") or [])
    for message in project.messages:
        if placeholders(message.text) & marked:
            named.add(message.response)
    return named


def _slot_values(step: Mapping[str, Any]) -> Iterator[Tuple[str, Any]]:
    for item in step.get("slot_was_set") or []:
        if isinstance(item, Mapping):
            yield from ((str(k), v) for k, v in item.items())
        else:  # `- slot_name` alone means "set to anything"
            yield str(item), True


class Verification:
    """Whether a rule's condition or steps so far show the consumer is verified (conversation_design.yml)."""

    def __init__(self, signs: Iterable[Mapping[str, Any]]) -> None:
        self.signs = list(signs)

    def shows(self, slot: str, value: Any) -> Optional[bool]:
        """True: verified; False: the verified slot set to a non-verifying value; None: says nothing."""
        for sign in self.signs:
            if sign.get("slot") != slot:
                continue
            if "values" in sign:
                return value in list(sign["values"])
            return value not in list(sign.get("any_value_but") or [])
        return None

    def after(self, verified: bool, steps: Iterable[Mapping[str, Any]], disclosing: Set[str] = frozenset()) -> bool:
        for step in steps:
            # A disclosing form only starts once verified (this check sees to it): inside it, the consumer is.
            if step.get("active_loop") in disclosing:
                verified = True
            for slot, value in _slot_values(step):
                shown = self.shows(slot, value)
                if shown is not None:
                    verified = shown
        return verified


def _dialogues(project: Project) -> Iterator[Tuple[Path, str, Mapping[str, Any]]]:
    for path in project.training_files():
        document = _yaml(path) or {}
        for kind in ("rules", "stories"):
            for block in document.get(kind) or []:
                yield path, kind[:-1] if kind == "rules" else "story", block


def early_disclosures(project: Project) -> Iterator[Finding]:
    design = project.design.get("disclosure") or {}
    responses = disclosing_responses(project)
    actions = {str(a) for a in design.get("actions") or []}
    verification = Verification(design.get("verified_when") or [])
    for path, kind, block in _dialogues(project):
        name = block.get(kind) or "?"
        # A rule can fire at any point of a conversation: unverified unless its condition says so.
        verified = verification.after(False, block.get("condition") or [], actions) if kind == "rule" else False
        for step in block.get("steps") or []:
            verified = verification.after(verified, [step], actions)
            action = step.get("action")
            if verified or action is None or (action not in responses and action not in actions):
                continue
            what = "response" if action in responses else "action"
            yield Finding(
                "disclosure", f"{project.rel(path)}:{_line(step)}",
                f"{kind} '{name}': the {what} {action} discloses account data but can run before the consumer "
                f"is verified. Add `- slot_was_set: [verified: true]` to the {kind}'s condition, or start "
                f"verification first (action_start_verification).",
            )
    known = set(project.responses()) | project.actions()
    for listed in sorted(({str(r) for r in design.get("responses") or []} | actions) - known):
        yield Finding("disclosure", DESIGN_FILE,
                      f"{listed} is listed under disclosure but is not in {DOMAIN_FILE}: rename or remove it.")


# --- proactive messages carry the opt-out line ---------------------------------------------------

def _whatsapp_templates(project: Project) -> List[str]:
    path = project.root / MESSAGING_FILE
    if not path.is_file():
        return []
    templates = ((_yaml(path) or {}).get("whatsapp") or {}).get("templates") or {}
    return [str(name) for name in templates]


def _channel_texts(project: Project, response: str, language: str, channel: str) -> List[Tuple[SourceMessage, str]]:
    """The texts a response can show on a channel: its variations for that channel, else the default ones."""
    texts = list(project.texts(response, language))
    own = [(m, t) for m, t in texts if m.channel == channel]
    return own or [(m, t) for m, t in texts if not m.channel]


def missing_opt_out_lines(project: Project) -> Iterator[Finding]:
    rules = project.design.get("opt_out") or {}
    line_response = str(rules.get("line_response") or "utter_opt_out_line")
    keyword = str(rules.get("keyword") or "STOP")
    proactive = {str(r) for r in rules.get("proactive_responses") or []}
    templates = _whatsapp_templates(project)
    for response in sorted((proactive | set(templates) | {line_response}) - set(project.responses())):
        yield Finding("opt-out", project.response_line(response) if response in proactive else MESSAGING_FILE,
                      f"{response} is sent proactively but is not a response in {DOMAIN_FILE}: add it or fix the name.")
    checks = [(line_response, channel, "is appended to every proactive message")
              for channel in rules.get("channels") or []]
    checks += [(template, "whatsapp", f"is a WhatsApp template ({MESSAGING_FILE}), sent word for word")
               for template in templates]
    for response, channel, why in checks:
        if response not in project.responses():
            continue
        for language in project.languages:
            for message, text in _channel_texts(project, response, language, str(channel)):
                if keyword.lower() in text.lower():
                    continue
                yield Finding(
                    "opt-out", f"{DOMAIN_FILE}:{message.lineno}",
                    f"{response} {why}, but its {channel} text in {language} lacks the opt-out line "
                    f"(it must say {keyword}). Add a `channel: {channel}` variation that ends with the opt-out "
                    f"line, e.g. \"Reply {keyword} to stop messages to this number.\", and translate it.",
                )


# --- contract intents have examples in every language --------------------------------------------

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Example:
    intent: str
    text: str
    where: str


def examples(project: Project, language: str) -> List[Example]:
    found = []
    folder = project.root / "data" / "nlu" / language
    for path in sorted(folder.rglob("*.yml")) if folder.is_dir() else []:
        for block in (_yaml(path) or {}).get("nlu") or []:
            if "intent" not in block:
                continue
            first = _line(block, "examples") + 1
            lines = str(block.get("examples") or "").splitlines()
            for offset, raw in enumerate(lines):
                text = raw.strip()
                if text.startswith("- "):
                    found.append(Example(str(block["intent"]), _ANNOTATION.sub(r"\1", text[2:]).strip(),
                                         f"{project.rel(path)}:{first + offset}"))
    return found


def missing_intent_data(project: Project) -> Iterator[Finding]:
    contract = [str(i) for i in project.design.get("contract_intents") or []]
    in_domain = project.intents()
    for intent in contract:
        if intent not in in_domain:
            yield Finding("intents", DOMAIN_FILE,
                          f"the contract intent {intent} is missing from the intents list: add it (never rename it).")
    required = list(dict.fromkeys(contract + [i for i in in_domain if not i.startswith(SYSTEM_INTENT_PREFIX)]))
    for language in project.languages:
        have = {example.intent for example in examples(project, language)}
        for intent in required:
            if intent not in have:
                yield Finding("intents", f"data/nlu/{language}/",
                              f"the intent {intent} has no {language} training examples: add `- intent: {intent}` "
                              f"with examples to a file in data/nlu/{language}/.")


# --- no two intents share confusable examples ----------------------------------------------------

def normalise(text: str) -> str:
    """Lower case, no accents, no punctuation, single spaces: what is left is what the model reads."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def _deletions(text: str) -> Set[str]:
    return {text} | {text[:i] + text[i + 1:] for i in range(len(text))}


def one_edit_apart(a: str, b: str) -> bool:
    """At most one character added, removed or changed (the deletion buckets also pair some two-edit ones)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def confusable_pairs(items: List[Example], min_length: int) -> List[Tuple[Example, Example, str]]:
    """Pairs of examples of different intents: the same words (any order), or one typo apart."""
    buckets: Dict[Tuple[str, str], List[Example]] = defaultdict(list)
    for example in items:
        words = normalise(example.text)
        buckets[("same words", " ".join(sorted(words.split())))].append(example)
        if len(words) >= min_length:
            for variant in _deletions(words):
                buckets[("a typo apart", variant)].append(example)
    pairs: Dict[Tuple[str, str], Tuple[Example, Example, str]] = {}
    for (how, _), group in buckets.items():
        for a, b in combinations(group, 2):
            if a.intent == b.intent:
                continue
            if how == "a typo apart" and not one_edit_apart(normalise(a.text), normalise(b.text)):
                continue
            a, b = sorted((a, b), key=lambda e: e.where)
            key = (a.where, b.where)
            if key not in pairs or how == "same words":
                pairs[key] = (a, b, how)
    return sorted(pairs.values(), key=lambda p: (p[0].where, p[1].where))


def confusable_examples(project: Project) -> Iterator[Finding]:
    min_length = int((project.design.get("confusable") or {}).get("min_length_for_typos") or 8)
    for language in project.languages:
        for a, b, how in confusable_pairs(examples(project, language), min_length):
            yield Finding(
                "confusable", a.where,
                f"{a.intent} {a.text!r} and {b.intent} {b.text!r} ({b.where}) are {how}: keep the example in "
                f"one intent, or reword one so the two intents read differently.",
            )


CHECKS = {
    "translations": missing_translations,
    "disclosure": early_disclosures,
    "opt-out": missing_opt_out_lines,
    "intents": missing_intent_data,
    "confusable": confusable_examples,
}
EXPLANATIONS = {
    "translations": "every response in every language",
    "disclosure": "nothing about the account before verification",
    "opt-out": "proactive messages carry the opt-out line",
    "intents": "contract intents have examples in every language",
    "confusable": "no two intents share examples",
}


def lint(project_root: Path) -> List[Finding]:
    project = Project(project_root)
    return [finding for check in CHECKS.values() for finding in check(project)]


def report(findings: List[Finding]) -> str:
    lines = []
    for check, explanation in EXPLANATIONS.items():
        mine = [f for f in findings if f.check == check]
        lines.append(f"{check:<13} {'OK' if not mine else f'{len(mine)} problem(s)'}  ({explanation})")
        lines += [f"  - {finding}" for finding in mine]
    return "\n".join(lines)


def main(project_root: Path) -> int:
    """Rasa's strict validation, then the product's checks; non-zero when anything is wrong."""
    from bot import design_check

    rasa_problems = design_check.main(project_root)
    findings = lint(project_root)
    print(report(findings))
    return 1 if rasa_problems or findings else 0
