"""`python -m bot.rasa_server run|train|test|shell …`: Rasa's own command line, with fixes to Rasa 3.6.

The server, training, the conversation tests and the evaluation all go through it.

When the action server is down, fails or takes longer than `ACTION_TIMEOUT_SECONDS`, Rasa 3.6 logs
the exception and goes on without the action: the consumer hears nothing (or only half an answer),
and its call waits up to five minutes first, where Twilio gives a webhook 15 seconds. Here the call
gives up after `ACTION_TIMEOUT_SECONDS`, and the consumer is told kindly to try again in a minute
(`utter_try_again_shortly`). The action's events are not applied; every ledger write an action makes
is idempotent per turn, so the retried message cannot do anything twice.

The rest were found by sampling the Rasa process of the running stack under `make bench`'s
journeys (py-spy), or by timing each step of those journeys:

- Rasa checks every reply of the action server against a JSON schema with `jsonschema.validate`, which
  first checks the schema itself against the JSON Schema metaschema, on every call: 31% of the
  process's CPU. Here the validators are built once, and each event is checked against the schema
  of its own type instead of trying all 23 (`oneOf`, 5 ms a message). A valid reply passes on that
  fast path; an invalid one still goes through Rasa's own check, so it fails with Rasa's own error.
- Reading a conversation turns each stored event into its class by walking every subclass of
  `Event` (`Event.resolve_by_type`): 4% of the CPU, growing with the conversation. Here each type
  name is looked up once, then remembered.
- MemoizationPolicy turns the tracker into states and looks them up on every prediction, three or
  four times a message, even when it memorised nothing: this assistant's conversations are rules,
  so its lookup is empty until designers add stories, and it was 7% of the CPU. Here a policy with
  an empty lookup predicts nothing at once, which is what the lookup would have answered.
- Rasa opens a new HTTP session, and so a new connection, for every call to the action server, and
  closes it after the answer: a TCP handshake, a session and a connection task on both sides, two
  or three times a message. Here the action endpoint keeps its connections open between calls (one
  session per event loop), closing an idle one after `ACTION_KEEP_ALIVE_SECONDS`, before the action
  server would (Sanic closes after 5 s).
- Several Sanic workers (`SANIC_WORKERS`) share one listening socket in Sanic 21.12, and asyncio
  accepts every waiting connection at once: the first worker awake takes a whole burst of new
  connections and keeps them (HTTP keep-alive), while the other idles. Eight consumers starting
  together all landed on one of two workers. Here each worker listens on a socket of its own on the
  same port (SO_REUSEPORT), and the kernel spreads new connections across them; a worker that
  stops stops the server, so that it is started again whole. A worker's socket starts listening
  only once its model is loaded: the kernel gives connections to listening sockets alone, so none
  waits in the queue of a worker still loading while another answers.
- Every policy turns the whole tracker into states before each prediction, replaying every event
  into a new tracker (`Domain.states_for_tracker_history`), for RulePolicy and TED at each of the
  three or four predictions of a message: a fifth of the CPU in a 200-turn conversation, growing
  with it. Here the states go on from those of the events seen before (bot/dialogue_states.py).
- RulePolicy checks every rule against every state back to the conversation's start, though past a
  rule's length Rasa's own check is always true; here it looks back as far as its longest rule.
  Most rules already fail at the latest state, which of them depends on that state alone, and
  checking them all was 0.5 ms of each of the two searches a prediction makes: here the rules that
  match a latest state are remembered (`RuleIndex`), and only those are checked further back.
  It also formatted (and deep-copied) each prediction's states for a debug line at every log
  level; here the text is made only if the line is written.
- Rasa runs the model's graph for each parse and prediction through dask, which orders and
  schedules the nodes anew every time; here they run in an order worked out once (bot/graph_runner.py).
- TensorFlow in each Sanic worker runs as many threads as the machine has cores, so workers
  compete for them; here each worker's TensorFlow gets its share of the cores
  (`tensorflow_threads_per_worker`), unless the thread counts are set.

Loading a model: Rasa gives a TensorFlow model (DIET, TED) its variables by training it for one step
on one example, in graph mode, before loading the trained weights over them. Tracing that training
step, twice (the first call also creates the optimizer's variables), was 64 of the 70 s `Agent.load`
took, at every start of the server. Here that one step runs eagerly, which builds the same variables
without tracing anything; the weights loaded over them, and the prediction graph traced next, are
Rasa's own. A model loaded to be fine-tuned goes through Rasa's own path.

Training (`python -m bot.rasa_server train …`, sampled the same way): every batch of every epoch,
DIET's data generator turns each example's sparse features into coordinates with four small numpy
calls per example, 14% of the training process's time. Here a batch's coordinates are joined in
one pass; the arrays are the same, element for element.

Parsing a message (sampled in process): DIET joins the sparse features of the four featurizers side
by side with `scipy.sparse.hstack`, three times for the tokens and three for the sentence, and
scipy's general block assembly was 15% of a parse. Two COO matrices are joined here by concatenating
their coordinates, which is what that assembly ends up doing; the matrix is the same, entry for entry.
DIET (and TED) then call their prediction `tf.function`, which checks the batch against its input
signature before running the one graph it traced; here that graph is called directly
(`predict_with_traced_graph`): 1.6 of a parse's 9.5 ms.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import weakref
from typing import Any, Dict, List, Optional, Text, Tuple

import aiohttp
import numpy as np
import rasa.core.actions.action
import rasa.core.processor
import rasa.core.run
import sanic.app
import scipy.sparse
from rasa.core.actions.action import ActionBotResponse, ActionExecutionRejection, RemoteAction
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.utils import AvailableEndpoints
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.training_data.features import Features
from rasa.utils.endpoints import EndpointConfig
from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator, RasaDataGenerator
from rasa.utils.tensorflow.models import RasaModel
from scipy.sparse._sputils import get_index_dtype, upcast

from bot import dialogue_states
from bot.graph_runner import SequentialGraphRunner
from bot.adapters.tracker_store import TRY_AGAIN

logger = logging.getLogger(__name__)

ACTION_TIMEOUT_SECONDS = 10  # within the 15 s Twilio waits for a webhook's answer
ACTION_KEEP_ALIVE_SECONDS = 2  # idle connections to the action server close before its own 5 s

_rasas_run_remote_action = RemoteAction.run
_rasas_validate_action_result = RemoteAction._validate_action_result
_rasas_resolve_by_type = Event.resolve_by_type
_rasas_sparse_batch_values = RasaDataGenerator._scipy_matrix_to_values
_rasas_load_model = RasaModel.load.__func__
_rasas_predict_batch = RasaModel._rasa_predict
_rasas_combine_sparse_features = Features._combine_sparse_features
_rasas_available_endpoints_init = AvailableEndpoints.__init__
_rasas_close_resources = rasa.core.run.close_resources
_sanics_serve_multiple = sanic.app.serve_multiple
_rasas_memoization_predict = MemoizationPolicy.predict_action_probabilities
_rasas_get_possible_keys = RulePolicy._get_possible_keys
_event_classes: Dict[str, type] = {}
_traced_predict_steps: "weakref.WeakKeyDictionary[RasaModel, Any]" = weakref.WeakKeyDictionary()


class ActionResultValidator:
    """Rasa's action-server reply schema, with each event checked against its own type's schema.

    The schema's events are `oneOf` 23 types, each fixed by a distinct `event` constant: an event is
    valid exactly when it is valid under its type's schema, so trying the other 22 decides nothing.
    """

    def __init__(self, schema: Dict[str, Any]) -> None:
        from jsonschema.validators import validator_for

        validator_class = validator_for(schema)
        validator_class.check_schema(schema)
        event_schema = dict(schema["properties"]["events"]["items"])
        types = event_schema.pop("oneOf")
        self.reply = validator_class({**schema, "properties": {**schema["properties"], "events": {"type": "array"}}})
        self.events = {kind["properties"]["event"]["const"]: validator_class({"allOf": [event_schema, kind]})
                       for kind in types}

    def is_valid(self, result: Any) -> bool:
        if not self.reply.is_valid(result):
            return False
        for event in result.get("events") or []:
            validator = self.events.get(event.get("event")) if isinstance(event, dict) else None
            if validator is None or not validator.is_valid(event):
                return False
        return True


@functools.lru_cache(maxsize=None)
def action_result_validator() -> ActionResultValidator:
    return ActionResultValidator(RemoteAction.action_response_format_spec())


def validate_action_result(action: RemoteAction, result: Dict[Text, Any]) -> bool:
    if action_result_validator().is_valid(result):
        return True
    return _rasas_validate_action_result(action, result)


def resolve_event_class(type_name: Text, default: Optional[type] = None) -> Optional[type]:
    event_class = _event_classes.get(type_name)
    if event_class is None:
        event_class = _rasas_resolve_by_type(type_name, default)
        if event_class is not None and event_class is not default:
            _event_classes[type_name] = event_class
    return event_class


def sparse_batch_values(array_of_sparse: Any) -> List[np.ndarray]:
    """A batch's sparse features as (example, row, column) indices, values and shape, like Rasa's."""
    if array_of_sparse.number_of_dimensions == 4:
        return _rasas_sparse_batch_values(array_of_sparse)
    matrices = [m if isinstance(m, scipy.sparse.coo_matrix) else m.tocoo() for m in array_of_sparse]
    example = np.repeat(np.arange(len(matrices), dtype=np.int64), [len(m.row) for m in matrices])
    rows = np.concatenate([m.row for m in matrices])
    columns = np.concatenate([m.col for m in matrices])
    values = np.concatenate([m.data for m in matrices])
    shape = (len(matrices), max(m.shape[0] for m in matrices), matrices[0].shape[-1])
    return [np.stack([example, rows, columns], axis=1).astype(np.int64), values.astype(np.float32),
            np.array(shape, dtype=np.int64)]


def combine_sparse_side_by_side(features: Features, additional_features: Features) -> None:
    """Rasa's `Features._combine_sparse_features` (scipy's `hstack`), for two COO matrices in one pass."""
    left, right = features.features, additional_features.features
    if not (scipy.sparse.isspmatrix_coo(left) and scipy.sparse.isspmatrix_coo(right)) \
            or left.shape[0] != right.shape[0]:
        return _rasas_combine_sparse_features(features, additional_features)
    shape = (left.shape[0], left.shape[1] + right.shape[1])
    dtype, index_dtype = upcast(left.dtype, right.dtype), get_index_dtype(maxval=max(shape))
    data = np.concatenate([left.data.astype(dtype, copy=False), right.data.astype(dtype, copy=False)])
    rows = np.concatenate([left.row, right.row]).astype(index_dtype, copy=False)
    columns = np.concatenate([left.col.astype(index_dtype, copy=False),
                              np.add(right.col, left.shape[1], dtype=index_dtype)])
    features.features = scipy.sparse.coo_matrix((data, (rows, columns)), shape=shape)
    features._cached_fingerprint = None


@functools.wraps(_rasas_memoization_predict)  # Rasa checks a graph component's inputs by its signature
def predict_nothing_memorised(policy: MemoizationPolicy, tracker: Any, domain: Any,
                              rule_only_data: Optional[Dict[Text, Any]] = None, **kwargs: Any) -> Any:
    """MemoizationPolicy's prediction, without featurizing the tracker when nothing was memorised."""
    if not policy.lookup:
        return policy._prediction(policy._default_predictions(domain))
    return _rasas_memoization_predict(policy, tracker, domain, rule_only_data=rule_only_data, **kwargs)


def possible_rule_keys(policy: RulePolicy, lookup: Dict[Text, Text], states: List[Dict[str, Any]]) -> set:
    """RulePolicy's rules that match the conversation's latest states, looking back no further than they reach.

    Rasa checks every rule against every state back to the conversation's first, though a rule is
    only a few states long: past its length, Rasa's check is always true (`_is_rule_applicable`).
    Most rules fall at the latest state, and which do depends on that state alone, so the rules that
    match a latest state are remembered (`RuleIndex`); only those are checked further back.
    """
    if not states:
        return set(lookup)
    index = RuleIndex.of(policy, lookup)
    window = states[max(0, len(states) - index.reach):]
    possible_keys = index.matching_latest(policy, window[-1])
    for turn, state in enumerate(reversed(window[:-1]), start=1):
        possible_keys = [key for key in possible_keys if policy._is_rule_applicable(key, turn, state)]
    return set(possible_keys)


class RuleIndex:
    """The rules of one RulePolicy lookup: the longest one's length, and which match a state as a conversation's latest.

    Kept per policy in a weak map, so it holds no reference to its policy: a model loaded in place of
    another lets the old one's policies go.
    """

    MAX_REMEMBERED_STATES = 10_000
    _of_policies: "weakref.WeakKeyDictionary[RulePolicy, Dict[int, RuleIndex]]" = weakref.WeakKeyDictionary()

    def __init__(self, policy: RulePolicy, keys: frozenset) -> None:
        self.keys = keys
        self.reach = max((len(policy._rule_key_to_state(key)) for key in keys), default=0)
        self._matching: Dict[Any, Tuple[Text, ...]] = {}

    @classmethod
    def of(cls, policy: RulePolicy, lookup: Dict[Text, Text]) -> "RuleIndex":
        """The index of the lookup's rules as they are now (a lookup is compared by its rules, not its identity)."""
        indexes = cls._of_policies.setdefault(policy, {})
        index = indexes.get(id(lookup))
        if index is None or lookup.keys() != index.keys:
            index = indexes[id(lookup)] = cls(policy, frozenset(lookup))
        return index

    def matching_latest(self, policy: RulePolicy, state: Dict[str, Any]) -> Tuple[Text, ...]:
        try:
            frozen = tuple((name, tuple(sub_state.items())) for name, sub_state in state.items())
            return self._matching[frozen]
        except TypeError:  # a value that cannot be a key: checked every time
            return self._match(policy, state)
        except KeyError:
            if len(self._matching) >= self.MAX_REMEMBERED_STATES:
                self._matching.clear()
            matching = self._matching[frozen] = self._match(policy, state)
            return matching

    def _match(self, policy: RulePolicy, state: Dict[str, Any]) -> Tuple[Text, ...]:
        return tuple(key for key in self.keys if policy._is_rule_applicable(key, 0, state))


class StatesForDebugLog:
    """RulePolicy's text of a prediction's states for its debug log line, made only if the line is written.

    Rasa formats (and deep-copies) it for every prediction, at every log level.
    """

    def __init__(self, states: List[Dict[str, Any]]) -> None:
        self._states = states

    def __str__(self) -> str:
        return Policy.format_tracker_states(self._states)

    __repr__ = __str__

    def __deepcopy__(self, _memo: Dict[int, Any]) -> "StatesForDebugLog":
        return self  # it is only read, and only when written to the log


def load_model_built_eagerly(model_class: type, model_file_name: Text, model_data_example: Any,
                             predict_data_example: Any = None, finetune_mode: bool = False, *args: Any,
                             **kwargs: Any) -> RasaModel:
    """Rasa's `RasaModel.load`, with the one step that creates the variables run eagerly."""
    if finetune_mode:
        return _rasas_load_model(model_class, model_file_name, model_data_example, predict_data_example,
                                 finetune_mode, *args, **kwargs)
    import tensorflow as tf

    config = kwargs.get("config", {})
    model = model_class(*args, **kwargs)
    model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)), run_eagerly=True)
    model.fit(RasaBatchDataGenerator(model_data_example, batch_size=1), verbose=False)
    model.run_eagerly, model.train_function = config.get(RUN_EAGERLY), None
    model.load_weights(model_file_name)
    if predict_data_example:
        model.run_inference(predict_data_example)  # traces the prediction graph now, not on the first message
    return model


def predict_with_traced_graph(model: RasaModel, batch_in: Any) -> Dict[Text, Any]:
    """Rasa's `RasaModel._rasa_predict`, calling the graph it traced directly once there is one.

    Rasa calls its prediction `tf.function` for every parse and every prediction, and the function
    matches the batch against its input signature, every time, before running the one graph that
    signature allows (it was traced for the first batch): 1.6 of a parse's 9.5 ms in process. Here that
    graph is taken from the function once and called with the batch's arrays as tensors.
    """
    if model._run_eagerly or model._tf_predict_step is None:
        return _rasas_predict_batch(model, batch_in)  # Rasa prepares the model and traces the graph
    import tensorflow as tf
    from keras.utils import tf_utils

    model._training = False
    graph = _traced_predict_steps.get(model)
    if graph is None:
        graph = _traced_predict_steps[model] = model._tf_predict_step.get_concrete_function()
    outputs = tf_utils.sync_to_numpy_or_python_type(graph([tf.convert_to_tensor(array) for array in batch_in]))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = model._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


class KeptAliveEndpoint(EndpointConfig):
    """An endpoint whose calls share one HTTP session per event loop, so connections outlive a call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = \
            weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, endpoint: EndpointConfig) -> "KeptAliveEndpoint":
        kept_alive = cls(endpoint.url, endpoint.params, endpoint.headers, endpoint.basic_auth, endpoint.token,
                         endpoint.token_name, endpoint.cafile, **endpoint.kwargs)
        kept_alive.type = endpoint.type
        return kept_alive

    def session(self) -> "LentSession":
        """Rasa's `request` closes the session it gets when the call ends: this one is only lent."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) \
                if self.basic_auth else None
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=ACTION_KEEP_ALIVE_SECONDS),
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT))
            self._sessions[loop] = session
        return LentSession(session)

    def copy(self) -> "KeptAliveEndpoint":
        return KeptAliveEndpoint.of(self)

    async def close(self) -> None:
        """Close this event loop's session (the server is stopping)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


class LentSession:
    """`async with` gives the shared session and leaves it open."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_: Any) -> None:
        return None


def endpoints_with_kept_alive_actions(endpoints: AvailableEndpoints, *args: Any, **kwargs: Any) -> None:
    """Rasa's `AvailableEndpoints`, with the action server called over kept-alive connections."""
    _rasas_available_endpoints_init(endpoints, *args, **kwargs)
    if endpoints.action is not None and not isinstance(endpoints.action, KeptAliveEndpoint):
        endpoints.action = KeptAliveEndpoint.of(endpoints.action)


async def close_resources_and_action_sessions(app: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Rasa's `close_resources` when the server stops, then the action endpoint's open connections."""
    await _rasas_close_resources(app, loop)
    endpoint = getattr(getattr(app.ctx, "agent", None), "action_endpoint", None)
    if isinstance(endpoint, KeptAliveEndpoint):
        await endpoint.close()


def serve_workers_on_their_own_sockets(server_settings: Dict[str, Any], workers: int) -> None:
    """Sanic 21.12's `serve_multiple`, with a listening socket per worker instead of one they share."""
    host, port = server_settings.get("host"), server_settings.get("port")
    if server_settings.get("sock") is not None or server_settings.get("unix") or not port \
            or not hasattr(socket, "SO_REUSEPORT"):
        return _sanics_serve_multiple(server_settings, workers)
    from sanic.server.events import trigger_events
    from sanic.server.runners import serve

    sockets = [reuse_port_socket(host, port) for _ in range(workers)]  # each worker's server listens on it
    settings = dict(server_settings, reuse_port=True, run_multiple=True, host=None, port=None)
    main_start, main_stop = settings.pop("main_start", None), settings.pop("main_stop", None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    trigger_events(main_start, loop)
    fork = multiprocessing.get_context("fork")
    processes = [fork.Process(target=serve, kwargs=dict(settings, sock=sock), daemon=True) for sock in sockets]

    def stop_workers(signal_number: int, _frame: Any) -> None:
        logger.info("Received signal %s. Shutting down.", signal.Signals(signal_number).name)
        terminate(processes)

    signal.signal(signal.SIGINT, stop_workers)
    signal.signal(signal.SIGTERM, stop_workers)
    for process in processes:
        process.start()
    # A worker that stops leaves its socket's connections unanswered: the others stop too, and the
    # server exits, so that whatever runs it (`python -m bot up`) starts it again.
    multiprocessing.connection.wait([process.sentinel for process in processes])
    terminate(processes)
    for process in processes:
        process.join()
    trigger_events(main_stop, loop)
    for sock in sockets:
        sock.close()
    loop.close()


def terminate(processes: List[Any]) -> None:
    for process in processes:
        if process.pid is not None and process.exitcode is None:
            try:
                os.kill(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to the port, which other sockets of this user may bind to too; not yet listening.

    Sanic's server calls `listen` on it after its `before_server_start` listeners, where Rasa loads the model.
    """
    family = socket.AF_INET6 if ":" in (host or "") else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
    sock.set_inheritable(True)
    return sock


async def run_or_ask_to_try_again(action: RemoteAction, output_channel: Any, nlg: Any, tracker: Any,
                                  domain: Any) -> List[Event]:
    try:
        return await _rasas_run_remote_action(action, output_channel, nlg, tracker, domain)
    except ActionExecutionRejection:
        raise  # a form rejecting its slot: Rasa lets another policy predict
    except (RasaException, asyncio.TimeoutError) as error:
        logger.error("custom action %s failed (%s): the consumer is asked to try again", action.name(),
                     error or type(error).__name__)
        return await ActionBotResponse(TRY_AGAIN).run(output_channel, nlg, tracker, domain)


def install() -> None:
    rasa.core.actions.action.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
    RemoteAction.run = run_or_ask_to_try_again
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_class)
    RasaDataGenerator._scipy_matrix_to_values = staticmethod(sparse_batch_values)
    RasaModel.load = classmethod(load_model_built_eagerly)
    Features._combine_sparse_features = combine_sparse_side_by_side
    AvailableEndpoints.__init__ = endpoints_with_kept_alive_actions
    rasa.core.run.close_resources = close_resources_and_action_sessions
    sanic.app.serve_multiple = serve_workers_on_their_own_sockets
    MemoizationPolicy.predict_action_probabilities = predict_nothing_memorised
    RulePolicy.format_tracker_states = staticmethod(StatesForDebugLog)
    RulePolicy._get_possible_keys = possible_rule_keys
    Domain.states_for_tracker_history = dialogue_states.states_for_tracker_history
    RasaModel._rasa_predict = predict_with_traced_graph
    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner


def tensorflow_threads_per_worker(environ: Dict[str, str]) -> None:
    """Each Sanic worker's TensorFlow gets its share of the cores, unless its thread counts are set.

    Left alone, each worker's TensorFlow runs as many threads as the machine has cores, and with one
    worker per core they compete for them. On 2 cores with 2 workers, in four alternating pairs of
    runs (40 journeys at concurrency 8 each), one thread per worker used 2-20% less of the Rasa
    server's CPU per message, and answered as many or up to 15% more messages per second.
    """
    workers = max(1, int(environ.get("SANIC_WORKERS") or 1))
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for variable in ("TF_INTRA_OP_PARALLELISM_THREADS", "TF_INTER_OP_PARALLELISM_THREADS"):
        environ.setdefault(variable, share)


def main(argv: Optional[List[str]] = None) -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    if sys.argv[1:2] == ["run"]:
        tensorflow_threads_per_worker(os.environ)
    rasa_main()


if __name__ == "__main__":
    main()
