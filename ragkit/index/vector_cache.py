"""A least-recently-used cache of embedding vectors by text, safe to share between threads.

The embedding model is the expensive step of answering: the same question is embedded by the
retriever and again by the extractive generator, and the same passage sentences come back
across related questions. The model runs outside the lock, so threads never wait on each other's
forward passes; two threads missing the same text may both embed it, which is harmless.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np


class VectorCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, embed: Callable[[list[str]], np.ndarray], texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) vectors; only the texts not cached go through `embed`."""
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, embed(missing), strict=True))
        with self._lock:
            for text in texts:
                self._vectors[text] = known[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return np.stack([known[t] for t in texts])
