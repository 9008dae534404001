"""Segments: writes cost what changed, tombstones and compaction keep BM25 and vectors exact."""

from __future__ import annotations

import numpy as np
import pytest

from ragkit.index import segment as segment_module
from ragkit.index import snapshot as snapshot_module
from ragkit.index import store as store_module
from ragkit.index.records import Chunk
from ragkit.index.store import load_index, write_changes, write_generation
from ragkit.retrieval import HybridRetriever

WORDS = ["leave", "salary", "laptop", "travel", "remote", "pension", "office", "holiday"]


def chunk(i: int, groups: tuple[str, ...] = ()) -> Chunk:
    words = " ".join(WORDS[(i * j) % len(WORDS)] for j in range(1, 4 + i % 5))
    text = f"Policy {i}: {words} rules apply."
    return Chunk(f"id{i}", f"doc{i}.md", f"Doc {i}", text, 0, len(text), None, (), "h", groups)


def unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def manifest() -> dict:
    return {"fingerprint": {"model": "hash:16"}, "files": {}}


def by_id(snapshot, scores: np.ndarray) -> dict[str, float]:
    chunks = snapshot.chunks_at(np.flatnonzero(scores))
    return {
        c.chunk_id: float(scores[r]) for c, r in zip(chunks, np.flatnonzero(scores), strict=True)
    }


def test_a_change_adds_one_segment_and_tombstones_and_links_the_rest(tmp_path):
    chunks, vectors = [chunk(i) for i in range(10)], unit(10)  # 2 of 10 dropped: no compaction
    first = write_generation(tmp_path, manifest(), chunks, vectors)
    inode = (first / "seg-000001" / "chunks.sqlite").stat().st_ino
    second = write_changes(tmp_path, manifest(), ["id1", "id4"], [chunk(99)], unit(1, seed=9))

    assert (second / "seg-000001" / "chunks.sqlite").stat().st_ino == inode  # not rewritten
    snapshot = load_index(tmp_path)
    assert snapshot.manifest["segments"] == ["seg-000001", "seg-000002"]
    live = ["id0", "id2", "id3", "id5", "id6", "id7", "id8", "id9", "id99"]
    assert [c.chunk_id for c in snapshot.live_chunks()] == live
    assert snapshot.live_count == snapshot.manifest["chunks"] == 9 and len(snapshot) == 11
    np.testing.assert_array_equal(snapshot.vectors_for(["id3"])["id3"], vectors[3])
    assert "id1" not in snapshot.vectors_for(["id1"])  # a tombstoned chunk is gone
    assert snapshot.chunks_at([10])[0].chunk_id == "id99"
    assert not snapshot.readable_rows(frozenset())[[1, 4]].any()


@pytest.mark.parametrize("groups", [frozenset(), frozenset({"hr"})])
def test_bm25_after_changes_equals_an_index_that_never_held_the_dropped_chunks(tmp_path, groups):
    chunks = [chunk(i, ("hr",) if i % 3 == 0 else ()) for i in range(12)]
    write_generation(tmp_path / "a", manifest(), chunks, unit(12))
    write_changes(tmp_path / "a", manifest(), ["id2", "id7"], [chunk(20), chunk(21)], unit(2))
    changed = load_index(tmp_path / "a")
    live = changed.live_chunks()
    write_generation(tmp_path / "b", manifest(), live, unit(len(live)))
    fresh = load_index(tmp_path / "b")
    for query in (["leav", "salari"], ["laptop"], ["polici", "rule", "travel", "travel"]):
        ours = changed.bm25_scores(query, changed.readable_rows(groups), k1=1.5, b=0.75)
        theirs = fresh.bm25_scores(query, fresh.readable_rows(groups), k1=1.5, b=0.75)
        assert by_id(changed, ours) == pytest.approx(by_id(fresh, theirs), rel=1e-6)
        assert by_id(changed, ours)  # the query matched something


def test_compaction_bounds_segments_and_rewrites_a_mostly_deleted_one(tmp_path, monkeypatch):
    write_generation(tmp_path, manifest(), [chunk(i) for i in range(40)], unit(40))
    for i in range(40, 40 + store_module.MAX_SEGMENTS + 3):
        write_changes(tmp_path, manifest(), [], [chunk(i)], unit(1, seed=i))
        assert len(load_index(tmp_path).manifest["segments"]) <= store_module.MAX_SEGMENTS + 1
    expected = {f"id{i}" for i in range(40 + store_module.MAX_SEGMENTS + 3)}
    assert {c.chunk_id for c in load_index(tmp_path).live_chunks()} == expected

    dropped = [f"id{i}" for i in range(30)]  # 75% of the first segment
    write_changes(tmp_path, manifest(), dropped, [], np.zeros((0, 16), np.float32))
    snapshot = load_index(tmp_path)
    assert "seg-000001" not in snapshot.manifest["segments"]  # rewritten without its dead rows
    assert len(snapshot) == snapshot.live_count == len(expected) - 30
    assert {c.chunk_id for c in snapshot.live_chunks()} == expected - set(dropped)


def test_a_large_segment_is_compressed_with_high_recall_and_filters_inside(tmp_path, monkeypatch):
    monkeypatch.setattr(segment_module, "COMPRESS_AT", 3000)
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(60, 32))
    points = centres[rng.integers(0, 60, 4000)] + 0.6 * rng.normal(size=(4000, 32))
    vectors = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    groups = [("hr",) if i % 20 == 0 else () for i in range(4000)]
    chunks = [
        Chunk(f"c{i}", "f.md", "T", f"text {i}", 0, 1, None, (), "h", g)
        for i, g in enumerate(groups)
    ]
    write_generation(tmp_path, manifest(), chunks, vectors)
    snapshot = load_index(tmp_path)
    assert snapshot.segments[0].meta.kind == "ivf-sq8"

    queries = vectors[rng.choice(4000, 50, replace=False)] + 0.05 * rng.normal(size=(50, 32))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    found = 0
    for query in queries:
        exact = set(np.argsort(-(vectors @ query))[:10].tolist())
        rows, _ = snapshot.dense_search(query, 10)
        found += len(exact & set(rows.tolist()))
    assert found / (10 * len(queries)) >= 0.98

    hr_only = np.array([g == ("hr",) for g in groups])  # 5% of rows: a narrow filter
    rows, _ = snapshot.dense_search(queries[0], 10, hr_only)
    assert len(rows) == 10 and hr_only[rows].all()
    np.testing.assert_allclose(
        snapshot.similarities(queries[0], rows), vectors[rows] @ queries[0], rtol=1e-5
    )


def test_the_retriever_never_returns_a_tombstoned_chunk(tmp_path):
    from ragkit.index.embedding import load_embedder

    embedder = load_embedder("hash:64")
    chunks = [chunk(i) for i in range(8)]
    fingerprint = {"fingerprint": {"model": "hash:64"}, "files": {}}
    write_generation(
        tmp_path, fingerprint, chunks, embedder.embed([c.embedding_text for c in chunks])
    )
    replacement = [chunk(30)]
    write_changes(
        tmp_path,
        fingerprint,
        [c.chunk_id for c in chunks],
        replacement,
        embedder.embed([c.embedding_text for c in replacement]),
    )
    hits = HybridRetriever.from_index(tmp_path).retrieve("policy leave salary laptop", k=5)
    assert [h.chunk.chunk_id for h in hits] == ["id30"]


def test_languages_come_from_group_set_counts_without_reading_rows(tmp_path):
    """A question's language prior: chunks per language the asker may read, summed from each
    segment's per-group-set counts (no per-row scan: the same few sums at any size)."""
    import dataclasses

    chunks = [
        dataclasses.replace(chunk(i, ("hr",) if i < 3 else ()), language="pt" if i < 3 else "en")
        for i in range(10)
    ]
    write_generation(tmp_path, manifest(), chunks, unit(10))
    write_changes(tmp_path, manifest(), [], [chunk(50, ("hr",))], unit(1, seed=3))
    snapshot = load_index(tmp_path)
    for segment in snapshot.segments:
        segment.group_ids = None  # a per-row read would fail
    assert snapshot.languages(frozenset()) == {"en": 7}
    assert snapshot.languages(frozenset({"hr"})) == {"en": 7, "pt": 3, None: 1}
    assert snapshot.languages(None) == {"en": 7, "pt": 3, None: 1}


def test_an_ivf_search_reads_at_most_its_share_of_codes_yet_fills_a_narrow_filter(
    tmp_path, monkeypatch
):
    import faiss

    monkeypatch.setattr(segment_module, "COMPRESS_AT", 3000)
    rng = np.random.default_rng(2)
    points = rng.normal(size=(4000, 32))
    vectors = (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)
    chunks = [Chunk(f"c{i}", "f.md", "T", f"text {i}", 0, 1, None, (), "h") for i in range(4000)]
    write_generation(tmp_path, manifest(), chunks, vectors)
    snapshot = load_index(tmp_path)
    segment = snapshot.segments[0]
    largest = max(segment.index.invlists.list_size(i) for i in range(segment.meta.nlist))
    stats = faiss.cvar.indexIVF_stats

    def codes_read(share: float, allowed: np.ndarray | None = None) -> tuple[int, np.ndarray]:
        monkeypatch.setattr(snapshot_module, "MAX_CODES", int(share * 4000))
        stats.reset()
        rows, _ = snapshot.dense_search(vectors[7], 10, allowed)
        return int(stats.ndis), rows

    uncapped, _ = codes_read(0.0)  # a quarter of the lists, uneven: about half the rows here
    capped, rows = codes_read(0.05)
    assert capped <= 0.05 * 4000 + largest < uncapped
    assert rows[0] == 7
    few = np.zeros(4000, bool)
    few[rng.choice(4000, 6, replace=False)] = True  # 6 readable rows: the cap must widen
    _, rows = codes_read(0.05, few)
    assert sorted(rows.tolist()) == sorted(np.flatnonzero(few).tolist())
