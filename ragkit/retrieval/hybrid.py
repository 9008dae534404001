"""The retriever: dense and BM25 search over one index, fused, filtered by access groups.

    query ─┬─ embed ── FAISS top-N (readable rows only) ──┐
           └─ BM25 top-N (readable rows only) ────────────┴─ fuse ─ top-k ─ Hit(score, rank, ...)

On a large index the two searches run at once (FAISS in a worker thread, BM25 in the caller's).

Both searches are the snapshot's (ragkit/index/snapshot.py): the index is memory-mapped and
BM25 is scored from postings saved at ingest, so nothing is built when a retriever loads.

Access groups are applied inside both searches, before any top-N is taken, so a chunk the
asker cannot read never takes a place, never shifts a rank, and cannot be counted from the
number of results. RRF sees ranks among readable chunks only, score normalisation (z-score
by default) sees readable candidates only, and BM25's corpus statistics come from readable
chunks only (IndexSnapshot.bm25): results and scores are exactly those of an index
that never held the hidden chunks. Each Hit carries both component scores (cosine, BM25),
filled in for the final k even when a chunk came from one list only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ragkit.access import check_groups
from ragkit.errors import ConfigError, IndexStoreError, UsageError
from ragkit.index.embedding import Embedder, load_embedder
from ragkit.index.protocols import BM25Scores
from ragkit.index.records import Chunk
from ragkit.index.store import IndexSnapshot, load_index
from ragkit.retrieval.fusion import (
    RRF_K,
    Normalisation,
    reciprocal_rank_fusion,
    top_k,
    weighted_fusion,
)
from ragkit.text.analyse import analyser_for
from ragkit.text.language import question_language
from ragkit.types import Hit

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

Mode = Literal["hybrid", "dense", "sparse"]
Fusion = Literal["rrf", "weighted"]


@dataclass(frozen=True)
class RetrieverSettings:
    """How the retriever searches; the defaults were measured (see fusion.py)."""

    mode: Mode = "hybrid"  # "dense" and "sparse" use one list alone
    fusion: Fusion = "weighted"  # how hybrid mode merges the two lists
    rrf_k: int = RRF_K  # RRF only
    alpha: float = 0.5  # weight of the dense list; weighted fusion only
    normalisation: Normalisation = "zscore"  # per list; weighted fusion only
    candidates: int = 100  # taken from each list before fusing (at least k)
    bm25_k1: float = 1.5
    bm25_b: float = 0.75

    def __post_init__(self) -> None:
        if self.mode not in ("hybrid", "dense", "sparse"):
            raise ConfigError(f"retrieval mode '{self.mode}': use hybrid, dense or sparse")
        if self.fusion not in ("rrf", "weighted"):
            raise ConfigError(f"fusion '{self.fusion}': use rrf or weighted")
        if self.normalisation not in ("minmax", "zscore"):
            raise ConfigError(f"normalisation '{self.normalisation}': use minmax or zscore")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"alpha {self.alpha} is outside [0, 1]")
        if self.candidates < 1 or self.rrf_k < 0:
            raise ConfigError(f"candidates {self.candidates} must be >= 1, rrf_k {self.rrf_k} >= 0")


class HybridRetriever:
    """Finds the chunks of one index that best match a question, among those the asker may read."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        settings: RetrieverSettings = RetrieverSettings(),
    ) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.settings = settings

    @classmethod
    def from_index(
        cls,
        index_dir: Path | str,
        embedder: Embedder | None = None,
        settings: RetrieverSettings = RetrieverSettings(),
    ) -> HybridRetriever:
        """Load an index; the embedder defaults to the model the index was built with."""
        snapshot = load_index(Path(index_dir))
        return cls.from_snapshot(snapshot, embedder, settings)

    @classmethod
    def from_snapshot(
        cls,
        snapshot: IndexSnapshot,
        embedder: Embedder | None = None,
        settings: RetrieverSettings = RetrieverSettings(),
    ) -> HybridRetriever:
        index_model = snapshot.fingerprint.get("model")
        if not index_model:
            raise IndexStoreError(
                f"index {snapshot.path.parent} does not record its embedding model: "
                "rebuild it with ragkit ingest"
            )
        if embedder is None:
            embedder = load_embedder(index_model)
        elif embedder.fingerprint().get("model") != index_model:
            query_model = embedder.fingerprint().get("model")
            raise IndexStoreError(
                f"index {snapshot.path.parent} was built with model {index_model}; queries would "
                f"use {query_model}: query with --model {index_model}, or rebuild the index "
                f"with `ragkit ingest --model {query_model}`"
            )
        return cls(snapshot, embedder, settings)

    def warm_up(self) -> None:
        """Load the embedding model's weights now rather than on the first query.

        A single cold question is fastest on the numpy encoder; once many follow (a server,
        chat, evaluation), the bulk encoder pays for its loading, about 2x faster per call.
        """
        if self.settings.mode == "sparse":
            return
        warm_up = getattr(self.embedder, "warm_up", None)
        if warm_up is not None:
            warm_up(bulk=True)
        else:
            self.embedder.embed(["warm up"])

    def retrieve(
        self, question: str, *, k: int = 5, groups: frozenset[str] = frozenset()
    ) -> list[Hit]:
        """The k best chunks readable by `groups`, best first, ranks 1..k."""
        if k < 1:
            raise UsageError(f"k must be at least 1, got {k}")
        groups = check_groups(groups)
        allowed = self._allowed(groups)
        snapshot = self.snapshot
        if not question.strip() or not snapshot.live_count:
            return []
        if allowed is not None and not allowed.any():
            return []
        depth = max(self.settings.candidates, k)
        query_vector = bm25 = None
        dense_run: dict[int, float] = {}  # {row: cosine}, readable rows only
        sparse_run: dict[int, float] = {}  # {row: BM25 score}, readable rows only
        dense_found: Future[tuple[np.ndarray, np.ndarray]] | None = None
        if self.settings.mode != "sparse":
            query_vector = self.embedder.embed([question])[0]  # (dim,)
            if self.settings.mode == "hybrid" and len(snapshot) >= PARALLEL_FROM:
                # FAISS lets go of the GIL: BM25 runs beside it in this thread
                dense_found = _pool().submit(snapshot.dense_search, query_vector, depth, allowed)
            else:
                dense_run = _as_run(*snapshot.dense_search(query_vector, depth, allowed))
        if self.settings.mode != "dense":
            try:
                language = question_language(question, snapshot.languages(groups))
                terms = analyser_for(language).terms(question)
                settings = self.settings
                bm25 = snapshot.bm25(terms, allowed, k1=settings.bm25_k1, b=settings.bm25_b)
                sparse_run = _as_run(*bm25.top(depth))  # the exact top, pruned (index/bm25.py)
            except BaseException:
                if dense_found is not None:
                    dense_found.cancel()  # not left running (or its error unseen) behind ours
                raise
        if dense_found is not None:
            dense_run = _as_run(*dense_found.result())
        if query_vector is not None and bm25 is not None and self.settings.fusion == "weighted":
            _score_union(dense_run, sparse_run, bm25, snapshot, query_vector)
        fused = self._fuse(dense_run, sparse_run)
        best, chunks = _distinct_texts(snapshot, top_k(fused, len(fused)), k)

        rows = np.array([row for row, _ in best], dtype=np.int64)
        none: list[float | None] = [None] * len(best)
        dense = none if query_vector is None else snapshot.similarities(query_vector, rows)
        sparse = none if bm25 is None else bm25.at(rows)
        return [
            Hit(
                chunk=chunk,
                score=float(score),
                rank=rank,
                dense_score=_float(dense[rank - 1]),
                sparse_score=_float(sparse[rank - 1]),
            )
            for rank, ((_, score), chunk) in enumerate(zip(best, chunks, strict=True), start=1)
        ]

    def _fuse(self, dense: dict[int, float], sparse: dict[int, float]) -> dict[int, float]:
        settings = self.settings
        if settings.mode == "dense":
            return dense
        if settings.mode == "sparse":
            return sparse
        if settings.fusion == "rrf":
            return reciprocal_rank_fusion([dense, sparse], k=settings.rrf_k)
        return weighted_fusion(dense, sparse, settings.alpha, settings.normalisation)

    def _allowed(self, groups: frozenset[str]) -> np.ndarray | None:
        """Readable live rows for these groups, (rows,) bool; None when every row is.

        Computed for every question from the segments' per-row group ids (a vectorised
        lookup): the same work for every asker, and no cache whose hits could be timed.
        """
        return self.snapshot.readable_rows(groups)


# From this many rows a hybrid question's dense search runs in a worker thread while BM25 runs
# in the caller's: on 920k chunks the IVF scan (about 24 CPU-ms) and BM25 (about 10) overlap
# on two cores. Below it the hand-over (tens of microseconds) is not worth it.
PARALLEL_FROM = 100_000
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """The worker threads dense searches run in (one process-wide pool, made on first use)."""
    from concurrent.futures import ThreadPoolExecutor

    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ragkit-dense")
        return _POOL


def _score_union(
    dense_run: dict[int, float],
    sparse_run: dict[int, float],
    bm25: BM25Scores,
    dense: IndexSnapshot,
    query_vector: np.ndarray,
) -> None:
    """Give each run the true score of every candidate of the other, in place.

    A chunk BM25 did not match has BM25 score 0: a score, not a gap. Left out, the weighted
    fusion gives it the list's floor instead, and a list with one candidate (a question whose
    rare terms match one chunk: "午餐补贴" in a Chinese handbook) normalises to nothing, since
    the z-score of a single value is 0, so the one decisive match was ignored.
    """
    only_dense = np.fromiter(dense_run.keys() - sparse_run.keys(), np.int64)
    sparse_run.update(_as_run(only_dense, bm25.at(only_dense)))
    only_sparse = np.fromiter(sparse_run.keys() - dense_run.keys(), np.int64)
    if len(only_sparse):
        dense_run.update(_as_run(only_sparse, dense.similarities(query_vector, only_sparse)))


def _distinct_texts(
    snapshot: IndexSnapshot, ranked: list[tuple[int, float]], k: int
) -> tuple[list[tuple[int, float]], list[Chunk]]:
    """The first k of `ranked` (best first) whose chunk texts differ, with their chunks.

    Identical texts are stored once per access-group set (ingest/dedup.py), so a copy
    restricted to hr and one restricted to managers are two rows, and a reader in both
    groups would get the same text twice. The best-ranked copy is kept and the slot goes to
    the next candidate. Every candidate is already readable by the asker: nothing widens.
    Chunks are read a window at a time, so a question without copies reads k chunks.
    """
    kept: list[tuple[int, float]] = []
    chunks: list[Chunk] = []
    seen: set[str] = set()
    start = 0
    while len(kept) < k and start < len(ranked):
        window = ranked[start : start + k - len(kept)]
        start += len(window)
        rows = np.array([row for row, _ in window], dtype=np.int64)
        for pair, chunk in zip(window, snapshot.chunks_at(rows), strict=True):
            if chunk.text not in seen:
                seen.add(chunk.text)
                kept.append(pair)
                chunks.append(chunk)
    return kept, chunks


def _as_run(rows: np.ndarray, scores: np.ndarray) -> dict[int, float]:
    return dict(zip(rows.tolist(), scores.tolist(), strict=True))


def _float(value: float | np.floating | None) -> float | None:
    return None if value is None else float(value)
