"""One least-recently-used cache, safe to share between threads.

Used for the embedder's memo of recent texts (`ragkit.index.vector_cache`), the retriever's
readable-row masks per group set, and BM25's per-view score matrices. `get_or_set` runs the
factory under the lock, so two threads never build the same costly value twice; use `get`
and `put` when the value is slow to compute and concurrent misses are harmless.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """At most `size` entries (0 keeps nothing); the least recently used one goes first."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"cache size must be at least 0 (0 keeps nothing), got {size}")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def get_or_set(self, key: K, factory: Callable[[], V]) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            value = factory()
            self._put(key, value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
