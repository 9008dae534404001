"""A least-recently-used cache of embedding vectors by text, safe to share between threads.

The embedding model is the expensive step of answering: the same question is embedded by the
retriever and again by the extractive generator, and the same passage sentences come back
across related questions. The model runs outside the lock, so threads never wait on each other's
forward passes; two threads missing the same text may both embed it, which is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ragkit.cache import LRUCache


class VectorCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(size)

    def embed(self, embed: Callable[[list[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) vectors; only the texts not cached go through `embed`."""
        known: dict[str, np.ndarray] = {}
        for text in texts:
            vector = self._vectors.get(text)
            if vector is not None:
                known[text] = vector
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, embed(missing), strict=True))
        for text in texts:
            self._vectors.put(text, known[text])
        return np.stack([known[t] for t in texts])
