"""The IndexStore contract: every backend (local segments, Milvus Lite) passes the same test."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ragkit.index.protocols import IndexStore
from ragkit.index.records import Chunk
from ragkit.index.store import open_store

BACKENDS = [
    "local",
    pytest.param(
        "milvus",
        marks=[
            pytest.mark.slow,
            pytest.mark.skipif(
                importlib.util.find_spec("milvus_lite") is None,
                reason="Milvus Lite not installed: pip install 'ragkit[milvus]'",
            ),
        ],
    ),
]


def chunk(i: int, groups: tuple[str, ...] = ()) -> Chunk:
    text = f"Rule {i}: staff file form F-{i}."
    return Chunk(f"c{i}", f"f{i}.md", f"F{i}", text, 0, len(text), None, (), "h", groups)


def unit(n: int) -> np.ndarray:
    v = np.random.default_rng(n).normal(size=(n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def files(chunks: list[Chunk]) -> dict:
    return {c.source: {"hash": c.chunk_id, "chunk_ids": [c.chunk_id]} for c in chunks}


@pytest.mark.parametrize("backend", BACKENDS)
def test_write_read_change_round_trip(tmp_path, backend):
    spec = str(tmp_path / "index") if backend == "local" else f"milvus:{tmp_path / 'm.db'}"
    store = open_store(spec)
    assert isinstance(store, IndexStore)
    assert store.read_manifest() is None
    fingerprint = {"model": "hash:8"}
    first = [chunk(0), chunk(1, ("hr",)), chunk(2)]
    vectors = unit(3)
    with store.writing():
        store.write_generation({"fingerprint": fingerprint, "files": files(first)}, first, vectors)
    manifest = store.read_manifest()
    assert manifest is not None and manifest["fingerprint"] == fingerprint
    assert set(manifest["files"]) == {"f0.md", "f1.md", "f2.md"}

    snapshot = store.load()
    assert snapshot.live_count == 3 and snapshot.dim == 8
    np.testing.assert_allclose(snapshot.vectors_for(["c1"])["c1"], vectors[1], rtol=1e-6)
    snapshot.close()

    after = [first[0], first[2], chunk(3)]
    with store.writing():
        store.write_changes(
            {"fingerprint": fingerprint, "files": files(after)}, ["c1"], [chunk(3)], unit(1)
        )
    snapshot = store.load()
    assert sorted(c.chunk_id for c in snapshot.live_chunks()) == ["c0", "c2", "c3"]
    assert snapshot.live_count == 3
    assert "c1" not in snapshot.vectors_for(["c1"])
    assert sorted(store.read_manifest()["files"]) == ["f0.md", "f2.md", "f3.md"]
    snapshot.close()
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_stored_with_finds_chunks_by_id_duplicate_id_and_text(tmp_path, backend):
    """What a sync reads to plan its changes, looked up rather than read whole."""
    from dataclasses import replace

    spec = str(tmp_path / "index") if backend == "local" else f"milvus:{tmp_path / 'm.db'}"
    store = open_store(spec)
    twin = replace(chunk(4), chunk_id="c5", source="f5.md")  # same text: a duplicate of c4
    stored = [chunk(0), chunk(1, ("hr",)), replace(chunk(4), also=(twin,))]
    listed = {**files([chunk(0), chunk(1), chunk(4)]), **files([twin])}
    with store.writing():
        store.write_generation(
            {"fingerprint": {"model": "hash:8"}, "files": listed}, stored, unit(3)
        )
    snapshot = store.load()
    found = snapshot.stored_with(["c0", "c5"], [(chunk(1).text, ("hr",))])
    assert found is not None
    assert sorted(c.chunk_id for c in found) == ["c0", "c1", "c4"]
    assert [o.chunk_id for c in found if c.chunk_id == "c4" for o in c.also] == ["c5"]
    assert snapshot.stored_with(["c9"], [(chunk(1).text, ())]) == []  # other groups: no match
    snapshot.close()
    store.close()
