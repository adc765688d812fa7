"""`python -m bot.rasa_server run …`: Rasa's own command line, with two fixes to Rasa 3.6's message path.

Both were found by sampling the Rasa process of the running stack under `make bench`'s journeys (py-spy):

- Rasa checks every reply of the action server against a JSON schema with `jsonschema.validate`, which
  first checks the schema itself against the JSON Schema metaschema, on every call: 31% of the
  process's CPU. Here the validator is built once: a valid reply passes on the fast path, and an
  invalid one still goes through Rasa's own check, so it fails with Rasa's own error and message.
- Reading a conversation turns each stored event into its class by walking every subclass of
  `Event` (`Event.resolve_by_type`): 4% of the CPU, growing with the conversation. Here each type
  name is looked up once, then remembered.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Dict, List, Optional, Text

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event

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


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_class)


def main(argv: Optional[List[str]] = None) -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
