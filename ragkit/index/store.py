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

Readers never lock. A reader resolves CURRENT once and reads that generation as a whole; the
writer keeps superseded generations for a grace period (`GRACE_SECONDS`), and should one
vanish mid-read anyway, the reader starts again on the new pointer. A damaged or foreign
index is a one-line `IndexStoreError` saying what is wrong and what to do, never a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ragkit.errors import IndexStoreError
from ragkit.index.records import Chunk
from ragkit.strict import loads_json

FORMAT_VERSION = 1
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_CHUNKS = "chunks.jsonl"
_VECTORS = "vectors.faiss"
_GENERATION = re.compile(r"gen-\d{6}")  # exactly what write_generation names; nothing else
_STAGING = re.compile(r"\.staging-[A-Za-z0-9_]+")  # tempfile.mkdtemp(prefix=".staging-")
_READ_ATTEMPTS = 8  # generation swaps a reader rides out before giving up
# A superseded generation stays on disk this long (the newest KEEP_SUPERSEDED of them), so a
# reader that read CURRENT just before a swap can still load the folder it named.
GRACE_SECONDS = 60.0
KEEP_SUPERSEDED = 2
T = TypeVar("T")


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
    """The live generation's folder, or None when the index has no CURRENT pointer yet."""
    name = _read_pointer(Path(index_dir))
    return None if name is None else Path(index_dir) / name


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live manifest alone (cheap: no vectors), or None when there is no index yet."""
    index_dir = Path(index_dir)
    if not _is_folder(index_dir):
        return None
    loaded = _read_live(index_dir, lambda generation: _load_manifest(index_dir, generation))
    return None if loaded is None else loaded[1]


def load_index(index_dir: Path) -> IndexSnapshot:
    """Load the live generation; a clear error when it is missing, corrupt or inconsistent.

    The generation is read as one unit: pointer, manifest, chunks and vectors all belong to
    the generation CURRENT named when the read began. When a writer swaps generations during
    the read (and, after the grace period, deletes the one being read), the read starts
    again on the new pointer; only a failure under an unchanged pointer is reported.
    """
    index_dir = Path(index_dir)
    loaded = _read_live(index_dir, lambda generation: _load_generation(index_dir, generation))
    if loaded is None:
        if _holds_documents(index_dir):
            raise IndexStoreError(
                f"{index_dir} is a folder of documents, not an index: build an index from it "
                f"with `ragkit ingest {index_dir} --index .index`, then pass --index .index"
            )
        raise IndexStoreError(
            f"{index_dir} holds no index: build one with `ragkit ingest PATH --index {index_dir}`"
        )
    return loaded[1]


def live_generation_name(index_dir: Path) -> str | None:
    """What CURRENT names now (one small read), for long-lived readers checking for a swap."""
    return _read_pointer(Path(index_dir))


def _read_live(index_dir: Path, read: Callable[[Path], T]) -> tuple[str, T] | None:
    """`read(generation folder)` for the live generation, retried when a writer swaps it."""
    if not _is_folder(index_dir):
        raise IndexStoreError(
            f"no index at {index_dir}: build one with `ragkit ingest PATH --index {index_dir}`"
        )
    name = _read_pointer(index_dir)
    for _ in range(_READ_ATTEMPTS):
        if name is None:
            return None
        try:
            return name, read(index_dir / name)
        except IndexStoreError:
            now = _read_pointer(index_dir)
            if now == name:
                raise  # the same generation still fails: it really is damaged
            name = now  # a writer swapped generations under us: read the new one
    raise IndexStoreError(
        f"index {index_dir} changed {_READ_ATTEMPTS} times while it was being read: "
        "a writer is replacing it very fast; try again"
    )


def _is_folder(index_dir: Path) -> bool:
    try:
        return index_dir.is_dir()
    except OSError as exc:
        raise _unreadable(index_dir, exc) from None


def _read_pointer(index_dir: Path) -> str | None:
    pointer = index_dir / _CURRENT
    try:
        raw = pointer.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(index_dir, exc) from None
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _corrupt(index_dir, f"{_CURRENT} is not UTF-8 text") from None
    if not _GENERATION.fullmatch(name):
        raise _corrupt(index_dir, f"{_CURRENT} names {name[:40]!r}, not a gen-NNNNNN folder")
    return name


def _load_manifest(index_dir: Path, generation: Path) -> dict[str, Any]:
    try:
        manifest = loads_json((generation / _MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _corrupt(index_dir, f"{generation.name}/{_MANIFEST} is missing") from None
    except PermissionError as exc:
        raise _unreadable(index_dir, exc) from None
    except (OSError, ValueError) as exc:
        raise _corrupt(index_dir, f"{generation.name}/{_MANIFEST}: {_short(exc)}") from None
    if not isinstance(manifest, dict):
        raise _corrupt(index_dir, f"{_MANIFEST} is JSON {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexStoreError(
            f"index {index_dir} has format {str(manifest.get('format'))[:20]}, this ragkit reads "
            f"{FORMAT_VERSION}: delete the folder and build it again with "
            f"`ragkit ingest PATH --index {index_dir}`"
        )
    for key in ("fingerprint", "files"):
        if not isinstance(manifest.get(key), dict):
            raise _corrupt(index_dir, f"{_MANIFEST} has no '{key}' object")
    return manifest


def _load_generation(index_dir: Path, generation: Path) -> IndexSnapshot:
    manifest = _load_manifest(index_dir, generation)
    try:
        with open(generation / _CHUNKS, encoding="utf-8") as handle:
            chunks = [_chunk(json.loads(line)) for line in handle if line.strip()]
        vectors_index = _read_faiss(generation / _VECTORS)
    except PermissionError as exc:
        raise _unreadable(index_dir, exc) from None
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise _corrupt(index_dir, _short(exc)) from None
    if not _is_flat_inner_product(vectors_index):
        raise _corrupt(
            index_dir,
            f"{_VECTORS} is a FAISS {type(vectors_index).__name__}, ragkit writes IndexFlatIP",
        )
    if vectors_index.ntotal != len(chunks):
        raise _corrupt(index_dir, f"{len(chunks)} chunks but {vectors_index.ntotal} vectors")
    dim = manifest.get("dim")
    if len(chunks) and isinstance(dim, int) and vectors_index.d != dim:
        raise _corrupt(index_dir, f"vectors have {vectors_index.d} dimensions, manifest {dim}")
    return IndexSnapshot(generation, manifest, chunks, vectors_index)


def _chunk(record: Any) -> Chunk:
    """A chunk store line; groups and headings must be lists of text (a string is refused)."""
    if not isinstance(record, dict):
        raise ValueError(f"a {_CHUNKS} line is JSON {type(record).__name__}, not an object")
    for key in ("groups", "headings"):
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"a {_CHUNKS} line has '{key}' that is not a list of strings")
    return Chunk.from_json(record)


def _holds_documents(folder: Path) -> bool:
    """Whether a folder with no index holds anything but what an index folder can hold."""
    for entry in folder.iterdir():
        index_file = entry.name in (_CURRENT, ".lock") or entry.name.startswith(
            ("gen-", ".staging-", f".{_CURRENT}.tmp-")
        )
        if not index_file:
            return True
    return False


def _read_faiss(path: Path) -> Any:
    import faiss

    if not path.is_file():
        raise FileNotFoundError(f"{path.parent.name}/{path.name} is missing")
    return faiss.read_index(str(path))


def _is_flat_inner_product(index: Any) -> bool:
    import faiss

    return isinstance(index, faiss.IndexFlat) and index.metric_type == faiss.METRIC_INNER_PRODUCT


def _corrupt(index_dir: Path, what: str) -> IndexStoreError:
    return IndexStoreError(
        f"index {index_dir} is corrupt ({what}): delete the folder and build it again with "
        f"`ragkit ingest PATH --index {index_dir}`"
    )


def _unreadable(index_dir: Path, exc: OSError) -> IndexStoreError:
    return IndexStoreError(
        f"cannot read index {index_dir} ({exc.strerror or exc}): give this user read access "
        "to the folder and its files, or point --index elsewhere"
    )


def _short(exc: BaseException) -> str:
    """An exception as one short line (FAISS messages span several lines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time; a second ingest fails fast instead of interleaving."""
    check_index_folder(index_dir)
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


def check_index_folder(index_dir: Path) -> None:
    """Refuse to write an index into a folder that holds something else.

    An index folder is new, empty, or holds only names ragkit creates (CURRENT, .lock,
    generations, staging folders). Anything else means the path is a mistake (`--index docs`):
    raise IndexStoreError instead of mixing an index into, or later cleaning, someone's data.
    """
    if not index_dir.exists() and not index_dir.is_symlink():
        return
    if not index_dir.is_dir():
        raise IndexStoreError(f"--index {index_dir} is a file, not a folder: choose another path")
    try:
        names = [entry.name for entry in os.scandir(index_dir)]
    except OSError as exc:
        raise _unreadable(index_dir, exc) from None
    if _CURRENT in names:
        return
    foreign = sorted(name for name in names if not _ragkit_name(name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise IndexStoreError(
            f"--index {index_dir} is a non-empty folder that is not a ragkit index (it holds "
            f"{shown}): choose a new or empty folder for the index"
        )


def _ragkit_name(name: str) -> bool:
    return (
        name in (_CURRENT, ".lock")
        or _GENERATION.fullmatch(name) is not None
        or _STAGING.fullmatch(name) is not None
        or (name.startswith(f".{_CURRENT}.tmp-") and name[len(_CURRENT) + 6 :].isdigit())
    )


def _remove_stale(index_dir: Path, keep: str, now: float | None = None) -> None:
    """Delete what ragkit wrote and no longer needs, matched by exact name, nothing else.

    Superseded generations go once they are older than `GRACE_SECONDS` or more than
    `KEEP_SUPERSEDED` newer ones exist: a reader that read CURRENT just before the swap may
    still be loading one (long-lived readers hold what they loaded in memory). A
    generation's age counts from when the next one was written (that folder's mtime).
    Staging folders and pointer temporaries of killed writers go at once.
    """
    now = time.time() if now is None else now
    live = int(keep.split("-")[1])
    superseded: list[tuple[int, Path]] = []
    written_at: dict[int, float] = {}
    for entry in index_dir.iterdir():
        if _GENERATION.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            number = int(entry.name.split("-")[1])
            written_at[number] = entry.stat().st_mtime
            if number < live:
                superseded.append((number, entry))
            elif number > live:  # renamed by a writer killed before the swap: never live
                shutil.rmtree(entry, ignore_errors=True)
        elif _STAGING.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{_CURRENT}.tmp-") and entry.is_file():
            entry.unlink(missing_ok=True)
    superseded.sort(reverse=True)  # newest first
    for position, (number, entry) in enumerate(superseded):
        successor = min((n for n in written_at if n > number), default=live)
        age = now - written_at.get(successor, now)
        if position >= KEEP_SUPERSEDED or age >= GRACE_SECONDS:
            shutil.rmtree(entry, ignore_errors=True)


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
