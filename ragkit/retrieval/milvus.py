"""The retriever over a Milvus store: dense search and BM25 in Milvus, fused as locally.

    query ─┬─ embed ─────────────────── dense ANN top-N (filter: live generation) ──┐
           └─ ragkit's analyser ─ terms ─ Milvus BM25 top-N (same filter) ──────────┴─ fuse ─ top-k

Both searches run inside Milvus, one pair per collection the asker may read (one collection
per access-group set, see ragkit/index/milvus_store.py, so BM25 statistics never include a
hidden chunk; every hit is checked against the asker's groups again). The question is
analysed by ragkit's analyser in the language the local store would pick (the same prior:
the readable chunks' languages), and Milvus's BM25 runs over the same terms with the same k1
and b, so its scores are the local store's (times k1 + 1, divided out here).

Fusion is the local default, weighted z-scores (alpha 0.5) over the top 100 of each list,
each candidate given its true score in the other list (a BM25 search restricted to the
dense-only candidates; cosines of BM25-only candidates from their returned vectors), as
HybridRetriever does. It runs here rather than in Milvus's rankers: Milvus offers RRF and a
weighted sum after its own arctan normalisation, not z-scores, and on SciFact train (809
queries, nDCG@10) the z-score fusion scored higher (see RANKER). "weighted:A" and "rrf:K"
still select Milvus's in-engine rankers (fused score only, no component scores). Several
collections' fused lists are merged by fused score.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ragkit.errors import IndexStoreError, UsageError
from ragkit.index.embedding import Embedder, load_embedder
from ragkit.index.milvus_store import BM25_K1, MilvusSnapshot, MilvusStore, bm25_terms
from ragkit.index.records import Chunk, readable_by
from ragkit.retrieval.fusion import RRF_K, weighted_fusion
from ragkit.text.analyse import analyser_for
from ragkit.text.language import question_language
from ragkit.types import Hit

# (fused score, cosine or None, BM25 or None, chunk id, collection, the stored record's JSON)
_Candidate = tuple[float, float | None, float | None, str, str, str]
_DEPTH = 100  # candidates per list before fusion, as the local retriever
# Chosen on SciFact train (809 queries, nDCG@10, ragkit's terms in Milvus's BM25): see the
# README's Milvus paragraph for the figures; test is reported there too.
RANKER = "zscore:0.5"


class MilvusRetriever:
    """Finds the chunks of a Milvus index that best match a question, among those readable."""

    def __init__(self, snapshot: MilvusSnapshot, embedder: Embedder, ranker: str = RANKER) -> None:
        """`ranker`: "zscore:A" (ragkit's weighted z-score fusion, dense weight A), or one of
        Milvus's in-engine rankers: "rrf:K" (RRFRanker) or "weighted:A" (WeightedRanker, dense
        weight A, Milvus's score normalisation)."""
        kind = ranker.partition(":")[0]
        if kind not in ("zscore", "weighted", "rrf"):
            raise UsageError(f"milvus ranker '{ranker}': use zscore:A, weighted:A or rrf:K")
        self.snapshot = snapshot
        self.embedder = embedder
        self.ranker = ranker

    @classmethod
    def from_spec(cls, spec: str, embedder: Embedder | None = None) -> MilvusRetriever:
        snapshot = MilvusStore(spec).load()
        model = str(snapshot.fingerprint.get("model"))
        if embedder is None:
            embedder = load_embedder(model)
        elif embedder.fingerprint().get("model") != model:
            raise IndexStoreError(
                f"milvus store {spec} was built with model {model}: query with --model {model}"
            )
        return cls(snapshot, embedder)

    def warm_up(self) -> None:
        warm_up = getattr(self.embedder, "warm_up", None)
        if warm_up is not None:
            warm_up(bulk=True)

    def retrieve(
        self, question: str, *, k: int = 5, groups: frozenset[str] = frozenset()
    ) -> list[Hit]:
        """The k best chunks readable by `groups`, best first, ranks 1..k."""
        if k < 1:
            raise UsageError(f"k must be at least 1, got {k}")
        if not question.strip():
            return []
        self.snapshot.refresh()  # a writer may have committed since: follow it
        names = self.snapshot.collections(frozenset(groups))
        if not names:
            return []
        vector = self.embedder.embed([question])[0]  # (dim,)
        language = question_language(question, self.snapshot.languages(names))
        terms = bm25_terms(analyser_for(language).terms(question))
        # Each collection holds one access-group set, and only those the asker may read are
        # searched: a per-row group filter would change nothing and cost most of the query
        # (measured on Milvus Lite, 10k chunks: 0.7 s a search with array_length(groups) in
        # the filter, 0.02 s without). Every hit is still checked against the asker's groups.
        depth = max(_DEPTH, k)
        if self.ranker.startswith("zscore"):
            found = self._fused_here(names, vector, terms, depth)
        else:
            found = []
            for name in names:
                found += self._fused_in_engine(name, vector, terms, depth, k)
        found.sort(key=lambda hit: (-hit[0], hit[3]))
        hits: list[Hit] = []
        seen: set[str] = set()
        for score, dense, sparse, _, name, record in found:
            if len(hits) == k:
                break
            chunk = Chunk.from_json(json.loads(record))
            if not readable_by(chunk.groups, frozenset(groups)):
                raise IndexStoreError(
                    f"milvus store {self.snapshot.store.spec}: collection {name} holds a "
                    "chunk of another access-group set: rebuild the index"
                )
            # An identical text is stored once per access-group set (one collection each): a
            # reader of two such sets gets it once, the better-ranked copy, as in the local
            # retriever (hybrid._distinct_texts); the slot goes to the next candidate.
            if chunk.text in seen:
                continue
            seen.add(chunk.text)
            hits.append(
                Hit(
                    chunk=chunk,
                    score=score,
                    rank=len(hits) + 1,
                    dense_score=dense,
                    sparse_score=sparse,
                )
            )
        return hits

    def _fused_here(
        self, names: Sequence[str], vector: np.ndarray, terms: str, depth: int
    ) -> list[_Candidate]:
        """(fused, cosine, BM25, chunk id, collection, record) of every candidate, fused by weighted
        z-scores as HybridRetriever (ragkit/retrieval/hybrid.py) does: the top `depth` of
        each list over all readable collections, each candidate given its true score in the
        other list. (BM25 scores of two collections come from two collections' statistics.)"""
        store, expr = self.snapshot.store, self.snapshot.visible()
        client = store.client
        dense: dict[tuple[str, str], float] = {}
        sparse: dict[tuple[str, str], float] = {}
        vectors: dict[tuple[str, str], Any] = {}
        records: dict[tuple[str, str], str] = {}  # JSON, parsed for the final k only
        for name in names:
            loaded = store.loaded(name)
            for hit in client.search(
                loaded,
                [vector.tolist()],
                anns_field="dense",
                limit=depth,
                filter=expr,
                search_params={"metric_type": "IP"},
                output_fields=["chunk_id", "record"],
            )[0]:
                key = (name, hit["entity"]["chunk_id"])
                dense[key] = float(hit["distance"])
                records[key] = hit["entity"]["record"]
            if not terms:
                continue
            for hit in client.search(
                loaded,
                [terms],
                anns_field="sparse",
                limit=depth,
                filter=expr,
                search_params={"metric_type": "BM25"},
                output_fields=["chunk_id", "dense", "record"],
            )[0]:
                key = (name, hit["entity"]["chunk_id"])
                sparse[key] = _bm25(hit["distance"])
                vectors[key] = hit["entity"]["dense"]
                records[key] = hit["entity"]["record"]
        dense, sparse = _best(dense, depth), _best(sparse, depth)
        if sparse:
            # Each list gets the true score of the other's candidates (HybridRetriever's
            # _score_union): a cosine from the returned vector, a BM25 score by a search
            # restricted to those ids (0 where no term matches: a score, not a gap).
            for key in sparse.keys() - dense.keys():
                dense[key] = float(np.dot(np.asarray(vectors[key], np.float32), vector))
            only_dense: dict[str, list[str]] = {}
            for name, chunk_id in sorted(dense.keys() - sparse.keys()):
                only_dense.setdefault(name, []).append(chunk_id)
                sparse[(name, chunk_id)] = 0.0
            for name, ids in only_dense.items():
                for hit in client.search(
                    name,
                    [terms],
                    anns_field="sparse",
                    limit=len(ids),
                    filter=f"({expr}) and chunk_id in {json.dumps(ids)}",
                    search_params={"metric_type": "BM25"},
                    output_fields=["chunk_id"],
                )[0]:
                    sparse[(name, hit["entity"]["chunk_id"])] = _bm25(hit["distance"])
        alpha = float(self.ranker.partition(":")[2] or 0.5)
        fused = weighted_fusion(dense, sparse, alpha, "zscore") if sparse else dense
        return [
            (score, dense.get(key), sparse.get(key), key[1], key[0], records[key])
            for key, score in fused.items()
        ]

    def _fused_in_engine(
        self, name: str, vector: np.ndarray, terms: str, depth: int, k: int
    ) -> list[_Candidate]:
        """The k best of one collection fused by one of Milvus's rankers (fused score only)."""
        from pymilvus import AnnSearchRequest

        expr = self.snapshot.visible()
        requests = [
            AnnSearchRequest([vector.tolist()], "dense", {"metric_type": "IP"}, depth, expr=expr)
        ]
        if terms:
            requests.append(
                AnnSearchRequest([terms], "sparse", {"metric_type": "BM25"}, depth, expr=expr)
            )
        result = self.snapshot.store.client.hybrid_search(
            self.snapshot.store.loaded(name),
            requests,
            _ranker(self.ranker, len(requests)),
            limit=k,
            output_fields=["chunk_id", "record"],
        )
        found: list[_Candidate] = [
            (float(h["distance"]), None, None, h["entity"]["chunk_id"], name, h["entity"]["record"])
            for h in result[0]
        ]
        return found


def _best(run: dict[tuple[str, str], float], depth: int) -> dict[tuple[str, str], float]:
    """The `depth` highest-scored entries of a run (ties by key)."""
    return dict(sorted(run.items(), key=lambda item: (-item[1], item[0]))[:depth])


def _bm25(distance: float) -> float:
    """ragkit's BM25 score from a Milvus BM25 distance: Milvus scales by k1 + 1, and Milvus
    Lite 3.2 reports the score negated (a server, positive); BM25 is never negative."""
    return abs(float(distance)) / (BM25_K1 + 1)


def _ranker(spec: str, lists: int) -> Any:
    from pymilvus import RRFRanker, WeightedRanker

    kind, _, value = spec.partition(":")
    if kind == "weighted":
        alpha = float(value or 0.5)
        return WeightedRanker(alpha, 1 - alpha) if lists == 2 else WeightedRanker(1.0)
    return RRFRanker(int(value or RRF_K))
