"""The translation layer: extraction from domain.yml, catalog completeness, rendering, fallbacks.

The completeness test is the gate for conversation designers: a response added to domain.yml
without a translation in every catalog under locales/ fails here, naming the message.
Compiled .mo files are build products, so every test compiles what it uses into a tmp dir.
"""
from __future__ import annotations

import io
import logging
import re
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator
import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot import translations_cli
from bot.ui_text import purpose_labels, webchat_strings
from bot.translations import (
    CatalogError,
    Catalogs,
    MissingArgumentError,
    UnknownResponseError,
    compile_catalogs,
    extract_responses,
    placeholders,
    source_catalogs,
    source_messages,
)

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "domain.yml"
NAMES = re.compile(r"\{([^\n{}]+?)\}")


@pytest.fixture(scope="module")
def compiled_dir(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("compiled_locales")
    compile_catalogs(ROOT, output_dir=target)
    return target


@pytest.fixture(scope="module")
def catalogs(compiled_dir) -> Catalogs:
    return Catalogs(ROOT, compiled_dir=compiled_dir)


def domain_responses() -> Dict[str, list]:
    """The domain read independently of the code under test (PyYAML, not ruamel)."""
    return yaml.safe_load(DOMAIN.read_text(encoding="utf-8")).get("responses") or {}


def expected_entries() -> List[Tuple[str, str]]:
    """(msgctxt, msgid) of every response text and button title, by the documented scheme."""
    entries = []
    for name, variations in domain_responses().items():
        for variation in variations:
            base = f"{name}|{variation['channel']}" if variation.get("channel") else name
            if variation.get("text"):
                entries.append((base, variation["text"]))
            for button in variation.get("buttons") or []:
                entries.append((f"{base}|button", button["title"]))
    return entries


def ui_entries() -> List[Tuple[str, str]]:
    """(msgctxt, msgid) of the web pages' texts (bot/ui_text.py), by Babel's python extractor."""
    with open(ROOT / "bot" / "ui_text.py", "rb") as handle:
        return [(context, message) for _, message, _, context in extract("python", handle)]


def every_argument(text: str) -> Dict[str, str]:
    return {name: f"<{name}>" for name in NAMES.findall(text)}


def write_catalog(path: Path, language: str, entries: Dict[Tuple[str, str], str], *, fuzzy=()) -> None:
    catalog = Catalog(locale=language)
    for (context, msgid), msgstr in entries.items():
        flags = ("fuzzy",) if (context, msgid) in fuzzy else ()
        catalog.add(msgid, msgstr, context=context, flags=flags)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        write_po(handle, catalog)


def project_copy(tmp_path: Path, *, with_spanish: bool = False) -> Path:
    """A throwaway project root: the real domain.yml, babel.cfg, optionally the Spanish catalog."""
    root = tmp_path / "project"
    (root / "locales").mkdir(parents=True)
    shutil.copy(DOMAIN, root / "domain.yml")
    shutil.copy(ROOT / "locales" / "babel.cfg", root / "locales" / "babel.cfg")
    if with_spanish:
        shutil.copytree(ROOT / "locales" / "es", root / "locales" / "es",
                        ignore=shutil.ignore_patterns("*.mo"))
    return root


# ---------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------


def test_extractor_yields_every_response_text_and_button_with_its_context():
    with open(DOMAIN, "rb") as handle:
        extracted = list(extract(extract_responses, handle))  # Babel's own driver, pgettext keyword

    expected = expected_entries()
    assert len(extracted) == len(expected)
    assert [(context, message) for _, message, _, context in extracted] == expected
    # Every response that has any text shows up under its own name.
    with_text = {name for name, variations in domain_responses().items()
                 if any(v.get("text") or v.get("buttons") for v in variations)}
    assert {context.split("|")[0] for _, _, _, context in extracted} == with_text


def test_extractor_comments_name_the_response_and_its_placeholders_and_lines_point_at_the_text():
    lines = DOMAIN.read_text(encoding="utf-8").splitlines()
    with open(DOMAIN, "rb") as handle:
        extracted = list(extract(extract_responses, handle))
    for lineno, message, comments, context in extracted:
        assert len(comments) == 1 and context.split("|")[0] in comments[0]
        for name in placeholders(message):
            assert "{%s}" % name in comments[0]
        # Lines are 1-based and land on the `text:` key or the button's `- title:` item.
        assert re.search(r"\b(text|title):", lines[lineno - 1]), (lineno, lines[lineno - 1])


def test_pybabel_extract_with_the_checked_in_babel_cfg_finds_every_message(tmp_path):
    # Guards babel.cfg itself (a "module:function" section name silently extracts nothing).
    from babel.messages.frontend import CommandLineInterface

    pot = tmp_path / "messages.pot"
    arguments = ["pybabel", "-q", "extract", "-F", str(ROOT / "locales" / "babel.cfg"), "-o", str(pot)]
    for pattern in translations_cli.IGNORED_DIRS:
        arguments += ["--ignore-dirs", pattern]
    CommandLineInterface().run(arguments + [str(ROOT)])
    with open(pot, "rb") as handle:
        template = read_po(handle)
    assert sorted((m.context, m.id) for m in template if m.id) == sorted(set(expected_entries() + ui_entries()))


def test_checked_in_template_matches_domain():
    with open(ROOT / "locales" / "messages.pot", "rb") as handle:
        template = read_po(handle)
    assert {(m.context, m.id) for m in template if m.id} == set(expected_entries() + ui_entries()), (
        "locales/messages.pot is stale: run `python -m bot translations`."
    )


# ---------------------------------------------------------------------------------------------
# Catalog completeness: the designers' gate
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(source_catalogs(ROOT)) or ["es"])
def test_every_response_is_translated_with_the_same_placeholders(language):
    # One case per catalog under locales/ (es today): adding a language adds a case.
    po_path = ROOT / "locales" / language / "LC_MESSAGES" / "messages.po"
    assert po_path.exists(), f"{po_path} is missing: run `python -m bot translations --add {language}`"
    with open(po_path, "rb") as handle:
        catalog = read_po(handle)

    problems = []
    # Every variation's text and button titles of every response, then the web pages' texts.
    sources = [(message.context, message.text) for message in source_messages(DOMAIN)] + ui_entries()
    for context, text in sources:
        entry = catalog.get(text, context=context)
        where = f"[{context}] {text!r}"
        if entry is None or not entry.string:
            problems.append(f"untranslated: {where}")
        elif entry.fuzzy:
            problems.append(f"fuzzy (review it, then remove the fuzzy flag): {where}")
        elif placeholders(entry.string) != placeholders(text):
            problems.append(
                f"placeholders {sorted(placeholders(entry.string))} instead of "
                f"{sorted(placeholders(text))}: {where}"
            )
    assert not problems, (
        f"{po_path.relative_to(ROOT)} needs work (run `python -m bot translations`, then translate):\n  "
        + "\n  ".join(problems)
    )


def test_spanish_legal_and_opt_out_lines(catalogs):
    # The meaning of these is regulated (Reg F 1006.18(e), 1006.6(e)): pin the wording.
    disclosure = catalogs.render("utter_debt_collector_disclosure", "es", "sms", {})
    assert disclosure["text"] == "Esta es una comunicación de un cobrador de deudas."
    for channel in ("sms", "whatsapp", "socketio"):
        greeting = catalogs.render("utter_session_greeting", "es", channel, {})["text"]
        assert "STOP" in greeting and "ALTO" in greeting, (channel, greeting)
        assert "START" in catalogs.render("utter_opted_out", "es", channel, {})["text"]


# ---------------------------------------------------------------------------------------------
# compile_catalogs
# ---------------------------------------------------------------------------------------------


def test_compile_writes_one_mo_per_catalog_with_counts(tmp_path):
    compiled = compile_catalogs(ROOT, output_dir=tmp_path)
    by_language = {c.language: c for c in compiled}
    assert set(by_language) == set(source_catalogs(ROOT))
    spanish = by_language["es"]
    assert spanish.path == tmp_path / "es" / "LC_MESSAGES" / "messages.mo" and spanish.path.exists()
    assert spanish.translated == spanish.total > 0


def test_compile_refuses_a_translation_whose_placeholders_differ(tmp_path):
    root = project_copy(tmp_path)
    write_catalog(root / "locales/fr/LC_MESSAGES/messages.po", "fr", {
        ("utter_balance_due", "Your balance with {creditor} is {balance}. It has been past due since "
                              "{due_since}."): "Votre solde auprès de {créancier} est de {balance}.",
    })
    with pytest.raises(CatalogError, match="créancier"):
        compile_catalogs(root)
    assert not (root / "locales/fr/LC_MESSAGES/messages.mo").exists()


@pytest.mark.parametrize(
    "po_text, problem",
    [
        # Babel's own parser would read these as "Salu" and "alu" without a word.
        ('msgctxt "utter_greet"\nmsgid "Hi! How can I help you today?"\nmsgstr "Salut\n', "line 3"),
        ('msgctxt "utter_greet"\nmsgid "Hi! How can I help you today?"\nmsgstr Salut\n', "line 3"),
        # A misspelt keyword.
        ('msgctxt "utter_greet"\nmsgid "Hi! How can I help you today?"\nmsgtr "Salut"\n', "line 3"),
        # The same message twice: the last would silently win.
        ('msgctxt "utter_thank"\nmsgid "Thanks"\nmsgstr "Merci"\n\n'
         'msgctxt "utter_thank"\nmsgid "Thanks"\nmsgstr "Merci bien"\n', "already on line 1"),
    ],
)
def test_compile_refuses_a_catalog_with_a_syntax_error(tmp_path, po_text, problem):
    root = project_copy(tmp_path)
    broken = root / "locales/fr/LC_MESSAGES/messages.po"
    broken.parent.mkdir(parents=True)
    broken.write_text(po_text, encoding="utf-8")
    with pytest.raises(CatalogError, match=problem):
        compile_catalogs(root)


def test_a_catalog_that_was_never_compiled_stops_startup(tmp_path):
    root = project_copy(tmp_path, with_spanish=True)
    with pytest.raises(CatalogError, match="not compiled"):
        Catalogs(root)
    compile_catalogs(root)
    assert Catalogs(root).languages == ["en", "es"]


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "channel, context",
    [
        ("sms", "utter_session_greeting|sms"),  # its own variation
        ("whatsapp", "utter_session_greeting|whatsapp"),  # its own variation
        ("socketio", "utter_session_greeting"),  # no variation for web chat: the default
        ("collector", "utter_session_greeting"),  # Rasa's REST channel: the default
        (None, "utter_session_greeting"),  # no channel at all: the default
    ],
)
def test_render_picks_the_channel_variation(catalogs, channel, context):
    english = next(m.text for m in source_messages(DOMAIN) if m.context == context)
    assert catalogs.render("utter_session_greeting", "en", channel, {})["text"] == english
    spanish = catalogs.render("utter_session_greeting", "es", channel, {})["text"]
    assert spanish == catalogs.translate("es", context, english) and spanish != english


def test_render_translates_text_and_button_titles_and_keeps_payloads(catalogs):
    english = catalogs.render("utter_greet", "en", "socketio", {})
    spanish = catalogs.render("utter_greet", "es", "socketio", {})
    assert spanish["text"] != english["text"]
    assert [b["payload"] for b in spanish["buttons"]] == [b["payload"] for b in english["buttons"]]
    assert all(s["title"] != e["title"] for s, e in zip(spanish["buttons"], english["buttons"]))


def test_render_fills_arguments_then_slots_and_ignores_rasas_own_message_keys(catalogs):
    arguments = {  # what rasa_sdk's utter_message sends, plus the action's keyword arguments
        "text": None, "buttons": [], "elements": [], "custom": {}, "template": "utter_balance_due",
        "image": None, "attachment": None, "creditor": "Northwind Market", "balance": "$1,234.50",
    }
    slots = {"due_since": "Mar 4, 2026", "creditor": "not this one", "language": "en"}
    body = catalogs.render("utter_balance_due", "en", "sms", arguments, slots=slots)
    assert body["text"] == ("Your balance with Northwind Market is $1,234.50. "
                            "It has been past due since Mar 4, 2026.")
    assert body["buttons"] == [] and body["elements"] == [] and body["custom"] == {}


def test_a_placeholder_without_a_value_is_an_error_naming_it(catalogs):
    with pytest.raises(MissingArgumentError) as raised:
        catalogs.render("utter_balance_due", "es", "sms", {"creditor": "Northwind Market"})
    assert raised.value.missing == ["balance", "due_since"]
    assert "{balance}" in str(raised.value) and "utter_balance_due" in str(raised.value)


def test_an_unknown_response_is_a_key_error(catalogs):
    with pytest.raises(KeyError):
        catalogs.render("utter_no_such_response", "en", None, {})
    with pytest.raises(UnknownResponseError, match="utter_no_such_response"):
        catalogs.render("utter_no_such_response", "es", None, {})


@pytest.mark.parametrize("language", ["en", "es", "es_US", None, "xx"])
def test_every_response_renders_to_a_valid_nlg_body(catalogs, language):
    # Rasa rejects a null text; buttons must be a list (Rasa extends it with the action's buttons).
    for name in catalogs.response_names:
        for variation in catalogs.variations(name):
            arguments = every_argument(str(variation.get("text", "")))
            for button in variation.get("buttons") or []:
                arguments.update(every_argument(button["title"]))
            body = catalogs.render(name, language, variation.get("channel"), arguments)
            assert set(body) == {"text", "buttons", "image", "elements", "attachment", "custom"}
            assert isinstance(body["text"], str) and "{" not in body["text"], (name, body)
            assert isinstance(body["buttons"], list) and isinstance(body["custom"], dict)
            assert CallbackNaturalLanguageGenerator.validate_response(body)  # Rasa's schema of an NLG reply


def test_language_codes_are_normalized(catalogs):
    spanish = catalogs.render("utter_thank", "es", None, {})["text"]
    assert catalogs.render("utter_thank", "es_US", None, {})["text"] == spanish
    assert catalogs.render("utter_thank", "ES-us", None, {})["text"] == spanish
    assert catalogs.locale_for("es") == "es_US" and catalogs.locale_for("en") == "en_US"


def test_conditional_variations_follow_rasas_order(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "domain.yml").write_text(
        "responses:\n"
        "  utter_hello:\n"
        "    - text: plain\n"
        "    - text: plain sms\n"
        "      channel: sms\n"
        "    - text: verified\n"
        "      condition:\n"
        "        - type: slot\n"
        "          name: verified\n"
        "          value: true\n"
        "    - text: verified sms\n"
        "      channel: sms\n"
        "      condition:\n"
        "        - type: slot\n"
        "          name: verified\n"
        "          value: true\n",
        encoding="utf-8",
    )
    catalogs = Catalogs(root)
    render = lambda channel, verified: catalogs.render(  # noqa: E731
        "utter_hello", "en", channel, {}, slots={"verified": verified})["text"]
    assert render("sms", True) == "verified sms"
    assert render("sms", False) == "plain sms"
    assert render("socketio", True) == "verified"
    assert render("socketio", False) == "plain"


# ---------------------------------------------------------------------------------------------
# Fallbacks: a new language is only a catalog
# ---------------------------------------------------------------------------------------------


def test_a_partial_catalog_for_a_new_language_falls_back_to_english_per_message(tmp_path, caplog):
    root = project_copy(tmp_path)
    write_catalog(root / "locales/fr/LC_MESSAGES/messages.po", "fr", {
        ("utter_greet", "Hi! How can I help you today?"): "Bonjour ! Comment puis-je vous aider ?",
        ("utter_greet|button", "What do I owe?"): "Combien est-ce que je dois ?",
        # Fuzzy entries are not compiled: they fall back like missing ones.
        ("utter_greet|button", "Who is it owed to?"): "À qui est-ce dû ?",
        ("ui|webchat", "Send"): "Envoyer",
        ("ui|payment_purpose", "Payment in full"): "Paiement intégral",
    }, fuzzy={("utter_greet|button", "Who is it owed to?")})
    compile_catalogs(root)
    catalogs = Catalogs(root)
    assert catalogs.languages == ["en", "fr"]

    with caplog.at_level(logging.WARNING, logger="bot.translations"):
        for _ in range(3):
            body = catalogs.render("utter_greet", "fr", "socketio", {})
    assert body["text"] == "Bonjour ! Comment puis-je vous aider ?"
    assert [b["title"] for b in body["buttons"]] == [
        "Combien est-ce que je dois ?", "What is it for?", "Who is it owed to?"]
    missing = [r.getMessage() for r in caplog.records if "No fr translation" in r.getMessage()]
    assert len(missing) == 2, missing  # once per missing message, not once per render
    assert any("What is it for?" in m for m in missing) and any("Who is it owed to?" in m for m in missing)

    # The web pages read the same catalog: what it has in French, the rest in English.
    chat_page = webchat_strings("fr-FR", catalogs)
    assert chat_page["send"] == "Envoyer" and chat_page["placeholder"] == "Type a message…"
    labels = purpose_labels("fr", catalogs)
    assert labels["full"] == "Paiement intégral" and labels["partial"] == "Partial payment"


def test_a_new_catalog_is_all_a_language_needs_to_be_spoken_and_formatted(tmp_path):
    from bot.domain.money import Money
    from bot.i18n import format_money, locale_for
    from bot.translations import available_languages

    root = project_copy(tmp_path, with_spanish=True)
    write_catalog(root / "locales/fr/LC_MESSAGES/messages.po", "fr", {
        ("utter_greet", "Hi! How can I help you today?"): "Bonjour ! Comment puis-je vous aider ?"})
    # The session accepts it from a placement, and Babel formats for it, with no code change.
    assert available_languages(root) == ["en", "es", "fr"]
    assert locale_for("fr") == "fr"
    assert format_money(Money(65235, "USD"), locale_for("fr")) == "652,35\u00a0$US"
    assert locale_for("xx") == "en_US"  # not a language Babel knows: English


def test_a_language_without_a_catalog_answers_in_english_and_warns_once(catalogs, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.translations"):
        for _ in range(2):
            body = catalogs.render("utter_thank", "de", None, {})
    assert body["text"] == "You're welcome. I'm glad to help."
    assert len([r for r in caplog.records if "'de'" in r.getMessage()]) == 1


def test_a_stale_mo_with_wrong_placeholders_falls_back_to_english(tmp_path):
    # compile_catalogs refuses this catalog; a .mo made some other way must still not break.
    root = project_copy(tmp_path)
    english = "Interest and fees added: {amount}."
    catalog = Catalog(locale="fr")
    catalog.add(english, "Intérêts et frais : {montant}.", context="utter_interest_and_fees")
    mo_path = root / "locales/fr/LC_MESSAGES/messages.mo"
    mo_path.parent.mkdir(parents=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    mo_path.write_bytes(buffer.getvalue())
    body = Catalogs(root).render("utter_interest_and_fees", "fr", None, {"amount": "12,00 $"})
    assert body["text"] == "Interest and fees added: 12,00 $."


# ---------------------------------------------------------------------------------------------
# The command (python -m bot translations)
# ---------------------------------------------------------------------------------------------


def test_translations_command_extracts_updates_compiles_and_is_idempotent(tmp_path, capsys):
    root = project_copy(tmp_path, with_spanish=True)
    assert translations_cli.main(["--root", str(root), "--add", "fr"]) == 0
    pot = root / "locales/messages.pot"
    spanish = root / "locales/es/LC_MESSAGES/messages.po"
    french = root / "locales/fr/LC_MESSAGES/messages.po"
    for path in (pot, spanish, french, root / "locales/es/LC_MESSAGES/messages.mo",
                 root / "locales/fr/LC_MESSAGES/messages.mo"):
        assert path.exists(), path
    assert Catalogs(root).languages == ["en", "es", "fr"]
    # The Spanish translations survive the update untouched.
    with open(spanish, "rb") as new, open(ROOT / "locales/es/LC_MESSAGES/messages.po", "rb") as old:
        updated = {(m.context, m.id): m.string for m in read_po(new) if m.id}
        checked_in = {(m.context, m.id): m.string for m in read_po(old) if m.id}
    assert updated and all(updated[key] == checked_in[key] for key in set(updated) & set(checked_in))

    before = {path: path.read_bytes() for path in (pot, spanish, french)}
    assert translations_cli.main(["--root", str(root)]) == 0
    assert {path: path.read_bytes() for path in before} == before  # a rerun changes nothing
    assert "fr: 0/" in capsys.readouterr().out


def test_translations_command_rejects_english_as_a_new_language(tmp_path):
    assert translations_cli.main(["--root", str(project_copy(tmp_path)), "--add", "en"]) == 2
