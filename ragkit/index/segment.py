"""One immutable segment of an index: chunks, vectors, access groups and BM25 postings.

A segment is written once, in a staging folder, and never modified; generations share it by
hard link. Everything a query touches is read lazily or memory-mapped, so opening a segment
costs the same for 1,000 chunks as for 1,000,000:

    chunks.sqlite   table chunks(row = local row, chunk_id, record JSON, dkey), indexed by
                    chunk_id and by dkey (`dedup_key`: the text and groups duplicates are
                    merged by); table also_ids(chunk_id, row): the ids of the duplicates a
                    row carries; table terms(term, col): the BM25 vocabulary, queried per
                    query term. A sync looks up the rows it changes through these indexes
                    (segments written before them have meta.keyed false: that sync reads all)
    vectors.faiss   exact IndexFlatIP below COMPRESS_AT rows, read with IO_FLAG_MMAP_IFC
                    (zero copy); at or above it IndexIVFScalarQuantizer (8-bit codes)
    vectors.npy     float32 (rows, dim) unit vectors, compressed segments only: exact cosines
                    for the final hits, and the source vectors when segments are merged
    groups.npy      int32 (rows,): index into meta.json's group_sets
    bm25-*.npy      BM25 term counts, column-major (CSC): bm25-indptr (terms + 1,) int64,
                    bm25-rows (nnz,) int32, bm25-tf (nnz,) uint16; bm25-lengths (rows,)
                    float32 = terms per chunk after stopwords (BM25's document length)
    meta.json       rows, dim, kind, group_sets, nlist; written last

Why SQLite for chunks: a query needs k chunks by row, an incremental write needs rows by
chunk id; SQLite answers both through an index without parsing the file (Arrow/Parquet is
not installed here and would need a second index for chunk ids). Opening the database and
fetching 10 rows takes well under a millisecond at any size (tests/bench/bench_scale.py).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.index.records import Chunk, readable_by
from ragkit.text.analyse import analyser_for

# What the saved BM25 postings were analysed with: part of the ingest fingerprint, so a
# change of analyser rebuilds the index instead of mixing terms. Bump on any change there.
BM25_ANALYSER = "ragkit.text.analyse english 1"
COMPRESS_AT = 200_000  # rows from which a segment's vectors go into IVF + SQ8
_TRAIN_PER_LIST = 40  # k-means training points per inverted list (faiss warns below 39)
_POSTINGS = ("indptr", "rows", "tf", "lengths")
_CHUNK_COLUMNS = ("source", "title", "text", "start", "end", "page", "headings", "doc_hash")


@dataclass(frozen=True)
class SegmentMeta:
    rows: int
    dim: int
    kind: str  # "flat" (exact) or "ivf-sq8"
    group_sets: list[tuple[str, ...]]
    nlist: int = 0
    group_languages: list[list[str]] | None = None  # per group set: chunk languages ("" = None)
    # per group set: {language: chunks}, the prior a short question's language is told with
    group_language_counts: list[dict[str, int]] | None = None
    keyed: bool = False  # chunks.sqlite has dkey and also_ids (rows found by what they hold)


def write_segment(
    folder: Path, chunks: Sequence[Chunk], vectors: np.ndarray, fsync: Any = None
) -> SegmentMeta:
    """Write chunks and their (len(chunks), dim) float32 unit vectors as a segment in `folder`.

    `fsync(path)` is called on every file written, so the caller controls durability.
    """
    import faiss

    folder.mkdir(parents=True, exist_ok=False)
    rows, dim = int(vectors.shape[0]), int(vectors.shape[1])
    if rows != len(chunks):
        raise ValueError(f"{len(chunks)} chunks but {rows} vectors")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    written: list[Path] = []

    group_index: dict[tuple[str, ...], int] = {}
    group_ids = np.fromiter(
        (group_index.setdefault(tuple(c.groups), len(group_index)) for c in chunks), np.int32, rows
    )
    np.save(folder / "groups.npy", group_ids)
    written.append(folder / "groups.npy")

    vocabulary = _write_postings(folder, chunks)
    written += [folder / f"bm25-{name}.npy" for name in _POSTINGS]
    _write_chunks(folder / "chunks.sqlite", chunks, vocabulary)
    written.append(folder / "chunks.sqlite")

    nlist = 0
    if rows >= COMPRESS_AT:
        nlist = _nlist(rows)
        index = _train_ivf(vectors, nlist)
        np.save(folder / "vectors.npy", vectors)
        written.append(folder / "vectors.npy")
    else:
        index = faiss.IndexFlatIP(dim)
    if rows:
        index.add(vectors)
    faiss.write_index(index, str(folder / "vectors.faiss"))
    written.append(folder / "vectors.faiss")

    languages: dict[int, Counter[str]] = {}
    for chunk, gid in zip(chunks, group_ids.tolist(), strict=True):
        languages.setdefault(gid, Counter())[chunk.language or ""] += 1
    counts = [dict(sorted(languages.get(g, Counter()).items())) for g in range(len(group_index))]
    meta = SegmentMeta(
        rows,
        dim,
        "ivf-sq8" if nlist else "flat",
        list(group_index),
        nlist,
        [sorted(c) for c in counts],
        counts,
        keyed=True,
    )
    with open(folder / "meta.json", "w", encoding="utf-8") as handle:
        json.dump({**meta.__dict__, "group_sets": [list(g) for g in meta.group_sets]}, handle)
    written.append(folder / "meta.json")
    if fsync is not None:
        for path in written:
            fsync(path)
    return meta


def _nlist(rows: int) -> int:
    """Inverted lists: about 2 * sqrt(rows), a power of two (1024 at 250k, 2048 at 1M)."""
    return int(2 ** round(np.log2(2 * np.sqrt(rows))))


def _train_ivf(vectors: np.ndarray, nlist: int) -> Any:
    import faiss

    dim = vectors.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    sample = min(len(vectors), nlist * _TRAIN_PER_LIST)
    rng = np.random.default_rng(0)  # a fixed sample: the same input gives the same index
    picked = np.sort(rng.choice(len(vectors), size=sample, replace=False))
    index.cp.niter = 10
    index.train(vectors[picked])
    return index


def _write_postings(folder: Path, chunks: Sequence[Chunk]) -> dict[str, int]:
    """BM25 term counts as a CSC matrix; returns the vocabulary (term -> column)."""
    import scipy.sparse as sp

    vocabulary: dict[str, int] = {}
    lengths = np.zeros(len(chunks), np.float32)
    blocks: list[np.ndarray] = []  # term columns, one int32 array per 10,000 chunks
    for start in range(0, len(chunks), 10_000):
        terms: list[str] = []
        for row in range(start, min(start + 10_000, len(chunks))):
            chunk = chunks[row]
            chunk_terms = analyser_for(chunk.language).terms(chunk.embedding_text)
            lengths[row] = len(chunk_terms)
            terms += chunk_terms
        for term in sorted(set(terms).difference(vocabulary)):  # sorted: reproducible
            vocabulary[term] = len(vocabulary)
        blocks.append(np.fromiter(map(vocabulary.__getitem__, terms), np.int32, len(terms)))
    cols = np.concatenate(blocks) if blocks else np.zeros(0, np.int32)
    rows = np.repeat(np.arange(len(chunks), dtype=np.int32), lengths.astype(np.int64))
    counts = sp.csc_matrix(  # duplicate (row, term) pairs are summed: tf
        (np.ones(len(cols), np.float32), (rows, cols)),
        shape=(len(chunks), max(len(vocabulary), 1)),
    )
    counts.sum_duplicates()
    counts.sort_indices()
    arrays = {
        "indptr": counts.indptr.astype(np.int64),
        "rows": counts.indices.astype(np.int32),
        "tf": np.minimum(counts.data, 65535).astype(np.uint16),
        "lengths": lengths,
    }
    for name, array in arrays.items():
        np.save(folder / f"bm25-{name}.npy", array)
    return vocabulary


def _write_chunks(path: Path, chunks: Sequence[Chunk], vocabulary: dict[str, int]) -> None:
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")  # the caller fsyncs the finished file
        db.execute(
            "CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT, record TEXT, dkey BLOB)"
        )
        db.execute("CREATE TABLE also_ids (chunk_id TEXT, row INTEGER)")
        db.execute("CREATE TABLE terms (term TEXT PRIMARY KEY, col INTEGER) WITHOUT ROWID")
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?)",
            (
                (row, c.chunk_id, _record(c), dedup_key(c.text, c.groups))
                for row, c in enumerate(chunks)
            ),
        )
        db.executemany(
            "INSERT INTO also_ids VALUES (?, ?)",
            ((o.chunk_id, row) for row, c in enumerate(chunks) for o in c.also),
        )
        db.executemany("INSERT INTO terms VALUES (?, ?)", vocabulary.items())
        db.execute("CREATE INDEX chunk_ids ON chunks (chunk_id)")
        db.execute("CREATE INDEX dkeys ON chunks (dkey)")
        db.execute("CREATE INDEX also_chunk_ids ON also_ids (chunk_id)")
        db.commit()
    finally:
        db.close()


def dedup_key(text: str, groups: Sequence[str]) -> bytes:
    """16 bytes naming (text, groups): chunks equal in both are stored once (ingest/dedup.py)."""
    return hashlib.sha256(json.dumps([text, list(groups)]).encode("utf-8")).digest()[:16]


def _record(chunk: Chunk) -> str:
    """The chunk as JSON (Chunk.to_json, so every field, present and future, round-trips)."""
    record = chunk.to_json()
    del record["chunk_id"]  # its own column
    return json.dumps(record, ensure_ascii=False)


@dataclass
class Segment:
    """An opened segment: memory-mapped arrays, a read-only database, the vector index."""

    path: Path
    meta: SegmentMeta
    index: Any  # faiss index, row i = local row i
    group_ids: np.ndarray  # (rows,) int32, memory-mapped
    lengths: np.ndarray  # (rows,) float32
    indptr: np.ndarray  # (terms + 1,) int64
    posting_rows: np.ndarray  # (nnz,) int32
    posting_tf: np.ndarray  # (nnz,) uint16
    vectors: np.ndarray | None  # (rows, dim) float32, memory-mapped; compressed segments only
    _db: sqlite3.Connection = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: Path) -> Segment:
        """Open without reading the data: arrays and the FAISS index are memory-mapped."""
        import faiss

        raw = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        meta = SegmentMeta(**{**raw, "group_sets": [tuple(g) for g in raw["group_sets"]]})
        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY
        if not (path / "vectors.faiss").is_file():
            raise FileNotFoundError(f"{path.name}/vectors.faiss is missing")
        index = faiss.read_index(str(path / "vectors.faiss"), flags)
        wanted = faiss.IndexFlat if meta.kind == "flat" else faiss.IndexIVFScalarQuantizer
        if not isinstance(index, wanted) or index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(
                f"{path.name}/vectors.faiss is a FAISS {type(index).__name__}, "
                f"its segment ({meta.kind}) needs {wanted.__name__} with inner product"
            )
        if index.ntotal != meta.rows or (meta.rows and index.d != meta.dim):
            raise ValueError(
                f"{path.name}: {meta.rows} chunks of dim {meta.dim}, but {index.ntotal} "
                f"vectors of dim {index.d}"
            )
        postings = {n: load_npy(path / f"bm25-{n}.npy") for n in _POSTINGS}
        vectors = load_npy(path / "vectors.npy") if meta.kind != "flat" else None
        uri = f"file:{path / 'chunks.sqlite'}?mode=ro&immutable=1"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        try:  # max(row) reads one b-tree path: a damaged or short file shows here, cheaply
            (last,) = db.execute("SELECT max(row) FROM chunks").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        if (last if last is not None else -1) + 1 != meta.rows:
            db.close()
            raise ValueError(f"{path.name}: {meta.rows} vectors but chunks up to row {last}")
        return cls(
            path=path,
            meta=meta,
            index=index,
            group_ids=load_npy(path / "groups.npy"),
            lengths=postings["lengths"],
            indptr=postings["indptr"],
            posting_rows=postings["rows"],
            posting_tf=postings["tf"],
            vectors=vectors,
            _db=db,
        )

    def __len__(self) -> int:
        return self.meta.rows

    def languages(self, readable_sets: Iterable[int]) -> Counter[str | None]:
        """Chunks per language in these group sets (None: not told). Counts are as written:
        tombstoned rows still count, which is fine for a prior."""
        per_set = self.meta.group_language_counts or [
            dict.fromkeys(codes, 1)
            for codes in (self.meta.group_languages or [[""]] * len(self.meta.group_sets))
        ]
        found: Counter[str | None] = Counter()
        for g in readable_sets:
            for code, n in per_set[g].items():
                found[code or None] += n
        return found

    def readable(self, groups: frozenset[str]) -> np.ndarray | None:
        """(rows,) bool: which chunks an asker with `groups` may read; None when every one
        (no per-row lookup: at a million rows that lookup is a few ms of every question)."""
        ok = np.array([readable_by(g, groups) for g in self.meta.group_sets] or [True], bool)
        return None if ok.all() else ok[self.group_ids]

    def chunks_at(self, rows: Sequence[int] | np.ndarray) -> list[Chunk]:
        """Chunks at local rows, in the given order."""
        wanted = sorted(set(int(r) for r in rows))
        found: dict[int, Chunk] = {}
        for start in range(0, len(wanted), 500):  # SQLite's bound-variable limit
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            with self._lock:
                cursor = self._db.execute(
                    f"SELECT row, chunk_id, record FROM chunks WHERE row IN ({marks})", part
                )
                found.update((row, _chunk(cid, rec)) for row, cid, rec in cursor)
        try:
            return [found[int(r)] for r in rows]
        except KeyError as exc:
            raise IndexError(f"row {exc.args[0]} is past the end of {self.path.name}") from None

    def iter_chunks(self) -> Iterator[tuple[int, Chunk]]:
        """(local row, chunk) in row order; a fresh cursor, for merging and listing."""
        with self._lock:
            rows = self._db.execute("SELECT row, chunk_id, record FROM chunks ORDER BY row")
            fetched = rows.fetchall()
        for row, cid, record in fetched:
            yield row, _chunk(cid, record)

    def rows_of(self, chunk_ids: Iterable[str]) -> dict[str, list[int]]:
        """Local rows holding each of these chunk ids (absent ids are left out)."""
        ids = list(set(chunk_ids))
        out: dict[str, list[int]] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            with self._lock:
                cursor = self._db.execute(
                    f"SELECT chunk_id, row FROM chunks WHERE chunk_id IN ({marks})", part
                )
                for cid, row in cursor:
                    out.setdefault(cid, []).append(row)
        return out

    def rows_holding(self, chunk_ids: Sequence[str], keys: Sequence[bytes]) -> set[int]:
        """Local rows that hold one of these chunk ids (stored, or carried as a duplicate) or
        whose `dedup_key` is one of `keys`; through SQLite's indexes, not a scan."""
        if not self.meta.keyed:
            raise ValueError(f"{self.path.name} predates row keys: read it whole")
        found: set[int] = set()
        queries: tuple[tuple[str, list[str] | list[bytes]], ...] = (
            ("SELECT row FROM chunks WHERE chunk_id IN ({})", list(chunk_ids)),
            ("SELECT row FROM also_ids WHERE chunk_id IN ({})", list(chunk_ids)),
            ("SELECT row FROM chunks WHERE dkey IN ({})", list(keys)),
        )
        for query, values in queries:
            for start in range(0, len(values), 500):  # SQLite's bound-variable limit
                part = values[start : start + 500]
                with self._lock:
                    cursor = self._db.execute(query.format(",".join("?" * len(part))), part)
                    found.update(row for (row,) in cursor)
        return found

    def term_columns(self, terms: Iterable[str]) -> dict[str, int]:
        """BM25 column of each term this segment holds."""
        wanted = list(set(terms))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._lock:
            query = f"SELECT term, col FROM terms WHERE term IN ({marks})"
            cursor = self._db.execute(query, wanted)
            return dict(cursor.fetchall())

    def postings(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """Local rows and term frequencies of one BM25 column."""
        start, end = int(self.indptr[col]), int(self.indptr[col + 1])
        return self.posting_rows[start:end], self.posting_tf[start:end]

    def vectors_at(self, rows: np.ndarray) -> np.ndarray:
        """Stored unit vectors at local rows, (len(rows), dim) float32, exact."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.vectors is not None:
            return np.asarray(self.vectors[rows], dtype=np.float32)
        if not len(rows):
            return np.zeros((0, self.meta.dim), np.float32)
        return self.index.reconstruct_batch(rows)

    def close(self) -> None:
        self._db.close()


_NPY_LOCK = threading.Lock()


def load_npy(path: Path, *, mmap: bool = True) -> np.ndarray:
    """np.load, memory-mapped, one thread at a time: numpy parses the .npy header with
    ast.literal_eval, and CPython 3.11's compiler fails ("AST constructor recursion depth
    mismatch") when two threads do that at once (a server reloading while a writer writes)."""
    with _NPY_LOCK:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)


def _chunk(chunk_id: str, record: str) -> Chunk:
    values = json.loads(record)
    if not isinstance(values, dict):
        raise ValueError("a chunks.sqlite record is not a JSON object")
    for key in ("groups", "headings"):
        value = values.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"a chunks.sqlite record has '{key}' that is not a list of strings")
    return Chunk.from_json({**values, "chunk_id": chunk_id})
