"""The index on disk: generations of immutable segments (see segment.py), swapped atomically.

Layout of an index directory:

    CURRENT                  name of the live generation, replaced atomically
    gen-000007/
        manifest.json        format, fingerprint, dim, live chunk count, segment names
        files.json           per source file: hash, groups, chunk ids (read by writers)
        seg-000003/          a segment: chunks.sqlite, vectors.faiss, BM25 postings, groups
        seg-000005/          ... hard links to the same files in the previous generation
        deleted-seg-000003.npy   tombstones: local rows of seg-000003 no longer live
    .lock                    held while a writer runs

A write stages a complete new generation in a temporary folder: unchanged segments are hard
links (free), new and changed files go into one new segment, removed ones become tombstones;
past MAX_SEGMENTS segments, or a quarter of a segment deleted, a compaction merges segments.
The folder is fsynced, renamed into place, and only then CURRENT is swapped with
`os.replace`. A process killed at any moment leaves CURRENT naming a complete generation:
the previous one or the new one. Nothing is pickled, so loading a tampered index cannot run
code. Loading maps files into memory and reads nothing else, so a cold start costs the same
at any corpus size.

Readers never lock. A reader resolves CURRENT once and reads that generation as a whole; the
writer keeps superseded generations for a grace period (`GRACE_SECONDS`; hard-linked segment
files cost nothing extra), and should one vanish mid-read anyway, the reader starts again on
the new pointer. A damaged or foreign index is a one-line `IndexStoreError` saying what is
wrong and what to do, never a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ragkit.errors import IndexStoreError
from ragkit.index.records import Chunk
from ragkit.index.segment import Segment, load_npy, write_segment
from ragkit.index.snapshot import IndexSnapshot
from ragkit.strict import loads_json

__all__ = [
    "IndexSnapshot",
    "LocalIndexStore",
    "load_index",
    "open_store",
    "read_manifest",
    "write_changes",
    "write_generation",
    "writer_lock",
]

FORMAT_VERSION = 2  # 1: chunks.jsonl + one flat FAISS index per generation
MAX_SEGMENTS = 8  # more, and all but the largest are merged
DELETED_SHARE = 0.25  # a segment with more of its rows tombstoned is rewritten
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_FILES = "files.json"
_GENERATION = re.compile(r"gen-\d{6}")  # exactly what write_generation names; nothing else
_STAGING = re.compile(r"\.staging-[A-Za-z0-9_]+")  # tempfile.mkdtemp(prefix=".staging-")
_READ_ATTEMPTS = 8  # generation swaps a reader rides out before giving up
# A superseded generation stays on disk this long (the newest KEEP_SUPERSEDED of them), so a
# reader that read CURRENT just before a swap can still load the folder it named.
GRACE_SECONDS = 60.0
KEEP_SUPERSEDED = 2
T = TypeVar("T")


def current_generation(index_dir: Path) -> Path | None:
    """The live generation's folder, or None when the index has no CURRENT pointer yet."""
    name = _read_pointer(Path(index_dir))
    return None if name is None else Path(index_dir) / name


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    """The live manifest with its per-file records (no vectors), or None when there is no index.

    An index in an older format returns its manifest as written: its "format" tells the
    writer to rebuild it, while `load_index` refuses it with a one-line message.
    """
    index_dir = Path(index_dir)
    if not _is_folder(index_dir):
        return None
    loaded = _read_live(index_dir, lambda generation: _manifest_and_files(index_dir, generation))
    return None if loaded is None else loaded[1]


def read_head(index_dir: Path) -> dict[str, Any] | None:
    """The live manifest without its file records (small at any size); None without an index."""
    index_dir = Path(index_dir)
    if not _is_folder(index_dir):
        return None
    loaded = _read_live(index_dir, lambda generation: _load_manifest(index_dir, generation))
    return None if loaded is None else loaded[1]


def load_index(index_dir: Path) -> IndexSnapshot:
    """Load the live generation; a clear error when it is missing, corrupt or inconsistent.

    The generation is opened as one unit (its files are memory-mapped, nothing is parsed
    whole): pointer, manifest, segments and tombstones all belong to the generation CURRENT
    named when the read began. When a writer swaps generations during
    the read (and, after the grace period, deletes the one being read), the read starts
    again on the new pointer; only a failure under an unchanged pointer is reported.
    """
    index_dir = Path(index_dir)
    loaded = _read_live(index_dir, lambda generation: _load_generation(index_dir, generation))
    if loaded is None:
        if _is_milvus_lite(index_dir):
            raise IndexStoreError(_milvus_lite_not_index(index_dir))
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
        if _is_file(index_dir):
            raise IndexStoreError(_file_not_index(index_dir))
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


def _is_file(index_dir: Path) -> bool:
    try:
        return index_dir.is_file()
    except OSError:
        return False


def _file_not_index(path: Path) -> str:
    """A file passed as --index: an index is a folder (or a milvus: spec), never a file."""
    if path.suffix == ".db":
        return f"{path} is a file, not an index folder: for Milvus Lite pass --index milvus:{path}"
    return (
        f"{path} is a file, not an index: pass the folder `ragkit ingest PATH --index DIR` "
        "built, or milvus:PATH.db"
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


def _load_manifest(
    index_dir: Path, generation: Path, *, any_format: bool = False
) -> dict[str, Any]:
    manifest = _read_json_object(index_dir, generation, _MANIFEST)
    if manifest.get("format") != FORMAT_VERSION:
        if any_format:
            return manifest
        raise IndexStoreError(
            f"index {index_dir} has format {str(manifest.get('format'))[:20]}, this ragkit reads "
            f"{FORMAT_VERSION}: rebuild it with `ragkit ingest PATH --index {index_dir}`"
        )
    if not isinstance(manifest.get("fingerprint"), dict):
        raise _corrupt(index_dir, f"{_MANIFEST} has no 'fingerprint' object")
    if not isinstance(manifest.get("segments"), list):
        raise _corrupt(index_dir, f"{_MANIFEST} has no 'segments' list")
    return manifest


def _manifest_and_files(index_dir: Path, generation: Path) -> dict[str, Any]:
    manifest = _load_manifest(index_dir, generation, any_format=True)
    if manifest.get("format") != FORMAT_VERSION:
        return manifest  # an older format: the writer rebuilds it
    return {**manifest, "files": _read_json_object(index_dir, generation, _FILES)}


def _read_json_object(index_dir: Path, generation: Path, name: str) -> dict[str, Any]:
    """A generation's JSON object file; every way it can be bad is a one-line store error."""
    try:
        value = loads_json((generation / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _corrupt(index_dir, f"{generation.name}/{name} is missing") from None
    except PermissionError as exc:
        raise _unreadable(index_dir, exc) from None
    except (OSError, ValueError) as exc:
        raise _corrupt(index_dir, f"{generation.name}/{name}: {_short(exc)}") from None
    if not isinstance(value, dict):
        raise _corrupt(index_dir, f"{name} is JSON {type(value).__name__}, not an object")
    return value


def _load_generation(index_dir: Path, generation: Path) -> IndexSnapshot:
    manifest = _load_manifest(index_dir, generation)
    segments: list[Segment] = []
    deleted: list[np.ndarray] = []
    try:
        for name in manifest["segments"]:
            if not isinstance(name, str) or not re.fullmatch(r"seg-\d{6}", name):
                raise ValueError(f"{_MANIFEST} names segment {str(name)[:40]!r}")
            segments.append(Segment.open(generation / name))
            tomb = generation / f"deleted-{name}.npy"
            deleted.append(_tombstones(tomb, len(segments[-1])))
    except PermissionError as exc:
        _close(segments)
        raise _unreadable(index_dir, exc) from None
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, sqlite3.Error) as exc:
        _close(segments)
        raise _corrupt(index_dir, _short(exc)) from None
    dims = {s.meta.dim for s in segments if len(s)}
    if dims and dims != {manifest.get("dim")}:
        _close(segments)
        raise _corrupt(
            index_dir, f"vectors have {sorted(dims)} dimensions, manifest {manifest.get('dim')}"
        )
    return IndexSnapshot(generation, manifest, segments, deleted)


def _tombstones(path: Path, rows: int) -> np.ndarray:
    if not path.exists():
        return np.zeros(0, np.int64)
    dead = load_npy(path, mmap=False)
    if (
        dead.dtype != np.int64
        or dead.ndim != 1
        or (len(dead) and (dead.min() < 0 or dead.max() >= rows))
    ):
        raise ValueError(f"{path.name} does not hold rows of its segment")
    return dead


def _close(segments: list[Segment]) -> None:
    for segment in segments:
        segment.close()


# What Milvus Lite (3.x) makes of a database path: a folder with these entries.
_MILVUS_LITE_ENTRIES = frozenset({"LOCK", "collections", "databases"})


def _is_milvus_lite(folder: Path) -> bool:
    try:
        return {entry.name for entry in os.scandir(folder)} >= _MILVUS_LITE_ENTRIES
    except OSError:
        return False


def _milvus_lite_not_index(folder: Path) -> str:
    return f"{folder} is a Milvus Lite database, not an index folder: pass --store milvus:{folder}"


def _holds_documents(folder: Path) -> bool:
    """Whether a folder with no index holds anything but what an index folder can hold."""
    for entry in folder.iterdir():
        index_file = entry.name in (_CURRENT, ".lock") or entry.name.startswith(
            ("gen-", ".staging-", f".{_CURRENT}.tmp-")
        )
        if not index_file:
            return True
    return False


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
            # Holding the lock, no other writer is live: a staging folder here was left by a
            # killed one. Swept now, not only at the next commit, because a sync that finds
            # nothing changed never commits and would leave it for good.
            _remove_killed_writers_files(index_dir)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_generation(
    index_dir: Path,
    manifest: dict[str, Any],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,  # (len(chunks), dim), float32, L2-normalised
) -> Path:
    """Write every chunk as one new segment, the only one of a new live generation.

    Call under `writer_lock`. For a sync that changes a few files, `write_changes` costs
    what changed instead.
    """
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    with _Staging(index_dir, manifest) as staging:
        if len(chunks):
            staging.add_segment(chunks, vectors)
        return staging.commit()


def write_changes(
    index_dir: Path,
    manifest: dict[str, Any],
    dropped_ids: Iterable[str],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,  # (len(chunks), dim), float32, L2-normalised
) -> Path:
    """A new live generation = the live one, minus the chunks with `dropped_ids` (tombstoned),
    plus `chunks` in a new segment; merged when past the compaction thresholds.

    Call under `writer_lock`. `manifest` replaces the live one (its "files" must describe the
    result). Costs what changed: unchanged segments are hard-linked, not copied.
    """
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    previous = load_index(index_dir)
    try:
        with _Staging(index_dir, manifest, previous.manifest) as staging:
            gone = previous.live_rows_of(dropped_ids)
            for seg, name in enumerate(previous.manifest["segments"]):
                dead = np.union1d(previous.deleted[seg], np.array(sorted(gone[seg]), np.int64))
                staging.keep_segment(previous.segments[seg], name, dead.astype(np.int64))
            if len(chunks):
                staging.add_segment(chunks, vectors)
            staging.compact()
            return staging.commit()
    finally:
        previous.close()


_NONE = np.zeros(0, np.int64)


class _Staging:
    """A generation being built in a temporary folder; `commit` makes it live."""

    def __init__(
        self, index_dir: Path, manifest: dict[str, Any], head: dict[str, Any] | None = None
    ) -> None:
        self.index_dir = Path(index_dir)
        self.manifest = dict(manifest)
        self.files = self.manifest.pop("files", {})
        self.dim = int(self.manifest.get("dim") or 1)
        if head is None:
            with contextlib.suppress(IndexStoreError):
                head = read_head(self.index_dir)
        # Segment names are never reused, so a hard link never meets a different file.
        self.next_segment = int((head or {}).get("next_segment", 1))
        # (name, opened segment, rows, tombstoned local rows)
        self.segments: list[tuple[str, Segment, int, np.ndarray]] = []
        self._opened: list[Segment] = []

    def __enter__(self) -> _Staging:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.index_dir))
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        for segment in self._opened:
            segment.close()
        if kind is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def add_segment(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.dim = int(vectors.shape[1])
        name = f"seg-{self.next_segment:06d}"
        self.next_segment += 1
        write_segment(self.folder / name, chunks, vectors, fsync=_fsync_path)
        _fsync_path(self.folder / name)
        segment = Segment.open(self.folder / name)
        self._opened.append(segment)
        self.segments.append((name, segment, len(chunks), _NONE))

    def keep_segment(self, segment: Segment, name: str, deleted: np.ndarray) -> None:
        if len(deleted) >= len(segment):
            return  # nothing live is left in it
        (self.folder / name).mkdir()
        for source in segment.path.iterdir():
            try:
                os.link(source, self.folder / name / source.name)
            except OSError:  # a filesystem without hard links
                shutil.copy2(source, self.folder / name / source.name)
        _fsync_path(self.folder / name)
        self.dim = segment.meta.dim
        self.segments.append((name, segment, len(segment), deleted))

    def compact(self) -> None:
        """Merge segments past MAX_SEGMENTS or DELETED_SHARE (see the module docstring)."""
        merge = {n for n, _, rows, dead in self.segments if len(dead) > DELETED_SHARE * rows}
        if len(self.segments) > MAX_SEGMENTS:
            largest = max(self.segments, key=lambda s: s[2] - len(s[3]))[0]
            merge |= {n for n, *_ in self.segments if n != largest}
        if not merge:
            return
        chunks: list[Chunk] = []
        parts: list[np.ndarray] = []
        for name, segment, _, dead in self.segments:
            if name in merge:
                dead_set = set(dead.tolist())
                live = [(row, c) for row, c in segment.iter_chunks() if row not in dead_set]
                chunks += [c for _, c in live]
                parts.append(segment.vectors_at(np.array([r for r, _ in live], np.int64)))
        self.segments = [s for s in self.segments if s[0] not in merge]
        for name in merge:
            shutil.rmtree(self.folder / name, ignore_errors=True)
        if chunks:
            self.add_segment(chunks, np.concatenate(parts))

    def commit(self) -> Path:
        live = 0
        for name, _, rows, dead in self.segments:
            live += rows - len(dead)
            if len(dead):
                np.save(self.folder / f"deleted-{name}.npy", dead)
                _fsync_path(self.folder / f"deleted-{name}.npy")
        manifest = {
            **self.manifest,
            "format": FORMAT_VERSION,
            "dim": self.dim,
            "chunks": live,
            "segments": [name for name, *_ in self.segments],
            "next_segment": self.next_segment,
        }
        with open(self.folder / _FILES, "w", encoding="utf-8") as handle:
            # dumps, not dump: only the one-shot encoder is C (3x faster on 20 MB at 1M chunks)
            handle.write(json.dumps(self.files, sort_keys=True, ensure_ascii=False))
            _fsync(handle)
        # The manifest goes last: a generation with a manifest is complete.
        with open(self.folder / _MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1, sort_keys=True, ensure_ascii=False)
            _fsync(handle)
        _fsync_path(self.folder)
        previous = current_generation(self.index_dir)
        number = int(previous.name.split("-")[1]) + 1 if previous is not None else 1
        final = self.index_dir / f"gen-{number:06d}"
        if final.exists():  # left by a writer killed between rename and pointer swap
            shutil.rmtree(final)
        os.rename(self.folder, final)
        _atomic_write_text(self.index_dir / _CURRENT, final.name + "\n")
        _remove_stale(self.index_dir, keep=final.name)
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
    if foreign and _is_milvus_lite(index_dir):
        raise IndexStoreError(_milvus_lite_not_index(index_dir))
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
    _remove_killed_writers_files(index_dir)
    superseded.sort(reverse=True)  # newest first
    for position, (number, entry) in enumerate(superseded):
        successor = min((n for n in written_at if n > number), default=live)
        age = now - written_at.get(successor, now)
        if position >= KEEP_SUPERSEDED or age >= GRACE_SECONDS:
            shutil.rmtree(entry, ignore_errors=True)


def _remove_killed_writers_files(index_dir: Path) -> None:
    """Delete staging folders and pointer temporaries, by exact name. Call only under
    `writer_lock` (or as its holder, after a commit): then no live writer owns them."""
    for entry in index_dir.iterdir():
        if _STAGING.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{_CURRENT}.tmp-") and entry.is_file():
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
    """The `IndexStore` over a local index folder (segments, generations: module docstring)."""

    format = FORMAT_VERSION

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)

    @property
    def location(self) -> Path:
        return self.index_dir

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """Held while a sync writes: one writer per index folder."""
        return writer_lock(self.index_dir)

    def close(self) -> None:
        """Nothing held between calls (snapshots close themselves)."""

    def read_manifest(self) -> dict[str, Any] | None:
        return read_manifest(self.index_dir)

    def load(self) -> IndexSnapshot:
        return load_index(self.index_dir)

    def write_generation(
        self, manifest: dict[str, Any], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> Path:
        return write_generation(self.index_dir, manifest, chunks, vectors)

    def write_changes(
        self,
        manifest: dict[str, Any],
        dropped_ids: Iterable[str],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
    ) -> Path:
        return write_changes(self.index_dir, manifest, dropped_ids, chunks, vectors)


def open_store(spec: Path | str) -> Any:
    """The store a `--index`/`--store` value names: a folder, milvus:PATH.db, milvus://HOST:PORT."""
    from ragkit.index.milvus_store import MilvusStore, is_milvus

    if is_milvus(spec):
        return MilvusStore(str(spec))
    return LocalIndexStore(spec)
