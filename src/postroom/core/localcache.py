"""A small per-process cache for configuration rows read on every message (routes, default queues).

Entries live for a few seconds, and a change saved in this process clears them at once (model signals); other
processes see it within the TTL. `clear_local_caches()` empties every cache (tests call it between tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_TTL_SECONDS: Final = 5.0
_registry: list[TtlCache[object, object]] = []


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        _registry.append(self)  # type: ignore[arg-type]

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        value = load()
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def clear_local_caches(*_args: object, **_kwargs: object) -> None:
    for cache in _registry:
        cache.clear()
