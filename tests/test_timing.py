"""Side channels (issue 13, item 6): an asker cannot learn hidden text from response times.

Two channels were measured: a vector cache shared by all askers (a guessed restricted
sentence that a manager's question put in the cache came back in 3 ms instead of 11), and
BM25 taking a shortcut for words the index does not hold but not for words only hidden
chunks hold. Each test times the attacker's two cases interleaved in random order over many
trials and bounds the difference of the medians loosely (30%). Against the old code the BM25
test fails every time (a 10x difference); the cache test only sometimes (about 35% on this
shared 2-core machine, close to the bound), so the deterministic tests below pin both
mechanisms. tests/bench/bench_security.py reports the differences with bootstrap intervals.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.assistant import Assistant
from ragkit.generators.extractive import ExtractiveGenerator
from ragkit.index.embedding import HashingEmbedder
from ragkit.index.store import load_index
from ragkit.index.vector_cache import VectorCache, cache_view
from ragkit.retrieval import HybridRetriever, RetrieverSettings
from ragkit.text.analyse import analyser

# salary.md of the tiny corpus is readable by managers only
SECRET_UNIT = "Salary Bands\nBand L4 pays 68,000 to 82,000 EUR per year."
WRONG_GUESS = "Salary Bands\nBand L4 pays 71,000 to 85,000 EUR per year."


class SlowMemoEmbedder:
    """Like the bundled encoder for timing: about 1 ms per text, and a memo of small calls."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder(dim=256)
        self.model_id, self.max_tokens = self.inner.model_id, self.inner.max_tokens
        self.memo = VectorCache(256)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        def slow(missing: list[str]) -> np.ndarray:
            time.sleep(0.001 * len(missing))
            return self.inner.embed(missing)

        return self.memo.embed(slow, texts)


def medians(trials: int, cases: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Median seconds of each case, the cases interleaved in random order."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    order = [name for name in cases for _ in range(trials)]
    random.Random(13).shuffle(order)
    for name in order:
        started = time.perf_counter()
        cases[name]()
        times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def assert_no_signal(found: dict[str, float], bound: float = 0.3) -> None:
    low, high = min(found.values()), max(found.values())
    assert (high - low) / high < bound, found


def test_a_managers_question_does_not_make_a_guessed_secret_faster(tiny_index: Path) -> None:
    snapshot = load_index(tiny_index)
    embedder = SlowMemoEmbedder()
    retriever = HybridRetriever.from_snapshot(snapshot, embedder)  # type: ignore[arg-type]

    times: dict[str, list[float]] = {"right": [], "wrong": []}
    guesses = {"right": SECRET_UNIT, "wrong": WRONG_GUESS}
    order = [name for name in guesses for _ in range(60)]
    random.Random(13).shuffle(order)
    for name in order:
        # fresh caches each trial, as the attacker's first try of a guess would meet them
        embedder.memo = VectorCache(256)
        generator = ExtractiveGenerator(embedder, threshold=0.0)  # type: ignore[arg-type]
        manager = Assistant(retriever, generator, groups=frozenset({"managers"}))
        staff = Assistant(retriever, generator)
        manager.ask("What does band L4 pay?")  # puts SECRET_UNIT's vector in the caches
        started = time.perf_counter()
        staff.ask(guesses[name])
        times[name].append(time.perf_counter() - started)
    found = {name: statistics.median(values) for name, values in times.items()}
    assert_no_signal(found)


def test_vector_caches_are_kept_apart_per_view() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.ones((len(texts), 2), np.float32)

    cache = VectorCache(16)
    with cache_view(frozenset({"managers"})):
        cache.embed(embed, ["secret"])
        cache.embed(embed, ["secret"])  # a hit within the view
    with cache_view(frozenset()):
        cache.embed(embed, ["secret"])  # another view: a miss
    cache.embed(embed, ["secret"])  # no view: never cached
    cache.embed(embed, ["secret"])
    assert calls == [["secret"]] * 4


def test_bm25_takes_the_same_time_for_hidden_and_unknown_words(tiny_index: Path) -> None:
    snapshot = load_index(tiny_index)
    sparse = RetrieverSettings(mode="sparse")
    retriever = HybridRetriever.from_snapshot(snapshot, HashingEmbedder(dim=256), sparse)
    public = frozenset[str]()
    # "l4" and "pays" occur only in the managers' document; the others nowhere
    hidden, unknown = "l4 pays", "q9 buys"
    assert not retriever.retrieve(hidden, groups=public)
    for _ in range(50):  # warm both paths
        retriever.retrieve(hidden, groups=public)
        retriever.retrieve(unknown, groups=public)
    allowed = retriever._allowed(public)
    terms = {q: analyser().terms(q) for q in (hidden, unknown)}

    def bm25(query: str) -> np.ndarray:
        return snapshot.bm25_scores(terms[query], allowed, k1=1.5, b=0.75)

    found = medians(1500, {"hidden": lambda: bm25(hidden), "unknown": lambda: bm25(unknown)})
    assert_no_signal(found)


def test_bm25_drops_hidden_words_like_unknown_ones(tiny_index: Path) -> None:
    snapshot = load_index(tiny_index)
    retriever = HybridRetriever.from_snapshot(
        snapshot, HashingEmbedder(dim=256), RetrieverSettings(mode="sparse")
    )
    terms = analyser().terms("l4 pays quokka")
    public = retriever._allowed(frozenset())
    managers = retriever._allowed(frozenset({"managers"}))
    assert snapshot.view_terms(terms, public) == []  # hidden words dropped like unknown ones
    assert len(snapshot.view_terms(terms, managers)) == 2
