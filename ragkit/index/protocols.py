"""The index core's seams: what an embedding model and an index store must provide.

Backends (the bundled numpy/torch BERT encoder, the hashing embedder, the local generation
store, later a Milvus store) implement these structurally: no base class to inherit, and a
contract test suite that every backend passes.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """One immutable generation of an index: chunks by row, their vectors, the manifest.

    Row i of the vector index belongs to chunk i. A snapshot never changes after loading;
    a writer makes a new generation instead.
    """

    path: Path
    manifest: dict[str, Any]

    @property
    def fingerprint(self) -> dict[str, Any]: ...

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Per source file: its hash, groups and chunk ids, as the sync last saw it."""
        ...

    def __len__(self) -> int:
        """Number of chunks (= vector rows)."""
        ...

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        """The chunks at these vector rows, in the given order. Raises IndexError past the end."""
        ...

    def vectors_by_id(self) -> dict[str, np.ndarray]:
        """Stored embedding per chunk id ((dim,) float32), so unchanged text is not re-embedded."""
        ...


@runtime_checkable
class IndexStore(Protocol):
    """Where generations live: load the live one, write a new one atomically."""

    def read_manifest(self) -> dict[str, Any] | None:
        """The live manifest alone (no vectors), or None when no index exists yet."""
        ...

    def load(self) -> IndexSnapshot:
        """The live generation. Raises IndexStoreError (missing, corrupt, wrong format)."""
        ...

    def write_generation(
        self, manifest: dict[str, Any], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> Path:
        """Write chunks and their (len(chunks), dim) float32 unit vectors as the new live
        generation, atomically: a reader sees the old or the new one, never a mix."""
        ...
