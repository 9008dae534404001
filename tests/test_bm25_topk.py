"""BM25's pruned top-k (ragkit/index/bm25.py) equals exhaustive scoring, row for row and bit for
bit, on random corpora, queries and access filters; and it does skip postings."""

from __future__ import annotations

import numpy as np
import pytest

from ragkit.index import bm25 as bm25_module
from ragkit.index.records import Chunk
from ragkit.index.store import load_index, write_changes, write_generation
from ragkit.retrieval.sparse import top_rows
from ragkit.text.analyse import analyser

# Few words, Zipf-like: many chunks hold the same words (exact score ties), some words are rare.
WORDS = [
    "leave",
    "salary",
    "laptop",
    "travel",
    "remote",
    "pension",
    "office",
    "holiday",
    "badge",
    "parking",
    "visa",
    "bonus",
]


def corpus(rng: np.random.Generator, n: int, start: int = 0) -> list[Chunk]:
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    out = []
    for i in range(start, start + n):
        picked = rng.choice(WORDS, size=int(rng.integers(1, 9)), p=weights / weights.sum())
        text = " ".join(picked)
        groups = ("hr",) if rng.random() < 0.3 else ()
        out.append(Chunk(f"id{i}", f"doc{i}.md", "", text, 0, len(text), None, (), "h", groups))
    return out


def vectors(n: int) -> np.ndarray:
    v = np.random.default_rng(n).normal(size=(n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def manifest() -> dict:
    return {"fingerprint": {"model": "hash:8"}, "files": {}}


@pytest.fixture(params=["pruned", "few postings"])
def prune_from(request, monkeypatch) -> None:
    """Both ways `top` works: pruning (forced on these small corpora), and scoring every
    posting when there are few."""
    if request.param == "pruned":
        monkeypatch.setattr(bm25_module, "_PRUNE_FROM", 0)


@pytest.mark.parametrize("seed", range(4))
def test_pruned_top_k_equals_exhaustive_top_k(tmp_path, seed, prune_from):
    rng = np.random.default_rng(seed)
    first = corpus(rng, 300)
    write_generation(tmp_path, manifest(), first, vectors(300))
    dropped = [c.chunk_id for c in first if rng.random() < 0.1]  # tombstones
    write_changes(tmp_path, manifest(), dropped, corpus(rng, 120, start=300), vectors(120))
    snapshot = load_index(tmp_path)
    assert len(snapshot.segments) == 2 and len(snapshot) == 420
    random_masks = [rng.random(len(snapshot)) < share for share in (0.05, 0.5, 0.97)]
    filters = [
        None,
        snapshot.readable_rows(frozenset()),
        snapshot.readable_rows(frozenset({"hr"})),
        *random_masks,
    ]
    for _ in range(25):
        words = rng.choice([*WORDS, "quokka"], size=int(rng.integers(1, 7)))  # repeats too
        terms = analyser().terms(" ".join(words))
        for allowed in filters:
            query = snapshot.bm25(terms, allowed, k1=1.5, b=0.75)
            every = query.all()
            rows = np.arange(len(snapshot))
            np.testing.assert_array_equal(query.at(rows), every)  # bit for bit
            if allowed is not None:
                assert not every[~allowed].any()
            for k in (1, 3, 10, 40, 500):
                want_rows, want_scores = top_rows(every, k)
                got_rows, got_scores = query.top(k)
                np.testing.assert_array_equal(got_rows, want_rows)
                np.testing.assert_array_equal(got_scores, want_scores)


def test_top_k_skips_the_postings_of_common_words(tmp_path, monkeypatch):
    monkeypatch.setattr(bm25_module, "_PRUNE_FROM", 0)
    common = [f"office salary leave {i}" for i in range(200)]
    texts = [*common, "pension office", "pension salary office"]
    chunks = [
        Chunk(f"id{i}", f"d{i}.md", "", t, 0, len(t), None, (), "h") for i, t in enumerate(texts)
    ]
    write_generation(tmp_path, manifest(), chunks, vectors(len(chunks)))
    snapshot = load_index(tmp_path)
    query = snapshot.bm25(analyser().terms("pension office salary leave"), None, k1=1.5, b=0.75)
    read: list[str] = []
    contributions = bm25_module.BM25Query._contributions

    def counting(self, term):
        read.append(term.name)
        return contributions(self, term)

    monkeypatch.setattr(bm25_module.BM25Query, "_contributions", counting)
    rows, _ = query.top(2)
    assert rows.tolist() == [200, 201]  # the shorter chunk first
    assert read == ["pension"]  # the rare word's rows are the only ones that can win
    read.clear()
    want_rows, want_scores = top_rows(query.all(), 50)  # a deep top needs the common words
    got_rows, got_scores = query.top(50)
    np.testing.assert_array_equal(got_rows, want_rows)
    np.testing.assert_array_equal(got_scores, want_scores)
