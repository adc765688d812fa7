"""The assistant's responses in the conversation's language: Babel extraction, catalogs, rendering.

``domain.yml`` holds the English source text of every response; ``locales/<lang>/LC_MESSAGES/
messages.po`` holds one language's translations; the NLG server (``bot.web.nlg``) renders a
response with :class:`Catalogs`. Adding a language is a catalog-only task: create its ``.po``
(``python -m bot translations --add fr``), translate, compile. Nothing in the code is specific
to a translation language (``LOCALES`` only names Babel locales for formatting).

Message context scheme (``msgctxt``; what ``pgettext`` gets). The context says *where* a string is
used, the ``msgid`` (the English text) says *what* it is, so several random variations of one
response are distinct entries under one context, and reordering buttons changes nothing:

* ``<response>``                  the text of a variation without ``channel:``
* ``<response>|<channel>``        the text of a variation with ``channel: <channel>``
* ``<response>|button``           a button title of a variation without ``channel:``
* ``<response>|<channel>|button`` a button title of a variation with ``channel: <channel>``

Slot ``condition:`` variations share their channel's context (their English texts differ).
Every entry carries a translator comment naming the response and its ``{placeholders}``.

Placeholders are Rasa's: ``{name}`` is replaced by the argument ``name`` (custom actions pass
already-formatted strings: money and dates are formatted with Babel in the action), then by the
slot ``name`` of the tracker; ``{{`` and ``}}`` are literal braces. Button payloads, images,
attachments, elements and custom payloads are passed through untranslated and unfilled.

Missing things, decided:

* no translation for a message (untranslated, fuzzy, or no catalog for the language): the English
  text, and a warning logged once per message (per language);
* a translation whose placeholders differ from the English: the English text, warning once
  (``compile_catalogs`` refuses such a catalog, so this only happens with a stale ``.mo``);
* a placeholder that neither the arguments nor the slots fill: :class:`MissingArgumentError`.
  A half-filled sentence ("Your balance is .") misleads a consumer about a debt, which a
  collector must never do; the NLG route answers 422 and Rasa logs the failed action.
* an unknown response name: :class:`UnknownResponseError` (a ``KeyError``); the route answers 404.
"""
from __future__ import annotations

import io
import logging
import os
import random
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import PoFileError, read_po

logger = logging.getLogger(__name__)

SOURCE_LANGUAGE = "en"
DOMAIN_FILE = "domain.yml"
LOCALE_DIR = "locales"
CATALOG_DOMAIN = "messages"
# Babel locales of the conversation languages (formatting is bot.i18n's job; this is for callers
# that only have a Catalogs). A language missing here is its own locale.
LOCALES: Dict[str, str] = {"en": "en_US", "es": "es_US"}

# Keys Rasa puts into the NLG request's `arguments` for a response uttered from a custom action
# (rasa_sdk's utter_message fields). They are never placeholder values: name placeholders otherwise.
RESERVED_ARGUMENTS = frozenset(
    {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment",
     "json_message", "response_id", "quick_replies"}
)

# Rasa's own placeholder syntax (rasa/core/nlg/interpolator.py), plus the {{ }} escapes of format().
_TOKEN = re.compile(r"\{\{|\}\}|\{([^\n{}]+?)\}")


class TranslationError(Exception):
    """Base of this module's errors."""


class DomainError(TranslationError):
    """domain.yml (or a domain directory) cannot be read as Rasa responses."""


class CatalogError(TranslationError):
    """A message catalog is broken (syntax, placeholders) or was never compiled."""


class UnknownResponseError(KeyError, TranslationError):
    """No response of that name in the domain."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"No response named {self.name!r} in the domain (responses: in domain.yml)."


class MissingArgumentError(TranslationError):
    """A placeholder of the response got no value from the arguments nor from the slots."""

    def __init__(self, response: str, missing: Sequence[str]) -> None:
        self.response = response
        self.missing = sorted(set(missing))
        names = ", ".join("{%s}" % name for name in self.missing)
        super().__init__(
            f"Response {response!r} needs {names}: pass it to utter_message(response={response!r}, "
            f"...) as a keyword argument, or set a slot of that name."
        )


# --------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------


def placeholders(text: str) -> Set[str]:
    """The ``{names}`` in a response text (escaped ``{{ }}`` excluded)."""
    return {match.group(1) for match in _TOKEN.finditer(text) if match.group(1) is not None}


def fill(text: str, values: Mapping[str, Any], *, response: str = "?") -> str:
    """Replace each ``{name}`` with ``values[name]``; raise MissingArgumentError naming every gap."""
    missing = sorted(name for name in placeholders(text) if name not in values)
    if missing:
        raise MissingArgumentError(response, missing)

    def substitute(match: "re.Match[str]") -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return str(values[match.group(1)])

    return _TOKEN.sub(substitute, text)


# --------------------------------------------------------------------------------------------
# Contexts and the messages of a domain
# --------------------------------------------------------------------------------------------


def text_context(response: str, channel: Optional[str] = None) -> str:
    """The msgctxt of a variation's text."""
    return f"{response}|{channel}" if channel else response


def button_context(response: str, channel: Optional[str] = None) -> str:
    """The msgctxt of a variation's button titles."""
    return f"{text_context(response, channel)}|button"


@dataclass(frozen=True)
class SourceMessage:
    """One translatable English string of the domain, with where it came from."""

    context: str
    text: str
    response: str
    kind: str  # "text" or "button"
    channel: Optional[str] = None
    lineno: int = 0
    payload: Optional[str] = None

    @property
    def key(self) -> Tuple[str, str]:
        return (self.context, self.text)

    def translator_comment(self) -> str:
        parts = ["Button title" if self.kind == "button" else "Text", f"response {self.response}"]
        if self.channel:
            parts.append(f"channel {self.channel}")
        if self.payload:
            parts.append(f"payload {self.payload}")
        comment = ", ".join(parts) + "."
        names = sorted(placeholders(self.text))
        if names:
            comment += " Keep these placeholders exactly: " + ", ".join("{%s}" % name for name in names)
        return comment


def _yaml():
    from ruamel.yaml import YAML  # Rasa's own YAML library; round-trip keeps line numbers

    return YAML(typ="rt")


def _load_yaml_text(text: str, source: str) -> Any:
    try:
        return _yaml().load(text)
    except Exception as error:  # ruamel raises many classes; all mean the same thing here
        raise DomainError(f"{source}: not valid YAML: {error}") from error


def _responses_of(document: Any, source: str) -> Mapping[str, Any]:
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise DomainError(f"{source}: expected a mapping at the top level")
    responses = document.get("responses") or {}
    if not isinstance(responses, Mapping):
        raise DomainError(f"{source}: `responses:` must be a mapping of response names")
    for name, variations in responses.items():
        if not isinstance(variations, list) or not all(isinstance(v, Mapping) for v in variations):
            raise DomainError(f"{source}: response {name!r} must be a list of variations")
        for variation in variations:
            buttons = variation.get("buttons")
            if buttons is not None and (
                not isinstance(buttons, list) or not all(isinstance(b, Mapping) for b in buttons)
            ):
                raise DomainError(f"{source}: response {name!r} has malformed buttons")
    return responses


def _domain_files(path: Path) -> List[Path]:
    if path.is_dir():  # Rasa accepts a directory of domain files
        return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if not path.is_file():
        raise DomainError(f"{path}: no such domain file")
    return [path]


def _plain(value: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists (safe to copy, JSON-ready)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def load_responses(path: Path) -> Dict[str, List[Dict[str, Any]]]:
    """The ``responses:`` of a domain file or directory, as plain data."""
    merged: Dict[str, List[Dict[str, Any]]] = {}
    for file in _domain_files(Path(path)):
        responses = _responses_of(_load_yaml_text(file.read_text(encoding="utf-8"), str(file)), str(file))
        for name, variations in responses.items():
            if name in merged:
                raise DomainError(f"{file}: response {name!r} is defined twice in the domain")
            merged[str(name)] = _plain(variations)
    return merged


def _line(container: Any, key: Any, default: int) -> int:
    """1-based line of a key (mapping) or index (sequence) in ruamel's round-trip data."""
    try:
        if isinstance(container, Mapping):
            return container.lc.key(key)[0] + 1
        return container.lc.item(key)[0] + 1
    except Exception:  # plain data (no .lc): line numbers are a nicety
        return default


def iter_source_messages(responses: Mapping[str, Any]) -> Iterator[SourceMessage]:
    """Every translatable string of the responses, in domain order."""
    for name, variations in responses.items():
        response_line = _line(responses, name, 0)
        for index, variation in enumerate(variations):
            channel = variation.get("channel") or None
            variation_line = _line(variations, index, response_line)
            text = variation.get("text")
            if text is not None and str(text) != "":
                yield SourceMessage(
                    context=text_context(name, channel),
                    text=str(text),
                    response=str(name),
                    kind="text",
                    channel=channel,
                    lineno=_line(variation, "text", variation_line),
                )
            buttons = variation.get("buttons") or []
            for position, button in enumerate(buttons):
                title = button.get("title")
                if title is None or str(title) == "":
                    continue
                yield SourceMessage(
                    context=button_context(name, channel),
                    text=str(title),
                    response=str(name),
                    kind="button",
                    channel=channel,
                    lineno=_line(buttons, position, variation_line),
                    payload=button.get("payload"),
                )


def source_messages(domain_path: Path) -> List[SourceMessage]:
    """Every translatable string of a domain file or directory."""
    messages: List[SourceMessage] = []
    for file in _domain_files(Path(domain_path)):
        document = _load_yaml_text(file.read_text(encoding="utf-8"), str(file))
        messages.extend(iter_source_messages(_responses_of(document, str(file))))
    return messages


def extract_responses(
    fileobj: Any, keywords: Iterable[str], comment_tags: Iterable[str], options: Mapping[str, Any]
) -> Iterator[Tuple[int, str, Tuple[str, str], List[str]]]:
    """Babel extraction method for Rasa domain files (see locales/babel.cfg).

    Yields ``(lineno, "pgettext", (context, english_text), [translator_comment])``.
    """
    raw = fileobj.read()
    text = raw.decode(options.get("encoding", "utf-8")) if isinstance(raw, bytes) else raw
    source = getattr(fileobj, "name", DOMAIN_FILE)
    for message in iter_source_messages(_responses_of(_load_yaml_text(text, source), source)):
        yield message.lineno, "pgettext", (message.context, message.text), [message.translator_comment()]


# --------------------------------------------------------------------------------------------
# Catalogs: compile (.po -> .mo, validated) and load
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledCatalog:
    """What compile_catalogs wrote for one language, with the counts a translator wants."""

    language: str
    path: Path
    total: int
    translated: int
    fuzzy: int
    untranslated: int


def available_languages(project_root: Path) -> List[str]:
    """The languages a conversation can be held in: English plus every catalog under locales/."""
    return [SOURCE_LANGUAGE] + sorted(set(source_catalogs(project_root)) - {SOURCE_LANGUAGE})


def source_catalogs(project_root: Path) -> Dict[str, Path]:
    """language -> messages.po under <root>/locales."""
    base = Path(project_root) / LOCALE_DIR
    found: Dict[str, Path] = {}
    if base.is_dir():
        for po in sorted(base.glob(f"*/LC_MESSAGES/{CATALOG_DOMAIN}.po")):
            found[po.parent.parent.name] = po
    return found


_PO_STRING = r'"(?:[^"\\]|\\.)*"'
_PO_KEYWORD_LINE = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)\s+(' + _PO_STRING + r')\s*$')
_PO_CONTINUATION = re.compile(r'^(' + _PO_STRING + r')\s*$')


def lint_po(text: str) -> List[str]:
    """Problems Babel's lenient parser would pass over silently: a missing quote (it drops or
    eats characters), a stray line, a message defined twice (the last one silently wins)."""
    problems: List[str] = []
    seen: Dict[Tuple[str, str], int] = {}
    fields: Dict[str, str] = {}
    current: Optional[str] = None
    start = 0

    def close_entry() -> None:
        if "msgid" in fields and fields["msgid"]:
            key = (fields.get("msgctxt", ""), fields["msgid"])
            if key in seen:
                problems.append(f"line {start}: msgctxt {key[0]!r} msgid {key[1]!r} is already on line {seen[key]}")
            else:
                seen[key] = start

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword = _PO_KEYWORD_LINE.match(stripped)
        if keyword:
            name = keyword.group(1)
            if name in ("msgctxt", "msgid") and (current is None or current.startswith("msgstr")):
                close_entry()
                fields, start = {}, number
            current = name
            fields[name] = keyword.group(2)[1:-1]
        elif _PO_CONTINUATION.match(stripped) and current is not None:
            fields[current] = fields.get(current, "") + stripped[1:-1]
        else:
            problems.append(f"line {number}: not a quoted PO string: {stripped[:60]}")
    close_entry()
    return problems


def read_catalog(po_path: Path) -> Catalog:
    """Parse a .po file, refusing what Babel would skip or mangle (see lint_po)."""
    try:
        raw = Path(po_path).read_bytes()
        problems = lint_po(raw.decode("utf-8"))
        if problems:
            raise CatalogError(f"{po_path}: " + "; ".join(problems))
        return read_po(io.BytesIO(raw), locale=None, abort_invalid=True)
    except (PoFileError, ValueError, UnicodeDecodeError) as error:
        raise CatalogError(f"{po_path}: cannot be read: {error}") from error


def catalog_problems(catalog: Catalog) -> List[str]:
    """Translations that would break rendering: placeholders that differ from the English."""
    problems = []
    for message in catalog:
        if not message.id or not message.string or message.fuzzy or isinstance(message.id, tuple):
            continue
        expected, got = placeholders(message.id), placeholders(message.string)
        if expected != got:
            where = f"line {message.lineno}" if message.lineno else "?"
            problems.append(
                f"{where} (msgctxt {message.context!r}): placeholders {sorted(got)} "
                f"differ from the English {sorted(expected)}"
            )
    return problems


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def compile_catalogs(project_root: Path, output_dir: Optional[Path] = None) -> List[CompiledCatalog]:
    """Compile every locales/<lang>/LC_MESSAGES/messages.po to .mo; raise CatalogError if any is broken.

    ``output_dir`` (default ``<root>/locales``) receives ``<lang>/LC_MESSAGES/messages.mo``. All
    catalogs are checked before anything is written, so a broken one leaves no half-compiled set.
    Untranslated and fuzzy entries are not errors (they render in English) but are counted.
    """
    root = Path(project_root)
    target = Path(output_dir) if output_dir is not None else root / LOCALE_DIR
    catalogs: List[Tuple[str, Path, Catalog]] = []
    errors: List[str] = []
    for language, po_path in source_catalogs(root).items():
        try:
            catalog = read_catalog(po_path)
        except CatalogError as error:
            errors.append(str(error))
            continue
        errors.extend(f"{po_path}: {problem}" for problem in catalog_problems(catalog))
        catalogs.append((language, po_path, catalog))
    if errors:
        raise CatalogError("Broken message catalog(s):\n  " + "\n  ".join(errors))
    if not catalogs:
        logger.warning("No catalogs under %s: every response renders in English.", root / LOCALE_DIR)

    compiled = []
    for language, po_path, catalog in catalogs:
        entries = [m for m in catalog if m.id]
        translated = sum(1 for m in entries if m.string and not m.fuzzy)
        fuzzy = sum(1 for m in entries if m.fuzzy)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        mo_path = target / language / "LC_MESSAGES" / f"{CATALOG_DOMAIN}.mo"
        _write_atomically(mo_path, buffer.getvalue())
        compiled.append(
            CompiledCatalog(language, mo_path, len(entries), translated, fuzzy, len(entries) - translated - fuzzy)
        )
        logger.info("Compiled %s -> %s (%d/%d translated)", po_path, mo_path, translated, len(entries))
    return compiled


def _load_mo(path: Path) -> Dict[Tuple[str, str], str]:
    try:
        with open(path, "rb") as handle:
            catalog = read_mo(handle)
    except (OSError, ValueError) as error:
        raise CatalogError(f"{path}: not a readable .mo file: {error}") from error
    charset = catalog.charset or "utf-8"
    translations = {}
    for message in catalog:
        if not message.id or not message.string or not isinstance(message.id, str):
            continue
        context = message.context or ""
        if isinstance(context, bytes):  # Babel's read_mo leaves msgctxt undecoded
            context = context.decode(charset)
        translations[(context, message.id)] = message.string
    return translations


def normalize_language(language: Optional[str]) -> str:
    """'es', 'es_US', 'es-US', 'ES' -> 'es'; nothing -> the source language."""
    if not language or not isinstance(language, str):
        return SOURCE_LANGUAGE
    return re.split(r"[_-]", language.strip(), maxsplit=1)[0].lower() or SOURCE_LANGUAGE


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _matches_condition(variation: Mapping[str, Any], slots: Mapping[str, Any]) -> bool:
    """Rasa's ResponseVariationFilter._matches_filled_slots."""
    for constraint in variation.get("condition") or []:
        if not isinstance(constraint, Mapping):
            return False
        expected, actual = constraint.get("value"), slots.get(constraint.get("name"))
        if isinstance(expected, str) and isinstance(actual, str):
            if expected.casefold() != actual.casefold():
                return False
        elif expected != actual:
            return False
    return True


def eligible_variations(
    variations: Sequence[Mapping[str, Any]], channel: Optional[str], slots: Mapping[str, Any]
) -> List[Mapping[str, Any]]:
    """Rasa 3.6's ResponseVariationFilter order: condition+channel, channel, condition, default."""
    def channel_of(variation: Mapping[str, Any]) -> Optional[str]:
        return variation.get("channel") or None

    conditional = [v for v in variations if v.get("condition") and _matches_condition(v, slots)]
    default = [v for v in variations if not v.get("condition")]
    for group in (
        [v for v in conditional if channel_of(v) == channel],
        [v for v in default if channel_of(v) == channel],
        [v for v in conditional if channel_of(v) is None],
    ):
        if group:
            return group
    return [v for v in default if channel_of(v) is None]


def placeholder_values(arguments: Optional[Mapping[str, Any]], slots: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Slots, overridden by the response's arguments; None and Rasa's own message keys left out."""
    values: Dict[str, Any] = {}
    for source in (slots or {}, arguments or {}):
        for name, value in source.items():
            if value is not None and name not in RESERVED_ARGUMENTS:
                values[str(name)] = value
    return values


class Catalogs:
    """The domain's responses and the compiled translations, loaded once; renders NLG bodies.

    ``Catalogs(project_root)`` reads ``<root>/domain.yml`` and ``<root>/locales/*/LC_MESSAGES/
    messages.mo``; ``compiled_dir`` points at compiled catalogs elsewhere (tests, read-only
    installs). A ``.po`` without its ``.mo`` is an error: a Spanish conversation silently answered
    in English is worse than a service that does not start.
    """

    def __init__(
        self,
        project_root: Path,
        *,
        domain_path: Optional[Path] = None,
        compiled_dir: Optional[Path] = None,
        rng: Optional[random.Random] = None,
    ) -> None:
        root = Path(project_root)
        self.domain_path = Path(domain_path) if domain_path is not None else root / DOMAIN_FILE
        self.compiled_dir = Path(compiled_dir) if compiled_dir is not None else root / LOCALE_DIR
        self._responses = load_responses(self.domain_path)
        self._translations: Dict[str, Dict[Tuple[str, str], str]] = {}
        self._random = rng or random.Random()
        self._warned: Set[Tuple[str, ...]] = set()
        self._lock = threading.Lock()

        sources = source_catalogs(root)
        for mo_path in sorted(self.compiled_dir.glob(f"*/LC_MESSAGES/{CATALOG_DOMAIN}.mo")):
            language = mo_path.parent.parent.name
            self._translations[language] = _load_mo(mo_path)
            po_path = sources.get(language)
            if po_path is not None and po_path.stat().st_mtime > mo_path.stat().st_mtime:
                logger.warning(
                    "%s is older than %s: run `python -m bot translations compile`.", mo_path, po_path
                )
        uncompiled = sorted(set(sources) - set(self._translations) - {SOURCE_LANGUAGE})
        if uncompiled:
            raise CatalogError(
                f"Catalog(s) {', '.join(uncompiled)} not compiled into {self.compiled_dir}: "
                "run `python -m bot translations compile` (or call compile_catalogs)."
            )

    # ---- what is loaded

    @property
    def languages(self) -> List[str]:
        """Languages a response can be rendered in: the source plus every compiled catalog."""
        return [SOURCE_LANGUAGE] + sorted(lang for lang in self._translations if lang != SOURCE_LANGUAGE)

    @property
    def response_names(self) -> List[str]:
        return list(self._responses)

    def variations(self, response_name: str) -> List[Dict[str, Any]]:
        try:
            return self._responses[response_name]
        except KeyError:
            raise UnknownResponseError(response_name) from None

    @staticmethod
    def locale_for(language: Optional[str]) -> str:
        code = normalize_language(language)
        return LOCALES.get(code, code)

    # ---- translation

    def _warn_once(self, key: Tuple[str, ...], message: str, *args: Any) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(message, *args)

    def translate(self, language: str, context: str, english: str) -> str:
        """The translation of one string, or the English when there is none usable."""
        if language == SOURCE_LANGUAGE:
            return english
        catalog = self._translations.get(language)
        if catalog is None:
            self._warn_once(
                ("language", language),
                "No compiled catalog for language %r: answering in English.", language,
            )
            return english
        translated = catalog.get((context, english))
        if not translated:
            self._warn_once(
                ("missing", language, context, english),
                "No %s translation for %r (msgctxt %r): using the English text. "
                "Run `python -m bot translations` and translate it.", language, english, context,
            )
            return english
        if placeholders(translated) != placeholders(english):
            self._warn_once(
                ("placeholders", language, context, english),
                "The %s translation of msgctxt %r has placeholders %s, the English %s: using "
                "the English text.", language, context, sorted(placeholders(translated)),
                sorted(placeholders(english)),
            )
            return english
        return translated

    # ---- rendering

    def choose_variation(
        self,
        response_name: str,
        channel: Optional[str] = None,
        slots: Optional[Mapping[str, Any]] = None,
        response_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        variations = self.variations(response_name)
        if response_id:
            for variation in variations:
                if variation.get("id") == response_id:
                    return variation
        eligible = eligible_variations(variations, channel or None, slots or {})
        if not eligible:
            # Only variations for other channels (or unmet conditions): Rasa's own NLG says
            # nothing then, and so do we (an empty text is sent by no channel).
            self._warn_once(
                ("no-variation", response_name, str(channel)),
                "Response %r has no variation for channel %r and no default one.", response_name, channel,
            )
            return {}
        return eligible[0] if len(eligible) == 1 else self._random.choice(eligible)

    def render(
        self,
        response_name: str,
        language: Optional[str] = None,
        channel: Optional[str] = None,
        arguments: Optional[Mapping[str, Any]] = None,
        *,
        slots: Optional[Mapping[str, Any]] = None,
        response_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Rasa's NLG body for a response in a language and on a channel, placeholders filled.

        ``arguments`` are the response's keyword arguments; ``slots`` (the tracker's) fill
        placeholders the arguments leave open and decide ``condition:`` variations.
        Raises UnknownResponseError and MissingArgumentError (see the module docstring).
        """
        code = normalize_language(language)
        variation = self.choose_variation(response_name, channel, slots, response_id)
        variant_channel = variation.get("channel") or None
        values = placeholder_values(arguments, slots)

        english = variation.get("text")
        text = ""
        if english is not None and str(english) != "":
            english = str(english)
            fill(english, values, response=response_name)  # the English must fill, whatever the language
            translated = self.translate(code, text_context(response_name, variant_channel), english)
            text = fill(translated, values, response=response_name)

        buttons = []
        for button in variation.get("buttons") or []:
            rendered = dict(button)
            title = button.get("title")
            if title is not None and str(title) != "":
                translated = self.translate(code, button_context(response_name, variant_channel), str(title))
                rendered["title"] = fill(translated, values, response=response_name)
            buttons.append(rendered)

        return {
            "text": text,
            "buttons": buttons,
            "image": variation.get("image"),
            "elements": list(variation.get("elements") or []),
            "attachment": variation.get("attachment"),
            "custom": dict(variation.get("custom") or {}),
        }
