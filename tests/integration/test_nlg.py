"""The response generator inside Rasa: called as Rasa 3.6 calls it, its replies checked against Rasa's schema."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.core.actions.action import ActionBotResponse
from rasa.core.channels.channel import OutputChannel
from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.adapters.nlg import CatalogNLG
from bot.translations import Catalogs, compile_catalogs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalogs(tmp_path_factory) -> Catalogs:
    compiled = tmp_path_factory.mktemp("compiled_locales")
    compile_catalogs(ROOT, output_dir=compiled)
    return Catalogs(ROOT, compiled_dir=compiled)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def tracker(domain: Domain, language: Optional[str] = "en", **slots: Any) -> DialogueStateTracker:
    events: List[Any] = [ActionExecuted("action_listen"),
                         UserUttered("hola", {"name": "greet", "confidence": 1.0})]
    if language is not None:
        events.append(SlotSet("language", language))
    events += [SlotSet(name, value) for name, value in slots.items()]
    return DialogueStateTracker.from_events("+14155550100", events, slots=domain.slots)


def action_message(response: str, **kwargs: Any) -> Dict[str, Any]:
    """What rasa_sdk's dispatcher.utter_message(response=..., **kwargs) sends, less `response`
    (RemoteAction._utter_responses pops it and passes the rest to the NLG as keyword arguments)."""
    message = {"text": None, "buttons": [], "elements": [], "custom": {}, "template": response,
               "image": None, "attachment": None}
    message.update(kwargs)
    return message


class Channel(OutputChannel):
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


async def generate(catalogs: Catalogs, response: str, tracker_: DialogueStateTracker, channel: str, **kwargs: Any):
    """What Rasa's RemoteAction does with a custom action's response: pop `response`, pass the rest."""
    body = await CatalogNLG(catalogs=catalogs).generate(response, tracker_, channel, **kwargs)
    assert CallbackNaturalLanguageGenerator.validate_response(body)  # Rasa's schema of an NLG reply
    return body


async def utter(catalogs: Catalogs, domain: Domain, response: str, tracker_: DialogueStateTracker, channel: str):
    """A response uttered by a rule or story: Rasa's own ActionBotResponse calls the generator."""
    events = await ActionBotResponse(response).run(Channel(channel), CatalogNLG(catalogs=catalogs), tracker_, domain)
    return events[0] if events else None


# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_custom_action_response_in_spanish(catalogs, domain):
    body = await generate(catalogs, "utter_balance_due", tracker(domain, "es"), "sms",
                          **action_message("utter_balance_due", creditor="Northwind Market",
                                           balance="US$1,234.50", due_since="4 mar 2026"))
    assert body["text"] == ("Su saldo con Northwind Market es de US$1,234.50. "
                            "Está vencido desde el 4 mar 2026.")
    assert body["buttons"] == [] and body["custom"] == {} and body["elements"] == []


@pytest.mark.asyncio
async def test_custom_action_response_in_english(catalogs, domain):
    body = await generate(catalogs, "utter_balance_clear", tracker(domain, "en"), "socketio",
                          **action_message("utter_balance_clear", creditor="Northwind Market",
                                           balance="$0.00"))
    assert body["text"] == "Your balance with Northwind Market is $0.00. Nothing is due right now."


@pytest.mark.asyncio
async def test_template_response_with_buttons_in_spanish(catalogs, domain):
    # Rules and stories utter responses directly: Rasa's ActionBotResponse passes no arguments.
    event = await utter(catalogs, domain, "utter_greet", tracker(domain, "es"), "socketio")
    assert isinstance(event, BotUttered) and event.text == "¡Hola! ¿En qué le puedo ayudar hoy?"
    buttons = event.data["buttons"]
    assert [b["payload"] for b in buttons] == ["/ask_balance", "/ask_balance_details", "/ask_creditor"]
    assert buttons[0]["title"] == "¿Cuánto debo?"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "channel, language, expected",
    [
        ("sms", "es", "Responda STOP (o ALTO) para dejar de recibir mensajes de texto en este número."),
        ("whatsapp", "es", "Responda STOP (o ALTO) para dejar de recibir mensajes en este número."),
        ("socketio", "es", "Escriba STOP (o ALTO) en cualquier momento"),  # web chat: default variation
        ("collector", "en", "Type STOP at any time"),  # Rasa's REST channel: default variation
        ("sms", "en", "Reply STOP to stop texts to this number."),
    ],
)
async def test_channel_variation(catalogs, domain, channel, language, expected):
    body = await generate(catalogs, "utter_session_greeting", tracker(domain, language), channel)
    assert expected in body["text"]


@pytest.mark.asyncio
async def test_no_language_slot_means_english(catalogs, domain):
    event = await utter(catalogs, domain, "utter_thank", tracker(domain, language=None), "collector")
    assert event.text == "You're welcome. I'm glad to help."


@pytest.mark.asyncio
async def test_language_argument_overrides_the_slot_for_a_language_switch(catalogs, domain):
    # action_change_language utters before Rasa applies its SlotSet, so it names the new language.
    body = await generate(catalogs, "utter_language_changed", tracker(domain, "en"), "sms",
                          **action_message("utter_language_changed", language="es"))
    assert body["text"] == "Claro, sigamos en español."


@pytest.mark.asyncio
async def test_placeholders_fall_back_to_tracker_slots(tmp_path, domain):
    # A template response (no arguments) whose placeholder is a slot, as forms' utter_ask_* may be.
    (tmp_path / "domain.yml").write_text(
        'responses:\n  utter_ask_confirm_account:\n    - text: "Is {active_account} your account?"\n',
        encoding="utf-8")
    body = await generate(Catalogs(tmp_path), "utter_ask_confirm_account",
                          tracker(domain, "en", active_account="NW-1042"), "socketio")
    assert body["text"] == "Is NW-1042 your account?"


# ---------------------------------------------------------------------------------------------
# Errors: logged with names only, the message left out, the turn goes on
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_unknown_response_is_logged_and_left_out(catalogs, domain, caplog):
    with caplog.at_level(logging.ERROR, logger="bot.adapters.nlg"):
        event = await utter(catalogs, domain, "utter_nope", tracker(domain), "sms")
    assert event is None
    assert "utter_nope" in caplog.text


@pytest.mark.asyncio
async def test_a_missing_argument_is_logged_by_name_without_the_values(catalogs, domain, caplog):
    with caplog.at_level(logging.ERROR, logger="bot.adapters.nlg"):
        body = await CatalogNLG(catalogs=catalogs).generate(
            "utter_balance_due", tracker(domain, "es"), "sms",
            **action_message("utter_balance_due", creditor="Northwind Market"))
    assert body is None
    assert "balance" in caplog.text and "due_since" in caplog.text
    assert "Northwind" not in caplog.text
