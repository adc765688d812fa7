"""POST /nlg as Rasa 3.6 calls it: request bodies built by Rasa's own code, responses checked by it.

The app is served on a loopback port and called with aiohttp (what Rasa's EndpointConfig uses),
so the round trip through ``CallbackNaturalLanguageGenerator.generate`` is the one Rasa makes.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import socket
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator, nlg_request_format
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig
from sanic import Sanic

from bot.translations import Catalogs, compile_catalogs
from bot.web.nlg import nlg_blueprint

ROOT = Path(__file__).resolve().parents[2]
_app_numbers = itertools.count()

# Several Sanic apps in one process (one per test here) need Sanic's test mode, set before the
# first app starts: otherwise the second app's startup fails inside Sanic's "touchup" (KeyError
# 'handle_exception'). sanic-testing does the same on import. Set at collection time, so it holds
# for every app of the session; belongs in tests/conftest.py once there is one.
Sanic.test_mode = True


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


def nlg_body(response: str, tracker_: DialogueStateTracker, channel: str, **kwargs: Any) -> Dict[str, Any]:
    """The exact JSON Rasa posts (rasa.core.nlg.callback.nlg_request_format)."""
    return json.loads(json.dumps(nlg_request_format(response, tracker_, channel, response_id=None, **kwargs)))


@asynccontextmanager
async def serving(catalogs: Catalogs, token: Optional[str] = None) -> AsyncIterator[str]:
    """A tiny Sanic app with the blueprint, on a free loopback port; yields the /nlg URL."""
    app = Sanic(f"nlg_test_{next(_app_numbers)}")
    app.blueprint(nlg_blueprint(catalogs, token=token))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Sanic 21.12's create_server already starts listening; startup() finalizes the routes.
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}/nlg"
    finally:
        # Sanic's own shutdown order: stop listening, close idle keep-alive connections, wait.
        await server.before_stop()
        server.close()
        for connection in list(server.connections):
            connection.close_if_idle()
        for _ in range(50):  # at most 5 s, as Sanic's graceful shutdown would
            if not server.connections:
                break
            await asyncio.sleep(0.1)
        for connection in list(server.connections):
            connection.abort()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


async def post_raw(url: str, data: bytes) -> tuple:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as reply:
            return reply.status, await reply.json()


async def generate(url: str, response: str, tracker_: DialogueStateTracker, channel: str, **kwargs: Any):
    """Rasa's own NLG client: posts the request and validates the reply against its schema."""
    generator = CallbackNaturalLanguageGenerator(EndpointConfig(url=url))
    return await generator.generate(response, tracker_, channel, **kwargs)


# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_custom_action_response_in_spanish(catalogs, domain):
    async with serving(catalogs) as url:
        body = await generate(url, "utter_balance_due", tracker(domain, "es"), "sms",
                              **action_message("utter_balance_due", creditor="Northwind Market",
                                               balance="US$1,234.50", due_since="4 mar 2026"))
    assert body["text"] == ("Su saldo con Northwind Market es de US$1,234.50. "
                            "Está vencido desde el 4 mar 2026.")
    assert body["buttons"] == [] and body["custom"] == {} and body["elements"] == []


@pytest.mark.asyncio
async def test_custom_action_response_in_english(catalogs, domain):
    async with serving(catalogs) as url:
        body = await generate(url, "utter_balance_clear", tracker(domain, "en"), "socketio",
                              **action_message("utter_balance_clear", creditor="Northwind Market",
                                               balance="$0.00"))
    assert body["text"] == "Your balance with Northwind Market is $0.00. Nothing is due right now."


@pytest.mark.asyncio
async def test_template_response_with_buttons_in_spanish(catalogs, domain):
    # Rules and stories utter responses directly: Rasa sends no arguments at all.
    async with serving(catalogs) as url:
        body = await generate(url, "utter_greet", tracker(domain, "es"), "socketio")
    assert body["text"] == "¡Hola! ¿En qué le puedo ayudar hoy?"
    assert [b["payload"] for b in body["buttons"]] == ["/ask_balance", "/ask_balance_details", "/ask_creditor"]
    assert body["buttons"][0]["title"] == "¿Cuánto debo?"


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
    async with serving(catalogs) as url:
        body = await generate(url, "utter_session_greeting", tracker(domain, language), channel)
    assert expected in body["text"]


@pytest.mark.asyncio
async def test_no_language_slot_means_english(catalogs, domain):
    async with serving(catalogs) as url:
        status, body = await post_raw(url, json.dumps(
            {"response": "utter_thank", "id": None, "arguments": {}, "tracker": {"slots": {}},
             "channel": {"name": "rest"}}).encode())
    assert status == 200 and body["text"] == "You're welcome. I'm glad to help."


@pytest.mark.asyncio
async def test_language_argument_overrides_the_slot_for_a_language_switch(catalogs, domain):
    # action_change_language utters before Rasa applies its SlotSet, so it names the new language.
    async with serving(catalogs) as url:
        body = await generate(url, "utter_language_changed", tracker(domain, "en"), "sms",
                              **action_message("utter_language_changed", language="es"))
    assert body["text"] == "Claro, sigamos en español."


@pytest.mark.asyncio
async def test_placeholders_fall_back_to_tracker_slots(tmp_path, domain):
    # A template response (no arguments) whose placeholder is a slot, as forms' utter_ask_* may be.
    (tmp_path / "domain.yml").write_text(
        'responses:\n  utter_ask_confirm_account:\n    - text: "Is {active_account} your account?"\n',
        encoding="utf-8")
    async with serving(Catalogs(tmp_path)) as url:
        body = await generate(url, "utter_ask_confirm_account",
                              tracker(domain, "en", active_account="NW-1042"), "socketio")
    assert body["text"] == "Is NW-1042 your account?"


@pytest.mark.asyncio
async def test_every_response_passes_rasas_validation_in_every_language(catalogs, domain):
    async with serving(catalogs) as url:
        async with aiohttp.ClientSession() as session:
            for language in catalogs.languages:
                for name in catalogs.response_names:
                    for variation in catalogs.variations(name):
                        texts = [str(variation.get("text", ""))] + [
                            b["title"] for b in variation.get("buttons") or []]
                        arguments = {n: f"<{n}>" for t in texts for n in _names(t)}
                        request = nlg_body(name, tracker(domain, language), variation.get("channel") or "socketio",
                                           **action_message(name, **arguments))
                        async with session.post(url, json=request) as reply:
                            assert reply.status == 200, (name, language, await reply.text())
                            body = await reply.json()
                        assert CallbackNaturalLanguageGenerator.validate_response(body)
                        assert body["text"] and "{" not in body["text"], (name, language, body)


def _names(text: str) -> List[str]:
    import re

    return re.findall(r"\{([^\n{}]+?)\}", text)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "data, message",
    [
        (b"{not json", "not valid JSON"),  # malformed JSON
        (b"", "not valid JSON"),  # empty body
        (b"[]", "JSON object"),  # JSON, but not an object
        (json.dumps({"arguments": {}, "tracker": {}, "channel": {"name": "sms"}}).encode(), "`response`"),
        (json.dumps({"response": "", "tracker": {}}).encode(), "`response`"),  # empty name
        (json.dumps({"response": "utter_greet", "arguments": ["x"]}).encode(), "`arguments`"),
        (json.dumps({"response": "utter_greet", "tracker": {"slots": []}}).encode(), "tracker.slots"),
    ],
)
async def test_bad_requests_get_400_with_a_clear_message(catalogs, data, message):
    async with serving(catalogs) as url:
        status, body = await post_raw(url, data)
    assert status == 400 and body["error"] == "bad_request" and message in body["message"], body


@pytest.mark.asyncio
async def test_unknown_response_gets_404(catalogs, domain):
    async with serving(catalogs) as url:
        status, body = await post_raw(url, json.dumps(nlg_body("utter_nope", tracker(domain), "sms")).encode())
        with pytest.raises(ClientResponseError) as raised:  # and Rasa's client raises, so Rasa logs it
            await generate(url, "utter_nope", tracker(domain), "sms")
    assert status == 404 and body["error"] == "unknown_response" and "utter_nope" in body["message"]
    assert raised.value.status == 404


@pytest.mark.asyncio
async def test_missing_argument_gets_422_naming_the_placeholders(catalogs, domain):
    async with serving(catalogs) as url:
        status, body = await post_raw(url, json.dumps(nlg_body(
            "utter_balance_due", tracker(domain, "es"), "sms",
            **action_message("utter_balance_due", creditor="Northwind Market"))).encode())
    assert status == 422 and body["error"] == "missing_argument"
    assert body["missing"] == ["balance", "due_since"] and body["response"] == "utter_balance_due"


@pytest.mark.asyncio
async def test_token_when_configured(catalogs, domain):
    async with serving(catalogs, token="s3cret") as url:
        request = json.dumps(nlg_body("utter_thank", tracker(domain), "sms")).encode()
        status, _ = await post_raw(url, request)
        wrong, _ = await post_raw(url + "?token=nope", request)
        status_ok, body = await post_raw(url + "?token=s3cret", request)
        # Rasa's own client sends endpoints.yml's `token:` as that query parameter.
        generator = CallbackNaturalLanguageGenerator(EndpointConfig(url=url, token="s3cret"))
        via_rasa = await generator.generate("utter_thank", tracker(domain), "sms")
    assert (status, wrong, status_ok) == (401, 401, 200)
    assert body["text"] == via_rasa["text"] == "You're welcome. I'm glad to help."
