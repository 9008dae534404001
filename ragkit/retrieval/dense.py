"""Dense search: exact inner product over the index's FAISS `IndexFlatIP`.

The stored vectors and the query vector are L2-normalised, so the inner product is the
cosine similarity. Unreadable chunks are excluded inside the search with a FAISS
`IDSelectorBitmap`, so the k results are the k best readable chunks, never fewer because
hidden ones ranked high. Exact search over 10,000 x 384 floats takes about a millisecond.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ragkit.errors import IndexStoreError


class DenseIndex:
    """Exact cosine search over a FAISS flat inner-product index (row i = chunk i)."""

    def __init__(self, vectors_index: Any) -> None:
        self.index = vectors_index

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosines of the k nearest readable chunks, best first.

        `query`: (dim,) normalised float32. `allowed`: (len(self),) bool, None = all readable.
        """
        import faiss

        self._check(query)
        limit = len(self) if allowed is None else int(allowed.sum())
        k = min(k, limit)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        params = None
        if allowed is not None:
            # Both must stay referenced until the search returns: FAISS holds raw pointers.
            bitmap = np.packbits(allowed, bitorder="little")  # bit i = row i readable
            selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bitmap))
            # faiss's bundled stubs miss the keyword constructor its Python wrapper adds
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, rows = self.index.search(query.reshape(1, -1), k, params=params)  # (1, k) each
        found = rows[0] >= 0
        return rows[0][found].astype(np.int64), scores[0][found]

    def similarities(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Cosine of the query with the given rows' vectors, shape (len(rows),)."""
        self._check(query)
        if not len(rows):
            return np.zeros(0, np.float32)
        vectors = self.index.reconstruct_batch(np.asarray(rows, dtype=np.int64))  # (n, dim)
        return vectors @ query.astype(np.float32)

    def _check(self, query: np.ndarray) -> None:
        if query.shape != (self.dim,):
            raise IndexStoreError(
                f"query vector has shape {query.shape} but the index holds {self.dim}-dimensional "
                "vectors: query with the model the index was built with"
            )
