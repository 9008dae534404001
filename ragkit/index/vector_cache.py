"""A least-recently-used cache of embedding vectors by text, kept apart per asker's view.

The embedding model is the expensive step of answering: the same question is embedded by the
retriever and again by the extractive generator, and the same passage sentences come back
across related questions. The model runs outside the lock, so threads never wait on each other's
forward passes; two threads missing the same text may both embed it, which is harmless.

Access groups: a cache shared by every asker is a timing oracle. After a manager's question
puts a restricted sentence's vector in it, anyone could time a question made of a guessed
sentence: 3 ms for a hit against 11 ms for a miss confirms the guess. So entries are keyed
by a *view* as well as the text, and a view is set per request with `cache_view(groups)`
(the `Assistant` and `RagkitRetriever` do); askers with other groups never see each other's
entries. Outside any view (a caller that set none) nothing is cached at all: the safe default.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from ragkit.cache import LRUCache

_NO_VIEW = object()
_VIEW: ContextVar[Hashable] = ContextVar("ragkit_cache_view", default=_NO_VIEW)


@contextmanager
def cache_view(view: Hashable) -> Iterator[None]:
    """Within this block (this thread or task), vector caches read and write `view`'s entries.

    `view` is anything hashable that identifies what the asker may read, e.g. their frozenset
    of groups. Enter and leave it within one synchronous call; a generator that yields across
    threads must enter it around each step (see `Assistant.stream`).
    """
    token = _VIEW.set(("view", view))
    try:
        yield
    finally:
        _VIEW.reset(token)


class VectorCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: LRUCache[tuple[Hashable, str], np.ndarray] = LRUCache(size)

    def embed(self, embed: Callable[[list[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) vectors; only the texts not cached in this view go through `embed`."""
        view = _VIEW.get()
        if view is _NO_VIEW:
            return embed(list(texts))
        known: dict[str, np.ndarray] = {}
        for text in texts:
            vector = self._vectors.get((view, text))
            if vector is not None:
                known[text] = vector
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, embed(missing), strict=True))
        for text in texts:
            self._vectors.put((view, text), known[text])
        return np.stack([known[t] for t in texts])
