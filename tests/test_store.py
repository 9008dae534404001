"""The index store: round trip, clear errors on damage, one writer at a time."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ragkit.errors import IndexStoreError
from ragkit.index.records import Chunk
from ragkit.index.store import load_index, read_manifest, write_generation, writer_lock


def chunk(i: int, groups: tuple[str, ...] = ()) -> Chunk:
    return Chunk(
        chunk_id=f"id{i}",
        source=f"doc{i}.md",
        title=f"Doc {i}",
        text=f"Text {i} é 漢字",
        start=0,
        end=9,
        page=i or None,
        headings=("A", "B"),
        doc_hash="h",
        groups=groups,
    )


def vectors(n: int, dim: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_round_trip_keeps_chunks_vectors_and_manifest(tmp_path):
    chunks = [chunk(0), chunk(1, ("managers",))]
    matrix = vectors(2)
    manifest = {"fingerprint": {"model": "m"}, "files": {"doc0.md": {"hash": "h"}}}
    write_generation(tmp_path, manifest, chunks, matrix)
    snapshot = load_index(tmp_path)
    assert snapshot.chunks == chunks
    assert snapshot.fingerprint == {"model": "m"}
    assert snapshot.manifest["chunks"] == 2
    stored = snapshot.vectors_by_id()
    np.testing.assert_allclose(stored["id1"], matrix[1])


def test_each_write_replaces_the_previous_generation(tmp_path):
    for n in (1, 3):
        write_generation(
            tmp_path, {"fingerprint": {}, "files": {}}, [chunk(i) for i in range(n)], vectors(n)
        )
    assert len(load_index(tmp_path).chunks) == 3
    generations = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert generations == ["gen-000002"]


def test_empty_index_round_trips(tmp_path):
    write_generation(
        tmp_path, {"fingerprint": {}, "files": {}, "dim": 8}, [], np.zeros((0, 8), np.float32)
    )
    assert load_index(tmp_path).chunks == []


def test_missing_index_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(IndexStoreError, match=r"no index at .*nothing-here.*ragkit ingest"):
        load_index(tmp_path / "nothing-here")
    assert read_manifest(tmp_path) is None


@pytest.mark.parametrize("damage", ["chunks", "vectors", "manifest", "pointer", "count"])
def test_damaged_index_gives_a_clear_error(tmp_path, damage):
    final = write_generation(
        tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0), chunk(1)], vectors(2)
    )
    if damage == "chunks":
        (final / "chunks.jsonl").write_text("{not json\n")
    elif damage == "vectors":
        (final / "vectors.faiss").write_bytes(b"garbage")
    elif damage == "manifest":
        (final / "manifest.json").write_text("{")
    elif damage == "pointer":
        (tmp_path / "CURRENT").write_text("../../etc\n")
    else:
        lines = (final / "chunks.jsonl").read_text().splitlines()
        (final / "chunks.jsonl").write_text(lines[0] + "\n")
    with pytest.raises(IndexStoreError, match="corrupt"):
        load_index(tmp_path)


def test_a_staging_folder_left_by_a_killed_writer_is_ignored_then_cleaned(tmp_path):
    write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    leftover = tmp_path / ".staging-dead"
    leftover.mkdir()
    (leftover / "chunks.jsonl").write_text("half a file")
    assert len(load_index(tmp_path).chunks) == 1
    write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    assert not leftover.exists()


def test_second_writer_is_refused_while_one_holds_the_lock(tmp_path):
    with (
        writer_lock(tmp_path),
        pytest.raises(IndexStoreError, match="another ragkit process"),
        writer_lock(tmp_path),
    ):
        pass
    with writer_lock(tmp_path):  # released afterwards
        pass


def test_chunk_store_is_plain_json(tmp_path):
    final = write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    record = json.loads((final / "chunks.jsonl").read_text().splitlines()[0])
    assert record["text"] == "Text 0 é 漢字" and record["headings"] == ["A", "B"]
