"""The index on disk: a FAISS index of normalised embeddings plus a JSON chunk store.

Layout of an index directory:

    CURRENT              name of the live generation, replaced atomically
    gen-000007/
        manifest.json    fingerprint, per-file records, counts
        chunks.jsonl     one chunk per line; line i is FAISS row i
        vectors.faiss    faiss.IndexFlatIP over the chunk embeddings
    .lock                held while a writer runs

A write builds a complete new generation in a temporary folder, fsyncs it, renames it into
place and only then swaps CURRENT with `os.replace`. A process killed at any moment leaves
CURRENT naming a complete generation: the previous one or the new one. Nothing is pickled,
so loading a tampered index cannot run code.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.errors import IndexStoreError
from ragkit.index.records import Chunk

FORMAT_VERSION = 1
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_CHUNKS = "chunks.jsonl"
_VECTORS = "vectors.faiss"


@dataclass
class IndexSnapshot:
    """One generation of an index, loaded into memory."""

    path: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors_index: Any  # faiss.IndexFlatIP; row i belongs to chunks[i]

    @property
    def fingerprint(self) -> dict[str, Any]:
        return self.manifest["fingerprint"]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.manifest["files"]

    def __len__(self) -> int:
        return len(self.chunks)

    def chunks_at(self, rows: Sequence[int]) -> list[Chunk]:
        return [self.chunks[row] for row in rows]

    def vectors_by_id(self) -> dict[str, np.ndarray]:
        """Stored embedding per chunk id, so unchanged text is never embedded again."""
        if not self.chunks:
            return {}
        matrix = self.vectors_index.reconstruct_n(0, self.vectors_index.ntotal)
        return {chunk.chunk_id: matrix[row] for row, chunk in enumerate(self.chunks)}


def current_generation(index_dir: Path) -> Path | None:
    pointer = index_dir / _CURRENT
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if not name.startswith("gen-") or "/" in name:
        raise IndexStoreError(f"{pointer} is corrupt (names '{name}'): re-run ragkit ingest")
    return index_dir / name


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live manifest alone (cheap: no vectors), or None when there is no index yet."""
    generation = current_generation(index_dir)
    if generation is None:
        return None
    try:
        return json.loads((generation / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexStoreError(
            f"index {index_dir} is corrupt ({_MANIFEST}: {exc}): rebuild it with ragkit ingest"
        ) from exc


def load_index(index_dir: Path) -> IndexSnapshot:
    """Load the live generation; a clear error when it is missing, corrupt or inconsistent."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        raise IndexStoreError(
            f"no index at {index_dir}: build one with `ragkit ingest PATH --index {index_dir}`"
        )
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexStoreError(
            f"{index_dir} holds no index: build one with `ragkit ingest PATH --index {index_dir}`"
        )
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexStoreError(
            f"index {index_dir} has format {manifest.get('format')}, this ragkit reads "
            f"{FORMAT_VERSION}: rebuild it with ragkit ingest"
        )
    generation = current_generation(index_dir)
    assert generation is not None
    try:
        with open(generation / _CHUNKS, encoding="utf-8") as handle:
            chunks = [Chunk.from_json(json.loads(line)) for line in handle if line.strip()]
        vectors_index = _read_faiss(generation / _VECTORS)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise IndexStoreError(
            f"index {index_dir} is corrupt ({exc}): rebuild it with ragkit ingest"
        ) from exc
    if vectors_index.ntotal != len(chunks):
        raise IndexStoreError(
            f"index {index_dir} is corrupt ({len(chunks)} chunks but {vectors_index.ntotal} "
            "vectors): rebuild it with ragkit ingest"
        )
    return IndexSnapshot(generation, manifest, chunks, vectors_index)


def _read_faiss(path: Path) -> Any:
    import faiss

    return faiss.read_index(str(path))


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time; a second ingest fails fast instead of interleaving."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexStoreError(
                f"index {index_dir} is being written by another ragkit process: wait for it"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_generation(
    index_dir: Path,
    manifest: dict[str, Any],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,  # (len(chunks), dim), float32, L2-normalised
) -> Path:
    """Write a complete new generation and make it live atomically. Call under `writer_lock`."""
    import faiss

    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    dim = int(vectors.shape[1]) if len(vectors) else int(manifest.get("dim") or 1)
    manifest = {**manifest, "format": FORMAT_VERSION, "dim": dim, "chunks": len(chunks)}
    previous = current_generation(index_dir)
    number = int(previous.name.split("-")[1]) + 1 if previous is not None else 1
    final = index_dir / f"gen-{number:06d}"

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=index_dir))
    try:
        with open(staging / _CHUNKS, "w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
            _fsync(handle)
        flat = faiss.IndexFlatIP(dim)
        if len(vectors):
            flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(flat, str(staging / _VECTORS))
        _fsync_path(staging / _VECTORS)
        # The manifest goes last: a generation with a manifest is complete.
        with open(staging / _MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1, sort_keys=True, ensure_ascii=False)
            _fsync(handle)
        _fsync_path(staging)
        if final.exists():  # left by a writer killed between rename and pointer swap
            shutil.rmtree(final)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _atomic_write_text(index_dir / _CURRENT, final.name + "\n")
    _remove_stale(index_dir, keep=final.name)
    return final


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        _fsync(handle)
    os.replace(tmp, path)
    _fsync_path(path.parent)


def _remove_stale(index_dir: Path, keep: str) -> None:
    """Old generations and staging folders of killed writers; readers hold data in memory."""
    for entry in index_dir.iterdir():
        stale_generation = entry.name.startswith("gen-") and entry.name != keep
        if entry.is_dir() and (stale_generation or entry.name.startswith(".staging-")):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{_CURRENT}.tmp-"):
            entry.unlink(missing_ok=True)


def _fsync(handle: Any) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalIndexStore:
    """The `IndexStore` over a local index folder (FAISS + JSON chunk store, generations)."""

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)

    def read_manifest(self) -> dict[str, Any] | None:
        return read_manifest(self.index_dir)

    def load(self) -> IndexSnapshot:
        return load_index(self.index_dir)

    def write_generation(
        self, manifest: dict[str, Any], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> Path:
        return write_generation(self.index_dir, manifest, chunks, vectors)
