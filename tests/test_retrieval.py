"""Retrieval: fusion arithmetic, BM25 / dense / hybrid top-1 on six sentences, access groups."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import ChunkSettings
from ragkit.errors import IndexStoreError, UsageError
from ragkit.index.embedding import load_embedder
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.index.store import write_generation, writer_lock
from ragkit.retrieval import HybridRetriever, RetrieverSettings
from ragkit.retrieval.fusion import (
    min_max,
    reciprocal_rank_fusion,
    top_k,
    weighted_fusion,
    z_score,
)
from ragkit.retrieval.sparse import BM25Index, Vocabulary
from ragkit.text.analyse import Analyser, words

# (source, title, text, groups): one chunk each; the titles are embedded with the text.
CORPUS = [
    ("leave/annual.md", "Annual leave", "Employees receive 25 days of annual leave per year.", ()),
    ("leave/sick.md", "Sick leave", "Sick pay lasts ten days; a doctor's note is needed.", ()),
    ("money/expenses.md", "Expenses", "Travel costs are reimbursed within 30 days.", ()),
    ("it/laptops.md", "Equipment", "Laptops are replaced every four years by IT.", ()),
    ("people/remote.md", "Remote work", "Staff may work remotely three days per week.", ()),
    ("managers/salary.md", "Salary bands", "Salary band 3 pays 60000 to 75000.", ("managers",)),
]
PUBLIC = [source for source, _, _, groups in CORPUS if not groups]
MANAGERS = frozenset({"managers"})


def make_chunks(corpus=CORPUS) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=chunk_id_for(source, text),
            source=source,
            title=title,
            text=text,
            start=0,
            end=len(text),
            page=None,
            headings=(),
            doc_hash="test",
            groups=groups,
        )
        for source, title, text, groups in corpus
    ]


def build_index(index_dir: Path, model: str = "hash:256", corpus=CORPUS) -> Path:
    embedder = load_embedder(model)
    chunks = make_chunks(corpus)
    vectors = embedder.embed([c.embedding_text for c in chunks])
    files = {
        c.source: {"hash": "t", "chunk_ids": [c.chunk_id], "title": c.title, "groups": [*c.groups]}
        for c in chunks
    }
    fingerprint = embedder.fingerprint() | ChunkSettings().fingerprint()
    with writer_lock(index_dir):
        write_generation(index_dir, {"fingerprint": fingerprint, "files": files}, chunks, vectors)
    return index_dir


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_index(tmp_path_factory.mktemp("retrieval") / "index")


def retriever(index_dir: Path, **settings) -> HybridRetriever:
    return HybridRetriever.from_index(index_dir, settings=RetrieverSettings(**settings))


def sources(hits) -> list[str]:
    return [h.chunk.source for h in hits]


# --- fusion: hand-computed values -------------------------------------------------------


def test_rrf_sums_reciprocal_ranks_exactly():
    dense = {"x": 0.9, "y": 0.5, "z": 0.1}
    sparse = {"y": 10.0, "w": 5.0}
    fused = reciprocal_rank_fusion([dense, sparse], k=60)
    assert fused == {"x": 1 / 61, "y": 1 / 62 + 1 / 61, "z": 1 / 63, "w": 1 / 62}
    assert [key for key, _ in top_k(fused, 4)] == ["y", "x", "w", "z"]


def test_rrf_with_k_zero_and_ties_broken_by_key():
    fused = reciprocal_rank_fusion([{"b": 1.0, "a": 1.0}], k=0)
    assert fused == {"a": 1.0, "b": 0.5}  # equal scores: "a" ranks first


def test_min_max_and_z_score():
    assert min_max({"a": 2.0, "b": 4.0, "c": 8.0}) == {"a": 0.0, "b": 1 / 3, "c": 1.0}
    assert min_max({"a": 5.0, "b": 5.0}) == {"a": 1.0, "b": 1.0}
    assert min_max({}) == {}
    assert z_score({"a": 1.0, "b": 3.0}) == {"a": -1.0, "b": 1.0}
    assert z_score({"a": 7.0}) == {"a": 0.0}


def test_weighted_fusion_minmax_missing_documents_score_zero_in_that_list():
    dense = {"a": 0.9, "b": 0.5, "c": 0.1}  # -> a 1, b 0.5, c 0
    sparse = {"b": 8.0, "d": 4.0, "a": 2.0}  # -> b 1, d 1/3, a 0
    fused = weighted_fusion(dense, sparse, alpha=0.5)
    assert fused == pytest.approx({"a": 0.5, "b": 0.75, "c": 0.0, "d": 1 / 6})
    assert weighted_fusion(dense, sparse, alpha=1.0) == pytest.approx(
        {"a": 1.0, "b": 0.5, "c": 0.0, "d": 0.0}
    )


def test_weighted_fusion_zscore_missing_document_gets_the_list_minimum():
    fused = weighted_fusion({"a": 1.0, "b": 3.0}, {"a": 5.0}, alpha=0.5, normalisation="zscore")
    assert fused == pytest.approx({"a": -0.5 + 0.0, "b": 0.5 + 0.0})


def test_fusion_rejects_bad_parameters():
    with pytest.raises(ValueError, match="alpha"):
        weighted_fusion({}, {}, alpha=1.5)
    with pytest.raises(ValueError, match="normalisation"):
        weighted_fusion({}, {}, normalisation="rank")  # type: ignore[arg-type]


# --- BM25 ---------------------------------------------------------------------------------


def test_words_stopwords_and_stems():
    assert words("Sick-pay: 3.5 days, a NOTE") == ["sick", "pay", "3.5", "days", "a", "note"]
    english = Analyser("english")
    assert english.terms("The policies on days off") == ["polici", "day"]
    assert Analyser("portuguese").terms("As férias dos funcionários") == ["fér", "funcionári"]
    vocabulary = Vocabulary()
    ids = vocabulary.lookup(["the", "days", "day"], grow=True)
    assert ids[0] == -1 and ids[1] == ids[2] >= 0  # stopword dropped, plural conflated


def test_bm25_matrix_equals_the_lucene_formula_by_hand():
    texts = [c.embedding_text for c in make_chunks()]
    ours = BM25Index(texts, k1=1.5, b=0.75)
    analyse = Analyser("english")
    docs = [analyse.terms(t) for t in texts]
    n, avgdl = len(docs), sum(map(len, docs)) / len(docs)

    def reference(query: str) -> list[float]:
        out = []
        for doc in docs:
            total = 0.0
            for term in analyse.terms(query):
                df = sum(term in d for d in docs)
                if not df:
                    continue
                tf = doc.count(term)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                total += idf * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * len(doc) / avgdl))
            out.append(total)
        return out

    for query in ["annual leave days", "laptops replaced years", "salary band pays pays"]:
        np.testing.assert_allclose(ours.scores(query), reference(query), rtol=1e-5)


def test_bm25_scores_ignore_hidden_chunks_entirely():
    texts = [c.embedding_text for c in make_chunks()]
    public = np.array([not groups for *_, groups in CORPUS])
    masked = BM25Index(texts).scores("salary days per year", allowed=public)
    alone = BM25Index([t for t, ok in zip(texts, public, strict=True) if ok]).scores(
        "salary days per year"
    )
    np.testing.assert_allclose(masked[public], alone, rtol=1e-6)
    assert masked[~public].tolist() == [0.0]


def test_bm25_only_top1(index_dir: Path):
    hits = retriever(index_dir, mode="sparse").retrieve("When are laptops replaced?", k=3)
    assert sources(hits)[0] == "it/laptops.md"
    assert hits[0].sparse_score is not None and hits[0].sparse_score > 0
    assert hits[0].dense_score is None
    assert all(h.score == h.sparse_score for h in hits)


def test_bm25_returns_only_chunks_sharing_a_term(index_dir: Path):
    assert retriever(index_dir, mode="sparse").retrieve("zebra quantum", k=5) == []


# --- dense, hybrid ------------------------------------------------------------------------


def test_dense_only_top1(index_dir: Path):
    hits = retriever(index_dir, mode="dense").retrieve("how many days of annual leave", k=3)
    assert sources(hits)[0] == "leave/annual.md"
    assert hits[0].sparse_score is None
    assert hits[0].score == pytest.approx(hits[0].dense_score)
    assert [h.rank for h in hits] == [1, 2, 3]


def test_hybrid_top1_and_component_scores(index_dir: Path):
    hits = retriever(index_dir).retrieve("are travel costs reimbursed?", k=3)
    assert sources(hits)[0] == "money/expenses.md"
    assert [h.rank for h in hits] == [1, 2, 3]
    top = hits[0]
    assert top.dense_score is not None and top.dense_score > 0.3
    assert top.sparse_score is not None and top.sparse_score > 0
    assert all(h.dense_score is not None and h.sparse_score is not None for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_a_lone_bm25_match_counts_in_weighted_fusion(index_dir: Path):
    """BM25 matches one chunk only ("laptops"): the others' BM25 score is 0, a score, so the
    lone match is 2 standard deviations up rather than the z-score of a single value (0)."""
    hybrid = retriever(index_dir)
    hits = hybrid.retrieve("laptops", k=6)
    assert sources(hits)[0] == "it/laptops.md"
    sparse = {h.chunk.source: h.sparse_score for h in hits}
    assert sparse.pop("it/laptops.md") > 0 and set(sparse.values()) == {0.0}
    assert len(hits) == 5  # every readable chunk: the fusion below sees what the retriever saw
    fused = weighted_fusion(
        {i: h.dense_score for i, h in enumerate(hits)},
        {i: h.sparse_score for i, h in enumerate(hits)},
        normalisation="zscore",
    )
    assert [h.score for h in hits] == pytest.approx([fused[i] for i in range(len(hits))])


@pytest.mark.parametrize(
    ("settings", "top_score"),
    [
        ({"fusion": "rrf"}, 2 / 61),  # first in both lists: 2 / (60 + 1)
        ({"fusion": "weighted", "normalisation": "minmax"}, 1.0),  # 1 in both lists
    ],
)
def test_other_fusions_give_the_same_top1(index_dir: Path, settings: dict, top_score: float):
    hits = retriever(index_dir, **settings).retrieve("are travel costs reimbursed?")
    assert sources(hits)[0] == "money/expenses.md"
    assert hits[0].score == pytest.approx(top_score)


def test_k_and_blank_queries(index_dir: Path):
    r = retriever(index_dir)
    assert len(r.retrieve("days", k=2)) == 2
    assert r.retrieve("   ") == []
    with pytest.raises(UsageError, match="k must be at least 1"):
        r.retrieve("days", k=0)


# --- access groups ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_managers_only_chunk_never_reaches_a_non_manager(index_dir: Path, mode: str):
    r = retriever(index_dir, mode=mode)
    query = "salary bands: what does band 3 pay?"
    for groups in (frozenset(), frozenset({"staff"})):
        hits = r.retrieve(query, k=10, groups=groups)
        assert "managers/salary.md" not in sources(hits)
    assert sources(r.retrieve(query, k=1, groups=MANAGERS)) == ["managers/salary.md"]


def test_hidden_chunk_does_not_cost_a_result_or_move_scores(index_dir: Path, tmp_path: Path):
    query = "salary bands: what does band 3 pay per year?"
    hits = retriever(index_dir).retrieve(query, k=5)
    assert sorted(sources(hits)) == sorted(PUBLIC)  # still k results: all five public chunks
    # Same hits and scores as an index that never held the managers' chunk.
    public_only = build_index(tmp_path / "public", corpus=[c for c in CORPUS if not c[3]])
    alone = retriever(public_only).retrieve(query, k=5)
    assert [(h.chunk.chunk_id, h.score, h.sparse_score) for h in hits] == [
        (h.chunk.chunk_id, h.score, h.sparse_score) for h in alone
    ]


@pytest.mark.parametrize("groups", [frozenset(), MANAGERS])
def test_dense_search_beside_bm25_gives_the_same_hits(index_dir: Path, monkeypatch, groups):
    from ragkit.retrieval import hybrid

    queries = ["salary band 3", "travel costs", "annual leave per year", "laptops"]

    def run() -> list:
        r = retriever(index_dir)
        return [
            [(h.chunk.chunk_id, h.score, h.dense_score, h.sparse_score) for h in hits]
            for hits in (r.retrieve(q, k=4, groups=groups) for q in queries)
        ]

    serial = run()
    monkeypatch.setattr(hybrid, "PARALLEL_FROM", 0)  # every index: the worker-thread path
    submitted = []
    pool = hybrid._pool()
    monkeypatch.setattr(hybrid, "_pool", lambda: submitted.append(1) or pool)
    assert run() == serial
    assert len(submitted) == len(queries)


# --- loading ------------------------------------------------------------------------------


def test_index_built_with_another_model_gives_a_clear_error(index_dir: Path):
    expected = "built with model hash:256; queries would use hash:128"
    with pytest.raises(IndexStoreError, match=expected):
        HybridRetriever.from_index(index_dir, embedder=load_embedder("hash:128"))


def test_embedder_defaults_to_the_index_model(index_dir: Path):
    assert HybridRetriever.from_index(index_dir).embedder.model_id == "hash:256"


def test_empty_index_returns_nothing(tmp_path: Path):
    assert retriever(build_index(tmp_path / "empty", corpus=[])).retrieve("leave") == []


def test_settings_are_validated():
    from ragkit.errors import ConfigError

    with pytest.raises(ConfigError, match="alpha"):
        RetrieverSettings(alpha=2.0)
    with pytest.raises(ConfigError, match="mode"):
        RetrieverSettings(mode="fuzzy")  # type: ignore[arg-type]


def test_importing_ragkit_retrieval_loads_no_heavy_library():
    code = (
        "import sys, ragkit.retrieval; "
        "print([m for m in ('torch', 'faiss', 'bm25s', 'langchain_core') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- LangChain adapter --------------------------------------------------------------------


def test_langchain_retriever_returns_documents_with_citation_metadata(index_dir: Path):
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from ragkit.retrieval.langchain import RagkitRetriever

    lc = RagkitRetriever(retriever=retriever(index_dir), k=2)
    docs = lc.invoke("are travel costs reimbursed?")
    assert len(docs) == 2
    top = docs[0]
    assert top.page_content == "Travel costs are reimbursed within 30 days."
    assert set(top.metadata) == {
        "chunk_id",
        "source",
        "sources",
        "title",
        "page",
        "section",
        "headings",
        "score",
        "rank",
        "groups",
    }
    assert top.metadata["source"] == "money/expenses.md"
    assert top.metadata["page"] is None and top.metadata["groups"] == []

    chain = {
        "context": lc | RunnableLambda(lambda ds: "\n".join(d.metadata["source"] for d in ds)),
        "question": RunnablePassthrough(),
    } | RunnableLambda(lambda x: f"{x['question']} <- {x['context'].splitlines()[0]}")
    assert chain.invoke("are travel costs reimbursed?") == (
        "are travel costs reimbursed? <- money/expenses.md"
    )

    manager = RagkitRetriever(retriever=retriever(index_dir), k=1, groups=MANAGERS)
    assert manager.invoke("salary band 3 pay")[0].metadata["groups"] == ["managers"]
    public = RagkitRetriever(retriever=retriever(index_dir), k=5)
    assert all(d.metadata["groups"] == [] for d in public.invoke("salary band 3 pay"))
    # one call may override the adapter's defaults (the chain passes a request's groups so)
    override = public.invoke("salary band 3 pay", k=1, groups=["managers"])
    assert len(override) == 1 and override[0].metadata["groups"] == ["managers"]


# --- ranking metrics the benchmarks use (ragkit.eval.metrics) ---------------------------


def test_ranking_metrics_by_hand():
    from ragkit.eval import metrics as m

    qrels = {"q1": {"d1": 1, "d3": 1}, "q2": {"d9": 1}}
    run = {"q1": {"d2": 0.9, "d1": 0.8, "d3": 0.7}, "q2": {"d5": 1.0}}
    # q1: relevant at ranks 2 and 3 -> DCG 1/log2(3) + 1/log2(4); ideal 1 + 1/log2(3). q2: 0.
    q1 = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(qrels, run, 10) == pytest.approx(q1 / 2)
    assert m.ndcg_at_k(qrels, run, 1) == 0.0
    assert m.hit_at_k(qrels, run, 1) == 0.0
    assert m.hit_at_k(qrels, run, 2) == 0.5
    assert m.mrr_at_k(qrels, run, 10) == 0.25  # (1/2 + 0) / 2
    assert m.mrr_at_k(qrels, run, 1) == 0.0
    assert m.ndcg_at_k({"q": {"d": 1}}, {}, 10) == 0.0  # a query missing from the run
