"""The index core's seams: what an embedding model and an index store must provide.

Backends (the bundled numpy/torch BERT encoder, the hashing embedder, the local generation
store, later a Milvus store) implement these structurally: no base class to inherit, and a
contract test suite that every backend passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ragkit.index.records import Chunk


@runtime_checkable
class Embedder(Protocol):
    """Texts -> vectors of one model.

    `embed` returns float32 unit vectors (L2 norm 1), shape (len(texts), dim); the same text
    always gets the same vector within one fingerprint. Token counts are the model's own word
    pieces, special tokens included.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def max_tokens(self) -> int:
        """Most word pieces the model reads, special tokens included; beyond it, it truncates."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text occupies, special tokens included; one int per text."""
        ...

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), dim)."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """What must match between an index's documents and its queries (model, dim, ...)."""
        ...


@runtime_checkable
class IndexSnapshot(Protocol):
    """The live index as a writer and a reader see it: manifest, chunks, stored vectors.

    A snapshot never changes after loading; a writer makes a new generation instead.
    """

    path: Path
    manifest: dict[str, Any]

    @property
    def fingerprint(self) -> dict[str, Any]: ...

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Per source file: its hash, groups and chunk ids, as the sync last saw it."""
        ...

    @property
    def dim(self) -> int: ...

    @property
    def live_count(self) -> int:
        """Chunks a query can find (deleted ones not counted)."""
        ...

    def vectors_for(self, chunk_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored (dim,) float32 vector of each live chunk id found, so unchanged text is
        not embedded again. Reads only those chunks."""
        ...

    def live_chunks(self) -> list[Chunk]:
        """Every live chunk (reads the whole index: for tests, evaluation, small tools)."""
        ...

    def stored_with(
        self, chunk_ids: Iterable[str], keys: Iterable[tuple[str, tuple[str, ...]]]
    ) -> list[Chunk] | None:
        """Live stored chunks holding one of `chunk_ids` (as their own id or a duplicate's in
        `also`) or whose (text, groups) is in `keys`, read through indexes; None when the
        store cannot answer without reading everything (the caller then uses live_chunks)."""
        ...

    def close(self) -> None: ...


class BM25Scores(Protocol):
    """One query's BM25 scores over a snapshot's rows (ragkit/index/bm25.py)."""

    def all(self) -> np.ndarray:
        """(rows,) float32 score of every row; 0 where not allowed or unmatched."""
        ...

    def at(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) float32 scores of these distinct rows, equal to `all()[rows]`."""
        ...

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best rows with a positive score, best first, ties by row:
        equal to the top k of `all()`."""
        ...


@runtime_checkable
class SearchableSnapshot(IndexSnapshot, Protocol):
    """A snapshot the local `HybridRetriever` searches: rows, access masks, dense and BM25.

    Global rows number every chunk of the snapshot, deleted ones included; the masks and
    searches below never return a deleted row. `allowed` is (len(self),) bool or None (all).
    """

    def __len__(self) -> int: ...

    def chunks_at(self, rows: Sequence[int] | np.ndarray) -> list[Chunk]:
        """The chunks at these rows, in the given order. Raises IndexError past the end."""
        ...

    def readable_rows(self, groups: frozenset[str]) -> np.ndarray | None:
        """Live rows an asker with `groups` may read; None when that is every row."""
        ...

    def dense_search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosines of the k nearest allowed chunks, best first; the filter is applied
        inside the search, so fewer than k come back only when fewer are allowed."""
        ...

    def similarities(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact cosine of the (dim,) query with each row's vector, (len(rows),)."""
        ...

    def bm25(
        self, terms: Sequence[str], allowed: np.ndarray | None, *, k1: float, b: float
    ) -> BM25Scores:
        """One query's Lucene BM25, with N, df and avgdl taken over the allowed rows only (0
        elsewhere): equal to an index that never held the others."""
        ...

    def bm25_scores(
        self, terms: Sequence[str], allowed: np.ndarray | None, *, k1: float, b: float
    ) -> np.ndarray:
        """`bm25(...).all()`: every row's score, (len(self),) float32."""
        ...


@runtime_checkable
class IndexStore(Protocol):
    """Where generations live: load the live one, write a new one atomically.

    Backends: `LocalIndexStore` (a folder of segments, ragkit/index/store.py) and
    `MilvusStore` (Milvus Lite or a server, ragkit/index/milvus_store.py).
    """

    format: Any  # the manifest "format" this backend writes; another one means rebuild

    @property
    def location(self) -> Path | str:
        """What the user named: the folder, or the milvus: spec."""
        ...

    def writing(self) -> AbstractContextManager[None]:
        """Held while a sync writes: one writer per index (a lock file); the Milvus store also
        recovers there what a killed writer left."""
        ...

    def close(self) -> None:
        """Release connections and files; the store may be opened again later."""
        ...

    def read_manifest(self) -> dict[str, Any] | None:
        """The live manifest alone (no vectors), or None when no index exists yet."""
        ...

    def load(self) -> IndexSnapshot:
        """The live generation. Raises IndexStoreError (missing, corrupt, wrong format)."""
        ...

    def write_generation(
        self, manifest: dict[str, Any], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> Path | str:
        """Write chunks and their (len(chunks), dim) float32 unit vectors as the new live
        generation, atomically: a reader sees the old or the new one, never a mix."""
        ...

    def write_changes(
        self,
        manifest: dict[str, Any],
        dropped_ids: Iterable[str],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
    ) -> Path | str:
        """The live index minus the chunks with `dropped_ids`, plus `chunks` (their vectors
        (len(chunks), dim) float32 unit), with `manifest` (whose "files" describe the result).
        Costs what changed, not the corpus."""
        ...
