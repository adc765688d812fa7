"""A bounded map that forgets its least recently used entries: the caches in front of slower work."""
from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Hashable, Optional, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class RecentlyUsed(Generic[Key, Value]):
    """At most `size` entries; keeping one makes it the most recently used. Not locked: callers lock."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: "OrderedDict[Key, Value]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, key: Key) -> Optional[Value]:
        """The entry, removed until it is kept again; None if there is none."""
        return self._entries.pop(key, None)

    def peek(self, key: Key) -> Optional[Value]:
        """The entry, left where it is."""
        return self._entries.get(key)

    def keep(self, key: Key, value: Value) -> None:
        """The entry becomes the most recently used; the least recently used beyond the size are forgotten."""
        self._entries.pop(key, None)
        self._entries[key] = value
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
