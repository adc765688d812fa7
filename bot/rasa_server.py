"""`python -m bot.rasa_server run …`: Rasa's own command line, with three fixes to Rasa 3.6's message path.

When the action server is down, fails or takes longer than `ACTION_TIMEOUT_SECONDS`, Rasa 3.6 logs
the exception and goes on without the action: the consumer hears nothing (or only half an answer),
and its call waits up to five minutes first, where Twilio gives a webhook 15 seconds. Here the call
gives up after `ACTION_TIMEOUT_SECONDS`, and the consumer is told kindly to try again in a minute
(`utter_try_again_shortly`). The action's events are not applied; every ledger write an action makes
is idempotent per turn, so the retried message cannot do anything twice.

The other two were found by sampling the Rasa process of the running stack under `make bench`'s
journeys (py-spy):

- Rasa checks every reply of the action server against a JSON schema with `jsonschema.validate`, which
  first checks the schema itself against the JSON Schema metaschema, on every call: 31% of the
  process's CPU. Here the validator is built once: a valid reply passes on the fast path, and an
  invalid one still goes through Rasa's own check, so it fails with Rasa's own error and message.
- Reading a conversation turns each stored event into its class by walking every subclass of
  `Event` (`Event.resolve_by_type`): 4% of the CPU, growing with the conversation. Here each type
  name is looked up once, then remembered.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import sys
from typing import Any, Dict, List, Optional, Text

import rasa.core.actions.action
from rasa.core.actions.action import ActionBotResponse, ActionExecutionRejection, RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.exceptions import RasaException

from bot.adapters.tracker_store import TRY_AGAIN

logger = logging.getLogger(__name__)

ACTION_TIMEOUT_SECONDS = 10  # within the 15 s Twilio waits for a webhook's answer

_rasas_run_remote_action = RemoteAction.run
_rasas_validate_action_result = RemoteAction._validate_action_result
_rasas_resolve_by_type = Event.resolve_by_type
_event_classes: Dict[str, type] = {}


@functools.lru_cache(maxsize=None)
def action_result_validator() -> Any:
    from jsonschema.validators import validator_for

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


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


def main(argv: Optional[List[str]] = None) -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
