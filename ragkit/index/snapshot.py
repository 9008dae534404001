"""A loaded generation: its segments side by side in one row space, minus tombstones.

Global row r belongs to the segment whose offset range holds it (segments in manifest
order). Deleted rows (tombstones) stay in their segment until a compaction rewrites it;
they are never readable, never counted in BM25 statistics and never searched.

Search primitives live here because they depend on the layout; the retriever fuses them:
  - `dense_search`: per segment FAISS top-k, with the readable rows as an `IDSelectorBitmap`
    inside the search (exact for flat segments; IVF segments widen the probe until they
    return every readable row they can, so a filter never leaves the list short), merged.
  - `bm25`: Lucene BM25 computed at query time from saved term counts (ragkit/index/bm25.py:
    exact scores, and an exact top-k that skips most postings). N, df and avgdl are taken
    over the rows the caller may read, across all segments, so a score is exactly the score
    in an index that never held the hidden or deleted chunks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.errors import IndexStoreError
from ragkit.index.bm25 import BM25Query
from ragkit.index.records import Chunk, readable_by
from ragkit.index.segment import Segment, dedup_key

# IVF lists probed per query: three eighths of them (at least 64), and at most MAX_CODES
# 8-bit codes read. Chosen on SciFact's train queries (300) over SciFact-variant chunks
# (hash:384) with tests/bench/bench_ivf_probe.py --split train at two sizes (README, scale):
# at 920k rows (2,048 lists) recall@10 against exact search is 0.963 at 256 probes, 0.993 at
# 512; at 240k rows (1,024 lists) 0.980 at 256, 0.993 at 384. k-means lists on these vectors
# are uneven (920k rows: mean 449, largest 8,585) and a question's nearest lists are the big
# ones, so the probes alone read up to half the rows at 1M: the code cap bounds that time
# (FAISS stops after the list that passes it). A cap as a share of the rows cost recall at
# 240k (0.980 -> 0.967), so it is a count: a time budget that binds only on large segments.
# bench_scale.py reports recall on the test queries. NPROBE None: the rule; an int: fixed.
NPROBE: int | None = None
NPROBE_FRACTION = 0.375
NPROBE_MIN = 64
MAX_CODES = 270_000  # 0: no cap
RERANK = 4  # an IVF segment returns RERANK x k rows by its 8-bit codes, re-scored exactly


class IndexSnapshot:
    """One immutable generation, opened lazily (see module docstring)."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        segments: list[Segment],
        deleted: list[np.ndarray],  # per segment: sorted local rows that are tombstoned
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.segments = segments
        self.deleted = deleted
        sizes = [len(s) for s in segments]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self._files: dict[str, dict[str, Any]] | None = None
        self._alive: np.ndarray | None = None
        if any(len(d) for d in deleted):
            alive = np.ones(int(self.offsets[-1]), bool)
            for offset, rows in zip(self.offsets, deleted, strict=False):
                alive[offset + rows] = False
            self._alive = alive
        self._lengths: np.ndarray | None = None
        self._lengths_f32: np.ndarray | None = None

    @property
    def fingerprint(self) -> dict[str, Any]:
        return self.manifest["fingerprint"]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Per source file: hash, groups, chunk ids. Read on first use (large at scale)."""
        if self._files is None:
            with open(self.path / "files.json", encoding="utf-8") as handle:
                self._files = json.load(handle)
        return self._files

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    def __len__(self) -> int:
        """Rows in the row space, tombstoned ones included (see `live_count`)."""
        return int(self.offsets[-1])

    @property
    def live_count(self) -> int:
        return len(self) if self._alive is None else int(self._alive.sum())

    # -- chunks ---------------------------------------------------------------------------

    def chunks_at(self, rows: Sequence[int] | np.ndarray) -> list[Chunk]:
        """The chunks at these global rows, in the given order. IndexError past the end."""
        wanted = np.asarray(rows, dtype=np.int64)
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= len(self)):
            raise IndexError(f"row {int(wanted.max())} is past the end ({len(self)} rows)")
        which = np.searchsorted(self.offsets, wanted, side="right") - 1
        out: list[Chunk | None] = [None] * len(wanted)
        for seg in np.unique(which):
            picked = np.flatnonzero(which == seg)
            local = wanted[picked] - self.offsets[seg]
            for i, chunk in zip(picked, self.segments[seg].chunks_at(local), strict=True):
                out[i] = chunk
        return out  # type: ignore[return-value]

    def live_chunks(self) -> list[Chunk]:
        """Every live chunk, in row order (reads the whole store: for tests and tools)."""
        out = []
        for seg, segment in enumerate(self.segments):
            dead = set(self.deleted[seg].tolist())
            out += [c for row, c in segment.iter_chunks() if row not in dead]
        return out

    def vectors_by_id(self) -> dict[str, np.ndarray]:
        """Every live chunk's stored vector (reads everything: prefer `vectors_for`)."""
        return self.vectors_for(c.chunk_id for c in self.live_chunks())

    def vectors_for(self, chunk_ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored (dim,) float32 vectors of those live chunks that hold these ids."""
        ids = list(chunk_ids)
        out: dict[str, np.ndarray] = {}
        for seg, rows in enumerate(self.live_rows_of(ids)):
            found = self.segments[seg].rows_of(ids)
            pairs = [(cid, r) for cid, rs in found.items() for r in rs if r in rows]
            if pairs:
                vectors = self.segments[seg].vectors_at(np.array([r for _, r in pairs]))
                out.update((cid, vectors[i]) for i, (cid, _) in enumerate(pairs))
        return out

    def stored_with(
        self, chunk_ids: Iterable[str], keys: Iterable[tuple[str, tuple[str, ...]]]
    ) -> list[Chunk] | None:
        """Live stored chunks that hold one of `chunk_ids` (their own id, or a duplicate's in
        `also`) or whose (text, groups) is one of `keys`: what a sync that changes those
        chunks must rewrite. Found through indexes, so it costs what is asked for; None when a
        segment predates those indexes (the caller then reads the whole index)."""
        if not all(segment.meta.keyed for segment in self.segments):
            return None
        ids = sorted(set(chunk_ids))
        digests = sorted({dedup_key(text, groups) for text, groups in keys})
        out: list[Chunk] = []
        for seg, segment in enumerate(self.segments):
            rows = segment.rows_holding(ids, digests).difference(self.deleted[seg].tolist())
            out += segment.chunks_at(sorted(rows))
        return out

    def live_rows_of(self, chunk_ids: Iterable[str]) -> list[set[int]]:
        """Per segment, the live local rows holding any of these chunk ids."""
        ids = list(chunk_ids)
        result = []
        for seg, segment in enumerate(self.segments):
            rows = {r for rs in segment.rows_of(ids).values() for r in rs}
            result.append(rows.difference(self.deleted[seg].tolist()))
        return result

    # -- access -----------------------------------------------------------------------------

    def languages(self, groups: frozenset[str] | None) -> Counter[str | None]:
        """Chunks per language that an asker with `groups` may read (None: every chunk).

        Read from each segment's per-group-set counts: a few dictionary sums per question,
        whatever the corpus size, and the same work for every asker. Tombstoned chunks still
        count until a compaction drops them, which is fine for a prior.
        """
        found: Counter[str | None] = Counter()
        for segment in self.segments:
            sets = segment.meta.group_sets
            readable = [
                g for g, names in enumerate(sets) if groups is None or readable_by(names, groups)
            ]
            found += segment.languages(readable)
        return found

    def group_names(self) -> frozenset[str]:
        """Every access group some chunk names (from segment metadata, no chunk is read)."""
        return frozenset(g for s in self.segments for gs in s.meta.group_sets for g in gs)

    def readable_rows(self, groups: frozenset[str]) -> np.ndarray | None:
        """(len(self),) bool: live rows an asker with `groups` may read; None = every row."""
        masks = [segment.readable(groups) for segment in self.segments]
        if all(m is None for m in masks):  # every group set readable: the live rows
            return None if self._alive is None else self._alive.copy()
        mask = np.concatenate(
            [
                np.ones(len(s), bool) if m is None else m
                for s, m in zip(self.segments, masks, strict=True)
            ]
        )
        if self._alive is not None:
            mask &= self._alive
        return None if mask.all() else mask

    # -- dense ------------------------------------------------------------------------------

    def dense_search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Global rows and cosines of the k nearest readable chunks, best first.

        `query`: (dim,) float32 unit vector; `allowed`: (len(self),) bool or None (all).
        """
        import faiss

        if query.shape != (self.dim,):
            raise IndexStoreError(
                f"query vector has shape {query.shape} but the index holds {self.dim}-dimensional "
                "vectors: query with the model the index was built with"
            )
        found_rows, found_scores = [], []
        for seg, segment in enumerate(self.segments):
            start, end = int(self.offsets[seg]), int(self.offsets[seg + 1])
            part = None if allowed is None else allowed[start:end]
            limit = len(segment) if part is None else int(part.sum())
            kk = min(k, limit)
            if kk <= 0:
                continue
            bitmap = None if part is None else np.packbits(part, bitorder="little")
            if segment.meta.nlist:
                # 8-bit codes reorder near ties: take RERANK x k by code, keep the k best by
                # the exact float32 vectors (read for those rows only).
                wide = min(limit, max(RERANK * kk, kk))
                rows, _ = _search(faiss, segment, query, wide, bitmap)
                scores = segment.vectors_at(rows) @ query.astype(np.float32)
                best = np.lexsort((rows, -scores))[:kk]
                rows, scores = rows[best], scores[best]
            else:
                rows, scores = _search(faiss, segment, query, kk, bitmap)
            found_rows.append(rows + start)
            found_scores.append(scores)
        if not found_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        rows, scores = np.concatenate(found_rows), np.concatenate(found_scores)
        order = np.lexsort((rows, -scores))[:k]
        return rows[order], scores[order]

    def similarities(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact cosine of the query with the vectors at global rows, (len(rows),)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), np.float32)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for seg in np.unique(which):
            picked = np.flatnonzero(which == seg)
            vectors = self.segments[seg].vectors_at(rows[picked] - self.offsets[seg])
            out[picked] = vectors @ query.astype(np.float32)
        return out

    # -- BM25 ---------------------------------------------------------------------------------

    def bm25(
        self, terms: Sequence[str], allowed: np.ndarray | None, *, k1: float, b: float
    ) -> BM25Query:
        """One query's Lucene BM25 (repeated terms count), with N, df and avgdl taken over the
        rows in `allowed` (None: all rows) only; other rows score 0. Its `top(k)` is the exact
        top k without scoring every posting, `at(rows)` scores chosen rows, `all()` every row
        (ragkit/index/bm25.py)."""
        lengths = self._all_lengths()
        return BM25Query(
            self.segments,
            self.offsets,
            self._lengths32(),
            float(lengths.sum(dtype=np.float64)),
            terms,
            allowed,
            k1=k1,
            b=b,
        )

    def bm25_scores(
        self, terms: Sequence[str], allowed: np.ndarray | None, *, k1: float, b: float
    ) -> np.ndarray:
        """Lucene BM25 of every row for these query terms, (len(self),) float32 (`bm25`)."""
        return self.bm25(terms, allowed, k1=k1, b=b).all()

    def view_terms(self, terms: Sequence[str], allowed: np.ndarray | None) -> list[str]:
        """The query terms some allowed row holds: a word only hidden chunks hold is dropped
        exactly like a word no chunk holds."""
        return [t.name for t in self.bm25(terms, allowed, k1=1.5, b=0.75).terms]

    def _lengths32(self) -> np.ndarray:
        if self._lengths_f32 is None:
            self._lengths_f32 = self._all_lengths().astype(np.float32)
        return self._lengths_f32

    def _all_lengths(self) -> np.ndarray:
        if self._lengths is None:
            parts = [np.asarray(s.lengths, np.float64) for s in self.segments]
            self._lengths = np.concatenate(parts) if parts else np.zeros(0)
        return self._lengths

    def close(self) -> None:
        for segment in self.segments:
            segment.close()


def _search(
    faiss: Any, segment: Segment, query: np.ndarray, k: int, bitmap: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """One segment's top-k among the rows set in `bitmap` (None: all), local rows."""
    selector = None
    if bitmap is not None:
        selector = faiss.IDSelectorBitmap(len(segment), faiss.swig_ptr(bitmap))
    nlist = segment.meta.nlist
    nprobe = min(NPROBE or max(NPROBE_MIN, int(nlist * NPROBE_FRACTION)), nlist)
    max_codes = MAX_CODES if len(segment) > MAX_CODES else 0
    while True:
        if nlist:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe, max_codes=max_codes)
        else:
            params = None if selector is None else faiss.SearchParameters(sel=selector)
        vector = query.reshape(1, -1).astype(np.float32)
        scores, rows = segment.index.search(vector, k, params=params)  # (1, k) each
        found = rows[0] >= 0
        if found.sum() >= k or not nlist or (nprobe >= nlist and not max_codes):
            # `bitmap` and `selector` stay referenced until here: FAISS holds raw pointers.
            return rows[0][found].astype(np.int64), scores[0][found]
        # A narrow filter: probe wider, and read more codes, until k are found.
        nprobe = min(nprobe * 4, nlist)
        max_codes = 0 if max_codes * 4 >= len(segment) else max_codes * 4
