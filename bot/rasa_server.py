"""`python -m bot.rasa_server run …`: Rasa's own command line, with one fix to Rasa 3.6's message path.

Rasa checks every reply of the action server against a JSON schema with `jsonschema.validate`, which
first checks the schema itself against the JSON Schema metaschema, on every call. Sampling the Rasa
process of the running stack under load (py-spy, `make bench`'s journeys) put 31% of its CPU there.
Here the validator is built once: a valid reply passes on the fast path, and an invalid one still
goes through Rasa's own check, so it fails with Rasa's own error and message.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Dict, List, Optional, Text

from rasa.core.actions.action import RemoteAction

_rasas_validate_action_result = RemoteAction._validate_action_result


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


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result


def main(argv: Optional[List[str]] = None) -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
