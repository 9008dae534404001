"""BM25 for one query over a snapshot's saved postings: exact scores, and an exact top-k that
reads only the postings it needs.

Scores are Lucene BM25 with N, df and avgdl over the rows the asker may read (`allowed`):

    score(d) = sum over query terms t (repeats count) of idf(t) * tf / (tf + c0 + c1 * len(d))
    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),  c0 = k1 (1 - b),  c1 = k1 b / avgdl

Every path computes a (row, term) contribution with the same float32 operations
(`_contribution`) and adds a row's contributions in query-term order, so a score is the same
float32 number whichever path computed it: `all` (every row), `at` (chosen rows) or `top`.

`top(k)` is MaxScore (Turtle and Flood, 1995) done with arrays. tf / (tf + norm) < 1, so a
term adds less than its weight (repeats x idf) to any row: that weight is the term's upper
bound, and needs nothing stored at ingest. Terms are taken highest bound first (rare terms,
short postings, first). Taking term i reads its postings and keeps the rows that hold none of
the terms before it; such a row scores at most its share of term i plus the bounds of the
terms after i, and is scored exactly (`at`: a binary search per query term) unless that
bound is below the k-th best exact score found so far. Once the bounds of the terms not yet
taken sum to less than that k-th score, no unread row can reach the top k and the postings
of the remaining (common) terms are never read. Ties are broken by row as `top_rows` does, so
the result is the exhaustive top k, row for row and bit for bit; `tests/test_bm25_topk.py`
checks it on random corpora, queries and access filters.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragkit.text.analyse import lucene_idf

# Relative slack per query term on every bound: float32 sums of n terms taken in another
# order differ by at most n ulps (2**-24 each), and a bound must never fall below what it bounds.
_SLACK_PER_TERM = 2.0**-21
# A posting list longer than this is read only after the best rows found so far have been
# scored in full (a binary search per remaining term for k rows): reading it may be needless.
_READ_OVER_LOOKUP = 20_000
# A binary search for one row costs about as much as reading this many postings (measured at
# 920k rows: about 60 ns against 10 ns).
_LOOKUP_COST = 6
# Below this many postings (all query terms together) `top` scores them all: pruning's many
# small steps cost more than they save (on 10k chunks a query holds a few thousand).
_PRUNE_FROM = 100_000


@dataclass(frozen=True)
class _Term:
    name: str
    weight: np.float32  # repeats * idf: also the term's upper bound on any row
    parts: tuple[tuple[int, Any, Any], ...]  # per segment: (segment, local rows, tf), unfiltered
    df: int  # allowed rows holding the term


class BM25Query:
    """One query's BM25 over `segments` laid out at `offsets` (see IndexSnapshot).

    `lengths32`: (rows,) float32 terms per row; `total_length`: their sum over all rows
    (float64); `allowed`: (rows,) bool or None (every row). Terms that no allowed row holds are
    dropped exactly like unknown ones (the same reads either way).
    """

    def __init__(
        self,
        segments: Sequence[Any],
        offsets: np.ndarray,
        lengths32: np.ndarray,
        total_length: float,
        terms: Sequence[str],
        allowed: np.ndarray | None,
        *,
        k1: float,
        b: float,
    ) -> None:
        self.segments, self.offsets, self.lengths32 = segments, offsets, lengths32
        self.allowed = allowed
        self.rows = len(lengths32)
        self.terms: list[_Term] = []
        self._every: np.ndarray | None = None  # every row's score, once `top` computed them
        # per segment: its hidden local rows (sorted int32) when few (tombstones), else None
        self._hidden: list[np.ndarray | None] = [None] * len(segments)
        if allowed is None:
            n_docs, total = self.rows, total_length
        else:  # lengths are whole numbers: float64 sums are exact in any order
            n_docs = int(np.count_nonzero(allowed))
            if n_docs > self.rows // 2:
                hidden = np.flatnonzero(~allowed)
                total = total_length - float(lengths32[hidden].sum(dtype=np.float64))
                cuts = np.searchsorted(hidden, offsets)
                for seg in range(len(segments)):
                    local = hidden[cuts[seg] : cuts[seg + 1]] - offsets[seg]
                    if len(local) * 16 < offsets[seg + 1] - offsets[seg]:
                        self._hidden[seg] = local.astype(np.int32)
            else:
                total = float(lengths32[allowed].sum(dtype=np.float64))
        if not n_docs or not terms:
            return
        avg_length = max(total / n_docs, 1e-9)
        self.c0, self.c1 = np.float32(k1 * (1 - b)), np.float32(k1 * b / avg_length)
        repeats: dict[str, int] = {}
        for term in terms:
            repeats[term] = repeats.get(term, 0) + 1
        columns = [segment.term_columns(repeats) for segment in self.segments]  # one query each
        for term, times in repeats.items():
            parts = self._postings(term, columns)
            df = sum(
                _allowed_count(rows, self._hidden[seg], self._part_mask(seg))
                for seg, rows, _ in parts
            )
            if df:
                weight = np.float32(times * lucene_idf(n_docs, df))
                self.terms.append(_Term(term, weight, parts, df))

    # -- scores ------------------------------------------------------------------------------

    def all(self) -> np.ndarray:
        """(rows,) float32 score of every row; 0 where not allowed or unmatched."""
        out = np.zeros(self.rows, np.float32)
        for term in self.terms:
            rows, part = self._contributions(term)
            out[rows] += part
        return out

    def at(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) float32 scores of these distinct global rows, as `all` gives them."""
        rows = np.asarray(rows, np.int64)
        if self._every is not None:  # `top` scored every row already
            return self._every[rows]
        order = np.argsort(rows, kind="stable")  # sorted needles: searchsorted walks forward
        ordered = rows[order]
        scores = np.zeros(len(rows), np.float32)
        for term in self.terms:  # query order: a row's sum is added up as in `all`
            hit, part = self._term_at(term, ordered)
            scores[hit] += part
        out = np.zeros(len(rows), np.float32)
        out[order] = scores
        if self.allowed is not None:
            out[~self.allowed[rows]] = 0
        return out

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best allowed rows with a positive score, best first, ties
        by row: exactly `top_rows(self.all(), k)`, reading only the postings it needs."""
        if sum(t.df for t in self.terms) < _PRUNE_FROM:  # few postings: score them all
            self._every = self.all()
            rows = np.flatnonzero(self._every)
            return _best(rows, self._every[rows], k)
        order = sorted(self.terms, key=lambda t: (-float(t.weight), t.df))
        slack = 1 + _SLACK_PER_TERM * (len(order) + 1)
        weights = [float(t.weight) for t in order]
        rest = [sum(weights[i:]) * slack for i in range(len(order) + 1)]  # bound, terms i..
        partial = _scratch(self.rows)  # zeros; what is set is cleared before returning
        parts: list[np.ndarray] = []  # rows seen, each once
        try:
            return self._top(k, order, slack, rest, partial, parts)
        finally:
            for rows in parts:
                partial[rows] = 0

    def _top(
        self,
        k: int,
        order: list[_Term],
        slack: float,
        rest: list[float],
        partial: np.ndarray,  # (rows,) float32: sum over the terms taken (0: row not seen)
        parts: list[np.ndarray],  # rows seen, each once (the caller clears them)
    ) -> tuple[np.ndarray, np.ndarray]:
        floor = 0.0  # a lower bound on the k-th best score: k rows score at least this
        pool = np.zeros(0, np.int64)  # the (at most) k seen rows with the best partial sums
        taken = 0
        while taken < len(order):
            if floor and rest[taken] < floor:
                break  # a row that holds none of the terms taken cannot reach the top k
            if order[taken].df > _READ_OVER_LOOKUP and len(pool) == k:
                # before reading a long list: the best rows' exact scores may raise the floor
                floor = self._exact_floor(pool, partial, order[taken:], floor)
                if rest[taken] < floor:
                    break
            rows, part = self._contributions(order[taken])  # sorted allowed rows of the term
            sums = partial[rows]
            parts.append(rows[sums == 0])  # first seen now (every contribution is positive)
            sums += part
            partial[rows] = sums
            taken += 1
            # only rows of this term gained: the new best k are among its best k and the old
            if len(rows) > k:
                rows = rows[np.argpartition(sums, len(rows) - k)[-k:]]
            pool = _sorted_unique([pool, rows])
            if len(pool) > k:
                pool = pool[np.argpartition(partial[pool], len(pool) - k)[-k:]]
            if len(pool) == k:  # partial sums are scores of the terms taken so far
                floor = max(floor, float(partial[pool].min()) / slack)
        bound = rest[taken]  # of what a seen row can still gain
        candidates = _sorted_unique(  # each row once even if a contribution were 0
            [p[partial[p] * slack + bound >= floor] for p in parts]
        )
        for j in range(taken, len(order)):  # the rest: only for rows that can still win
            candidates = candidates[partial[candidates] * slack + rest[j] >= floor]
            if len(candidates) * _LOOKUP_COST < order[j].df:
                hit, part = self._term_at(order[j], candidates)  # a binary search per row
                partial[candidates[hit]] += part
            else:  # many rows left: reading the postings costs less than searching them
                rows, part = self._contributions(order[j])
                sums = partial[rows]
                parts.append(rows[sums == 0])  # cleared with the rest
                sums += part
                partial[rows] = sums
        candidates = candidates[partial[candidates] * slack >= floor]
        return _best(candidates, self.at(candidates), k)

    def _exact_floor(
        self, pool: np.ndarray, partial: np.ndarray, rest: list[_Term], floor: float
    ) -> float:
        """A lower bound on the k-th best score: the least full score (partial sum plus the
        `rest` terms, looked up) of the k `pool` rows, or `floor` if that is higher."""
        best = np.sort(pool)
        full = partial[best]  # a copy
        for term in rest:
            hit, part = self._term_at(term, best)
            full[hit] += part
        slack = 1 + _SLACK_PER_TERM * (len(self.terms) + 1)
        return max(floor, float(full.min()) / slack)

    # -- internals ---------------------------------------------------------------------------

    def _contribution(self, rows: np.ndarray, tf: np.ndarray, weight: np.float32) -> np.ndarray:
        """float32 weight * tf / (tf + c0 + c1 len) at global `rows`, in place (numpy's
        in-place steps: at a million rows a common word has hundreds of thousands of them)."""
        tf32 = np.asarray(tf, np.float32)
        part = self.lengths32[rows]
        part *= self.c1
        part += self.c0
        part += tf32  # tf + norm
        np.divide(tf32, part, out=part)
        part *= weight
        return part

    def _term_at(self, term: _Term, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where one term occurs among sorted global `rows`: their indices, and its
        contributions there, found by binary search in its postings."""
        hits, parts = [], []
        bounds = np.searchsorted(rows, self.offsets)  # each segment's slice of `rows`
        for seg, local_rows, tf in term.parts:
            lo, hi = int(bounds[seg]), int(bounds[seg + 1])
            if lo == hi:
                continue
            wanted = (rows[lo:hi] - self.offsets[seg]).astype(local_rows.dtype)
            pos = np.searchsorted(local_rows, wanted)
            found = pos < len(local_rows)
            found[found] = local_rows[pos[found]] == wanted[found]
            hit = np.flatnonzero(found) + lo
            hits.append(hit)
            parts.append(self._contribution(rows[hit], tf[pos[found]], term.weight))
        if not hits:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(hits), np.concatenate(parts)

    def _contributions(self, term: _Term) -> tuple[np.ndarray, np.ndarray]:
        """Global rows (allowed only) and contributions of one term."""
        rows_out, parts_out = [], []
        for seg, local_rows, tf in term.parts:
            rows = np.asarray(local_rows, np.int64) + self.offsets[seg]
            if self.allowed is not None:
                keep = self.allowed[rows]
                rows, tf = rows[keep], tf[keep]
            rows_out.append(rows)
            parts_out.append(self._contribution(rows, tf, term.weight))
        if not rows_out:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(rows_out), np.concatenate(parts_out)

    def _postings(
        self, term: str, columns: list[dict[str, int]]
    ) -> tuple[tuple[int, Any, Any], ...]:
        """(segment, local rows, tf) of one term in every segment that holds it; `columns`:
        per segment, the BM25 column of each query term it holds.

        A term no segment holds goes through the same steps on empty arrays, so that a word
        held only by hidden chunks and a word held by none cost about the same (issue 13's
        timing channel); a hidden word with very many postings still costs more to filter.
        """
        parts = []
        for seg, segment in enumerate(self.segments):
            col = columns[seg].get(term)
            local, tf = segment.postings(0 if col is None else col)  # the same reads either way
            if col is None:
                local, tf = local[:0], tf[:0]
            if len(local):
                parts.append((seg, local, tf))
        return tuple(parts)

    def _part_mask(self, seg: int) -> np.ndarray | None:
        if self.allowed is None:
            return None
        return self.allowed[int(self.offsets[seg]) : int(self.offsets[seg + 1])]


def _best(rows: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k `rows` with the highest positive `values` (their scores), best first, ties by
    row: as `top_rows` of ragkit/retrieval/sparse.py does it."""
    keep = values > 0
    rows, values = rows[keep], values[keep]
    if len(rows) > k:  # keep every tie at the edge: the order below takes them by row
        keep = values >= np.partition(values, len(values) - k)[len(values) - k]
        rows, values = rows[keep], values[keep]
    best = np.lexsort((rows, -values))[:k]
    return rows[best], values[best]


def _sorted_unique(arrays: list[np.ndarray]) -> np.ndarray:
    """The rows of `arrays`, sorted, each once (np.unique hashes: slower on large int arrays)."""
    rows = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    rows.sort()
    return rows[np.concatenate(([True], rows[1:] != rows[:-1]))] if len(rows) else rows


_SCRATCH = threading.local()


def _scratch(rows: int) -> np.ndarray:
    """This thread's zeroed (rows,) float32 array, kept between queries: a fresh million-row
    array costs a page fault per 4 KiB touched, about as much as the pruned scoring itself.
    The caller sets it back to zero."""
    kept = getattr(_SCRATCH, "partial", None)
    if kept is None or len(kept) != rows:
        kept = _SCRATCH.partial = np.zeros(rows, np.float32)
    return kept


def _allowed_count(rows: np.ndarray, hidden: np.ndarray | None, mask: np.ndarray | None) -> int:
    """How many of the sorted local `rows` are allowed (`mask`: the segment's allowed rows,
    None = all), looking up the `hidden` rows instead when they are fewer than the postings."""
    if mask is None:
        return len(rows)
    if hidden is not None and len(hidden) < len(rows):
        pos = np.searchsorted(rows, hidden)  # hidden is sorted: the rows past the end are last
        pos = pos[pos < len(rows)]
        return len(rows) - int(np.count_nonzero(rows[pos] == hidden[: len(pos)]))
    return int(np.count_nonzero(mask[rows]))
