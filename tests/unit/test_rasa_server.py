"""Rasa started through bot.rasa_server: action server replies are checked as strictly, without the rework."""
from __future__ import annotations

import asyncio
import copy
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from contextlib import asynccontextmanager
from pathlib import Path
from typing import List

import aiohttp
import jsonschema
import numpy as np
import pytest
import scipy.sparse
import structlog
import rasa.core.actions.action
import rasa.core.processor
import rasa.core.run
import sanic.app
import rasa.shared.utils.common
from aiohttp import web
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa.utils.tensorflow.data_generator import RasaDataGenerator
from rasa.utils.tensorflow.models import RasaModel
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.nlu.training_data.features import Features

from bot import dialogue_states, rasa_server
from bot.adapters.nlg import CatalogNLG
from bot.rasa_fixes import action_calls, policies, sanic_workers, tensorflow_models
from bot.translations import Catalogs, compile_catalogs

ROOT = Path(__file__).resolve().parents[2]
TRY_AGAIN_TEXT = ("Sorry, something went wrong on our side and I can't continue our conversation right now. "
                  "Please try again in a minute.")

VALID = {"events": [{"event": "slot", "name": "language", "value": "es"}],
         "responses": [{"response": "utter_greet"}]}


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(Event, "resolve_by_type", Event.__dict__["resolve_by_type"])
    monkeypatch.setattr(RemoteAction, "run", RemoteAction.run)
    monkeypatch.setattr(rasa.core.actions.action, "DEFAULT_REQUEST_TIMEOUT", rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT)
    monkeypatch.setattr(RasaDataGenerator, "_scipy_matrix_to_values", RasaDataGenerator.__dict__["_scipy_matrix_to_values"])
    monkeypatch.setattr(RasaModel, "load", RasaModel.__dict__["load"])
    monkeypatch.setattr(Features, "_combine_sparse_features", Features.__dict__["_combine_sparse_features"])
    monkeypatch.setattr(AvailableEndpoints, "__init__", AvailableEndpoints.__init__)
    monkeypatch.setattr(rasa.core.run, "close_resources", rasa.core.run.close_resources)
    monkeypatch.setattr(MemoizationPolicy, "predict_action_probabilities",
                        MemoizationPolicy.predict_action_probabilities)
    monkeypatch.setattr(sanic.app, "serve_multiple", sanic.app.serve_multiple)
    monkeypatch.setattr(RulePolicy, "format_tracker_states", Policy.__dict__["format_tracker_states"])
    monkeypatch.setattr(Domain, "states_for_tracker_history", Domain.__dict__["states_for_tracker_history"])
    monkeypatch.setattr(RasaModel, "_rasa_predict", RasaModel._rasa_predict)
    monkeypatch.setattr(rasa.core.processor, "DaskGraphRunner", rasa.core.processor.DaskGraphRunner)
    rasa_server.install()
    return RemoteAction("action_balance", None)


def test_a_valid_reply_passes_without_rechecking_the_schema(installed, monkeypatch):
    action_calls.action_result_validator()  # built, and its schema checked, once per process
    calls = []
    monkeypatch.setattr(jsonschema.validators.Draft202012Validator, "check_schema",
                        classmethod(lambda cls, schema: calls.append(schema)))
    assert installed._validate_action_result(VALID) is True
    assert installed._validate_action_result({"events": [], "responses": []}) is True
    assert calls == []


@pytest.mark.parametrize("reply", [
    {"events": [{"event": "slot", "value": "es"}]},  # a slot event without the slot's name
    {"events": "not a list"},
    {"responses": [42]},
])
def test_an_invalid_reply_fails_with_rasas_own_error(installed, reply):
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        installed._validate_action_result(reply)


def replies_of_every_kind():
    from rasa.shared.core import events as e

    every_type = [e.UserUttered("hola", {"name": "greet", "confidence": 1.0}, [{"entity": "zip_code", "value": "94110"}]),
                  e.ActionExecuted("action_listen"), e.SlotSet("language", "es"),
                  e.EntitiesAdded([{"entity": "amount", "value": "20"}]), e.ReminderCancelled("r"),
                  e.ActionExecutionRejected("action_pay"), e.LoopInterrupted(True), e.ActiveLoop("payment_form"),
                  e.AllSlotsReset(), e.ConversationResumed(), e.ConversationPaused(), e.FollowupAction("action_pay"),
                  e.StoryExported(), e.Restarted(), e.UserUtteranceReverted(), e.ActionReverted(),
                  e.BotUttered("hi", {"buttons": []}), e.SessionStarted(), e.AgentUttered("hello")]
    valid = [event.as_dict() for event in every_type]
    invalid = [{"event": "nope"}, {"event": "slot", "value": 1}, {"event": "action"}, {"name": "greet"},
               {"event": "user", "parse_data": "not an object"}, {"event": "active_loop", "name": 3},
               {"event": "slot", "name": "language", "timestamp": "yesterday"}, "not an event", 42]
    replies = [{"events": valid, "responses": [{"response": "utter_greet"}]}, {}, {"events": []}]
    replies += [{"events": [*valid[:3], bad]} for bad in invalid]
    replies += [{"events": valid, "responses": "not a list"}, {"events": None}, []]
    return replies


def test_checking_each_event_against_its_own_type_decides_every_reply_as_the_whole_schema_does():
    schema = RemoteAction.action_response_format_spec()
    whole = jsonschema.validators.validator_for(schema)(schema)
    ours = action_calls.ActionResultValidator(schema)
    decisions = [(ours.is_valid(reply), whole.is_valid(reply)) for reply in replies_of_every_kind()]
    assert [mine for mine, _ in decisions] == [theirs for _, theirs in decisions]
    assert {theirs for _, theirs in decisions} == {True, False}


def test_stored_events_come_back_as_the_same_events(installed, monkeypatch):
    events = [ActionExecuted("action_listen"), UserUttered("hola", {"name": "greet", "confidence": 1.0}),
              SlotSet("language", "es")]
    assert [Event.from_parameters(event.as_dict()) for event in events] == events
    walks = []
    monkeypatch.setattr(rasa.shared.utils.common, "all_subclasses", lambda cls: walks.append(cls) or [])
    assert Event.resolve_by_type("slot") is SlotSet  # remembered: no walk over Event's subclasses
    assert walks == []


def test_unknown_event_types_behave_as_in_rasa(installed):
    with pytest.raises(ValueError, match="Unknown event name 'nope'"):
        Event.resolve_by_type("nope")
    assert Event.resolve_by_type("nope", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None


# --- the action server down, failing or slow: the consumer hears so ---------------------------------


@pytest.fixture(scope="module")
def nlg(tmp_path_factory):
    compiled = tmp_path_factory.mktemp("compiled_locales")
    compile_catalogs(ROOT, output_dir=compiled)
    return CatalogNLG(catalogs=Catalogs(ROOT, compiled_dir=compiled))


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(ROOT / "domain.yml"))


@asynccontextmanager
async def action_server(handler, keepalive_timeout: float = 75.0):
    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app, keepalive_timeout=keepalive_timeout)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        await runner.cleanup()


async def run_action(url_or_endpoint, nlg, domain):
    endpoint = url_or_endpoint if isinstance(url_or_endpoint, EndpointConfig) else EndpointConfig(url_or_endpoint)
    tracker = DialogueStateTracker.from_events("+14155550101", [ActionExecuted("action_listen")], domain.slots)
    return await RemoteAction("action_balance", endpoint).run(CollectingOutputChannel(), nlg, tracker, domain)


def action_endpoint_from_file(url: str, folder: Path) -> EndpointConfig:
    endpoints_file = folder / "endpoints.yml"
    endpoints_file.write_text(f"action_endpoint:\n  url: {url}\n  enable_selective_domain: true\n")
    return AvailableEndpoints.read_endpoints(str(endpoints_file)).action


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_an_action_server_that_is_down_gets_the_consumer_a_kind_try_again(installed, nlg, domain):
    events = await run_action(f"http://127.0.0.1:{closed_port()}/webhook", nlg, domain)
    assert [event.text for event in events] == [TRY_AGAIN_TEXT]


async def test_an_action_server_error_gets_the_consumer_a_kind_try_again(installed, nlg, domain):
    async def failing(request):
        return web.Response(status=500, text="Traceback ...")

    async with action_server(failing) as url:
        events = await run_action(url, nlg, domain)
    assert [event.text for event in events] == [TRY_AGAIN_TEXT]


async def test_a_slow_action_server_is_given_up_on_in_time(installed, nlg, domain, monkeypatch):
    monkeypatch.setattr(rasa.core.actions.action, "DEFAULT_REQUEST_TIMEOUT", 0.3)

    async def slow(request):
        await asyncio.sleep(5)
        return web.json_response({"events": [], "responses": []})

    async with action_server(slow) as url:
        events = await asyncio.wait_for(run_action(url, nlg, domain), timeout=4)
    assert [event.text for event in events] == [TRY_AGAIN_TEXT]


async def test_a_form_rejecting_its_slot_still_lets_another_policy_predict(installed, nlg, domain):
    async def rejecting(request):
        return web.json_response({"action_name": "action_balance", "error": "not now"}, status=400)

    async with action_server(rejecting) as url:
        with pytest.raises(ActionExecutionRejection):
            await run_action(url, nlg, domain)


async def test_a_working_action_server_is_answered_as_before(installed, nlg, domain):
    async def working(request):
        return web.json_response({"events": [{"event": "slot", "name": "language", "value": "es"}],
                                  "responses": [{"response": "utter_thank"}]})

    async with action_server(working) as url:
        events = await run_action(url, nlg, domain)
    assert [type(event).__name__ for event in events] == ["BotUttered", "SlotSet"]
    assert rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT == action_calls.ACTION_TIMEOUT_SECONDS


def memoization_policy(folder: Path, domain: Domain, stories: List[DialogueStateTracker]) -> MemoizationPolicy:
    return trained(MemoizationPolicy, {"max_history": 4}, folder, domain, stories)


def trained(policy_class: type, config: dict, folder: Path, domain: Domain, trackers: List[DialogueStateTracker],
            is_rule_tracker: bool = False):
    from rasa.shared.core.generator import TrackerWithCachedStates
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    policy = policy_class.create({**policy_class.get_default_config(), **config}, LocalModelStorage(folder),
                                 Resource(policy_class.__name__), ExecutionContext(GraphSchema({}), "test"))
    policy.train([TrackerWithCachedStates.from_events(tracker.sender_id, tracker.events, domain.slots, domain=domain,
                                                      is_rule_tracker=is_rule_tracker)
                  for tracker in trackers], domain)
    return policy


def greeted(domain: Domain, *then: Event) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("+14155550101", [
        ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet", "confidence": 0.9}), *then], domain.slots)


def test_a_memoization_policy_that_memorised_nothing_predicts_what_rasas_predicts_without_featurizing(
        installed, domain, tmp_path, monkeypatch):
    policy = memoization_policy(tmp_path, domain, [])
    for tracker in (greeted(domain), greeted(domain, ActionExecuted("utter_greet"))):
        rasas = policies._rasas_memoization_predict(policy, tracker, domain)
        with monkeypatch.context() as featurizing:
            featurizing.setattr(policy, "_prediction_states", lambda *args, **kwargs: pytest.fail("featurized"))
            ours = policy.predict_action_probabilities(tracker, domain)
        assert ours == rasas and max(ours.probabilities) == 0.0


def test_a_memoization_policy_with_stories_still_recalls_them(installed, domain, tmp_path):
    story = greeted(domain, ActionExecuted("utter_greet"), ActionExecuted("action_listen"))
    policy = memoization_policy(tmp_path, domain, [story])
    prediction = policy.predict_action_probabilities(greeted(domain), domain)
    assert prediction == policies._rasas_memoization_predict(policy, greeted(domain), domain)
    assert prediction.probabilities[domain.index_for_action("utter_greet")] == 1.0


def test_the_assistants_graph_is_valid_with_every_fix_installed(installed):
    from rasa.engine.recipes.recipe import Recipe
    from rasa.engine.validation import validate
    from rasa.shared.data import TrainingType
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(str(ROOT / "config.yml"), str(ROOT / "domain.yml"),
                                                     [str(ROOT / "data")])
    recipe = Recipe.recipe_for_name(importer.get_config().get("recipe"))
    config, _, _ = recipe.auto_configure(importer.get_config_file_for_auto_config(), importer.get_config(),
                                         TrainingType.BOTH)
    validate(recipe.graph_config_for_recipe(config, {}, training_type=TrainingType.BOTH))


def answering_thanks(peers):
    async def handler(request):
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": [{"response": "utter_thank"}]})
    return handler


async def test_calls_to_the_action_server_share_one_kept_alive_connection(installed, nlg, domain, tmp_path):
    peers = []
    async with action_server(answering_thanks(peers)) as url:
        endpoint = action_endpoint_from_file(url, tmp_path)
        assert endpoint.kwargs == {"enable_selective_domain": True}
        replies = [await run_action(endpoint, nlg, domain) for _ in range(3)]
        await endpoint.close()
    assert [[type(event).__name__ for event in events] for events in replies] == [["BotUttered"]] * 3
    assert len(peers) == 3 and len(set(peers)) == 1


async def test_a_connection_the_action_server_closed_while_idle_is_not_reused(installed, nlg, domain, tmp_path):
    peers = []
    async with action_server(answering_thanks(peers), keepalive_timeout=0.1) as url:
        endpoint = action_endpoint_from_file(url, tmp_path)
        first = await run_action(endpoint, nlg, domain)
        await asyncio.sleep(1.5)  # aiohttp's server checks idle connections at most once a second
        second = await run_action(endpoint, nlg, domain)
        await endpoint.close()
    assert [type(event).__name__ for event in first + second] == ["BotUttered", "BotUttered"]
    assert len(set(peers)) == 2


def feature_array(matrices, sparse_format):
    from rasa.utils.tensorflow.feature_array import FeatureArray

    examples = np.empty(len(matrices), dtype=object)
    for index, matrix in enumerate(matrices):
        examples[index] = scipy.sparse.coo_matrix(matrix).asformat(sparse_format)
    return FeatureArray(examples, number_of_dimensions=3)


@pytest.mark.parametrize("sparse_format", ["coo", "csr"])
def test_a_training_batch_gets_the_same_sparse_arrays_as_rasa_builds(sparse_format):
    random = np.random.default_rng(7)
    matrices = [(random.random((length, 40)) < 0.1) * random.random((length, 40))
                for length in (3, 1, 7, 5, 2)]
    batch = feature_array(matrices, sparse_format)
    ours = tensorflow_models.sparse_batch_values(batch)
    rasas = tensorflow_models._rasas_sparse_batch_values(batch)
    assert [a.dtype for a in ours] == [a.dtype for a in rasas] == [np.int64, np.float32, np.int64]
    for mine, theirs in zip(ours, rasas):
        np.testing.assert_array_equal(mine, theirs)
    assert ours[2].tolist() == [5, 7, 40]


def sparse_features(matrix, sparse_format="coo", origin="CountVectorsFeaturizer"):
    return Features(scipy.sparse.coo_matrix(matrix).asformat(sparse_format), "sequence", "text", origin)


@pytest.mark.parametrize("left_dtype, right_dtype", [(np.float64, np.float64), (np.int64, np.float32),
                                                     (np.float32, np.float32)])
def test_features_joined_side_by_side_are_the_matrix_rasa_builds(left_dtype, right_dtype):
    random = np.random.default_rng(11)
    left = ((random.random((6, 30)) < 0.2) * random.random((6, 30)) * 10).astype(left_dtype)
    right = ((random.random((6, 9)) < 0.3) * random.random((6, 9)) * 10).astype(right_dtype)
    ours, rasas = sparse_features(left), sparse_features(left)
    tensorflow_models.combine_sparse_side_by_side(ours, sparse_features(right))
    tensorflow_models._rasas_combine_sparse_features(rasas, sparse_features(right))
    assert ours.features.format == rasas.features.format == "coo"
    assert ours.features.shape == rasas.features.shape == (6, 39)
    assert ours.features.dtype == rasas.features.dtype
    for attribute in ("row", "col", "data"):
        mine, theirs = getattr(ours.features, attribute), getattr(rasas.features, attribute)
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
    assert ours.fingerprint() == rasas.fingerprint()


def test_features_that_cannot_be_joined_fail_or_fall_back_as_in_rasa(installed):
    mismatched = sparse_features(np.eye(3))
    with pytest.raises(ValueError, match="sequence dimensions do not match"):
        mismatched.combine_with_features(sparse_features(np.eye(4)))
    compressed = sparse_features(np.eye(3), "csr")
    compressed.combine_with_features(sparse_features(np.eye(3)))
    assert compressed.features.toarray().tolist() == np.hstack([np.eye(3), np.eye(3)]).tolist()


WORKERS_APP = """
import os, sys, time
from bot import rasa_server
rasa_server.install()
from sanic import Sanic, response
app = Sanic("workers")

@app.listener("before_server_start")
def load_the_model(*_):  # the first worker to start loads at once; the other takes argv[3] seconds
    try:
        os.close(os.open(sys.argv[2], os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        time.sleep(float(sys.argv[3]))

@app.get("/")
async def which_worker(_):
    return response.text(str(os.getpid()))

app.run(host="127.0.0.1", port=int(sys.argv[1]), workers=2, access_log=False)
"""


async def worker_answering(url: str) -> str:
    async with aiohttp.ClientSession() as fresh_connection:
        async with fresh_connection.get(url) as answer:
            return await answer.text()


def worker_pids(server: subprocess.Popen) -> List[int]:
    return [int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()]


def answered_by(connection: socket.socket) -> str:
    connection.sendall(b"GET / HTTP/1.1\r\nHost: workers\r\nConnection: close\r\n\r\n")
    answer = b""
    while chunk := connection.recv(4096):
        answer += chunk
    return answer.split(b"\r\n\r\n", 1)[1].decode()


@asynccontextmanager
async def two_workers_serving(slow_start_seconds: float = 0):
    """A Sanic app run with two workers through bot.rasa_server; yields the server process and its port.

    The second worker to start takes `slow_start_seconds` before serving, as a model loading.
    """
    port = closed_port()
    with tempfile.TemporaryDirectory() as folder:
        first_loaded = str(Path(folder) / "first-loaded")
        server = subprocess.Popen([sys.executable, "-c", WORKERS_APP, str(port), first_loaded, str(slow_start_seconds)],
                                  cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        async with serving(server, port):
            yield server, port


@asynccontextmanager
async def serving(server: subprocess.Popen, port: int):
    """Until the server's two workers run and one answers; kills the server after."""
    try:
        deadline = time.monotonic() + 60
        while len(worker_pids(server)) < 2 or not await answers(f"http://127.0.0.1:{port}/"):
            assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
            await asyncio.sleep(0.2)
        yield
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


async def answers(url: str) -> bool:
    try:
        await worker_answering(url)
        return True
    except aiohttp.ClientError:
        return False


async def test_a_burst_of_new_connections_is_spread_over_the_sanic_workers():
    async with two_workers_serving() as (server, port):
        workers = worker_pids(server)
        for pid in workers:  # the connections queue up while no worker runs, as in a burst under load
            os.kill(pid, signal.SIGSTOP)
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        pids = {answered_by(connection) for connection in connections}
        for connection in connections:
            connection.close()
        os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert pids == {str(pid) for pid in workers}  # all 24 on one worker by chance: one in eight million


async def test_a_worker_still_loading_takes_no_connection_while_another_answers():
    async with two_workers_serving(slow_start_seconds=120) as (_, port):
        # Fresh connections, which the kernel spreads over the listening sockets by their ports.
        answered = [await asyncio.wait_for(worker_answering(f"http://127.0.0.1:{port}/"), timeout=10)
                    for _ in range(24)]
    assert len(set(answered)) == 1  # the worker still loading would have held about half for 2 minutes


async def test_a_worker_that_stops_stops_the_server_so_it_can_be_started_again():
    async with two_workers_serving() as (server, _):
        killed, other = worker_pids(server)
        os.kill(killed, signal.SIGKILL)
        server.wait(timeout=30)
        assert not Path(f"/proc/{other}").exists()


def test_a_rule_policy_predicts_as_rasas_without_formatting_states_for_a_debug_line_not_written(
        installed, domain, tmp_path, monkeypatch, request):
    from rasa.shared.core.constants import RULE_SNIPPET_ACTION_NAME

    rule = DialogueStateTracker.from_events("rule", [
        ActionExecuted(RULE_SNIPPET_ACTION_NAME), ActionExecuted("action_listen"),
        UserUttered(intent={"name": "greet"}), ActionExecuted("utter_greet"), ActionExecuted("action_listen")],
        domain.slots)
    policy = trained(RulePolicy, {}, tmp_path, domain, [rule], is_rule_tracker=True)
    formatted = []
    monkeypatch.setattr(Policy, "format_tracker_states", staticmethod(lambda states: formatted.append(states) or ""))
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))  # as the server logs
    request.addfinalizer(structlog.reset_defaults)
    trackers = [greeted(domain), greeted(domain, ActionExecuted("utter_greet")),
                greeted(domain, SlotSet("verified", True))]
    ours = [policy.predict_action_probabilities(tracker, domain) for tracker in trackers]
    assert formatted == []
    with monkeypatch.context() as rasas:
        rasas.setattr(RulePolicy, "format_tracker_states", Policy.__dict__["format_tracker_states"])
        rasas.setattr(Domain, "states_for_tracker_history", dialogue_states._rasas_states_for_tracker_history)
        assert ours == [policy.predict_action_probabilities(tracker, domain) for tracker in trackers]
    assert formatted  # Rasa's own formats them every time
    assert ours[0].probabilities[domain.index_for_action("utter_greet")] == 1.0
    assert ours[1].probabilities[domain.index_for_action("action_listen")] == 1.0


def test_the_debug_line_shows_rasas_text_of_the_states():
    states = [{}, {"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
    logged = policies.StatesForDebugLog(states)
    assert str(logged) == repr(logged) == Policy.format_tracker_states(states)
    assert "user intent: greet" in str(logged) and copy.deepcopy(logged) is logged


def test_the_rules_that_match_are_rasas_however_long_the_conversation(installed, domain, tmp_path):
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(str(ROOT / "config.yml"), str(ROOT / "domain.yml"),
                                                     [str(ROOT / "data"), str(ROOT / "tests" / "stories")])
    trackers = TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0,
                                     use_story_concatenation=False).generate()
    rules = [tracker for tracker in trackers if tracker.is_rule_tracker]
    policy = trained(RulePolicy, {"restrict_rules": False, "check_for_contradictions": False}, tmp_path, domain,
                     rules, is_rule_tracker=True)
    conversations = [tracker for tracker in trackers if not tracker.is_rule_tracker]
    longest = DialogueStateTracker.from_events("long", [event for tracker in conversations for event in tracker.events],
                                               domain.slots)
    compared = 0
    for tracker in conversations + [longest]:
        states = tracker.past_states(domain)
        for end in range(1, len(states) + 1):
            for lookup in (policy.lookup[RULES], policy.lookup[RULES_FOR_LOOP_UNHAPPY_PATH]):
                rasas = policies._rasas_get_possible_keys(policy, lookup, states[:end])
                for _ in ("checked", "remembered"):  # the rules matching a latest state are remembered
                    assert policies.possible_rule_keys(policy, lookup, states[:end]) == rasas
                compared += bool(rasas)
    assert len(policy.lookup[RULES]) > 50 and len(states) > 60 and compared > 100


def rule_key(*states: dict) -> str:
    return json.dumps(list(states))


def test_a_changed_lookup_and_a_state_that_cannot_be_remembered_are_checked_afresh(installed, domain, tmp_path):
    policy = trained(RulePolicy, {}, tmp_path, domain, [])
    listened = {"prev_action": {"action_name": "action_listen"}}
    greet, goodbye = ({**listened, "user": {"intent": intent}} for intent in ("greet", "goodbye"))
    lookup = {rule_key({}, greet): "utter_greet", rule_key({}, goodbye): "utter_goodbye"}
    states = [{}, greet]
    assert policies.possible_rule_keys(policy, lookup, states) == {rule_key({}, greet)}
    lookup[rule_key(greet)] = lookup.pop(rule_key({}, greet))  # the same lookup, changed in place
    assert policies.possible_rule_keys(policy, lookup, states) == {rule_key(greet)}
    changed = {rule_key({}, goodbye): "utter_goodbye"}  # another lookup
    assert policies.possible_rule_keys(policy, changed, states) == set()
    listing = [{}, {**greet, "slots": {"amounts": [1.0]}}]  # a list: no key to remember the state by
    for lookup in (lookup, changed):
        assert policies.possible_rule_keys(policy, lookup, listing) == policies._rasas_get_possible_keys(
            policy, lookup, listing)
    assert policies.possible_rule_keys(policy, lookup, []) == set(lookup)


def test_a_policy_no_longer_used_lets_its_rule_index_go(installed, domain, tmp_path):
    policy = trained(RulePolicy, {}, tmp_path, domain, [])
    greet = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}
    assert policies.possible_rule_keys(policy, {rule_key({}, greet): "utter_greet"}, [{}, greet])
    policy_held = weakref.ref(policy)
    del policy  # as when a new model is loaded in place of this one
    gc.collect()
    assert policy_held() is None


@pytest.mark.parametrize("cores, environ, threads", [
    (2, {"SANIC_WORKERS": "2"}, "1"),  # a worker per core: one thread each
    (8, {"SANIC_WORKERS": "2"}, "4"),
    (2, {}, "2"),  # one worker has every core
    (2, {"SANIC_WORKERS": "4"}, "1"),  # more workers than cores still get a thread
])
def test_each_workers_tensorflow_gets_its_share_of_the_cores(monkeypatch, cores, environ, threads):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    sanic_workers.tensorflow_threads_per_worker(environ)
    assert environ["TF_INTRA_OP_PARALLELISM_THREADS"] == environ["TF_INTER_OP_PARALLELISM_THREADS"] == threads


def test_thread_counts_set_by_the_operator_are_kept():
    environ = {"SANIC_WORKERS": "2", "TF_INTRA_OP_PARALLELISM_THREADS": "3"}
    sanic_workers.tensorflow_threads_per_worker(environ)
    assert environ["TF_INTRA_OP_PARALLELISM_THREADS"] == "3" and environ["TF_INTER_OP_PARALLELISM_THREADS"] == "1"
