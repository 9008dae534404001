"""The index store: round trip, clear errors on damage, one writer at a time."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from ragkit.errors import IndexStoreError
from ragkit.index import store
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


def test_each_write_replaces_the_previous_generation(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "GRACE_SECONDS", 0.0)
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


def test_a_superseded_generation_is_kept_for_the_grace_period(tmp_path, monkeypatch):
    manifest = {"fingerprint": {}, "files": {}}
    for n in (1, 2):
        write_generation(tmp_path, manifest, [chunk(i) for i in range(n)], vectors(n))
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert names == ["gen-000001", "gen-000002"]  # a reader that read CURRENT=1 can finish
    monkeypatch.setattr(store, "GRACE_SECONDS", 0.0)
    write_generation(tmp_path, manifest, [chunk(0)], vectors(1))
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert names == ["gen-000003"]
    assert len(load_index(tmp_path).chunks) == 1


def test_at_most_keep_superseded_generations_stay(tmp_path):
    for _ in range(5):
        write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert names == [f"gen-{n:06d}" for n in range(5 - store.KEEP_SUPERSEDED, 6)]


def test_only_folders_ragkit_names_are_deleted(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "GRACE_SECONDS", 0.0)
    for name in ("gen-reports", "gen-1", ".staging", "notes"):
        (tmp_path / name).mkdir()
    write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert left == [".staging", "gen-000002", "gen-1", "gen-reports", "notes"]


@pytest.mark.parametrize("grace", [60.0, 0.0])
def test_reads_never_fail_while_a_writer_swaps_generations(tmp_path, monkeypatch, grace):
    """The reader side of issue 13: no 'corrupt' while ingest rewrites the index in a loop.

    With no grace period at all (every superseded generation deleted at once) the reader must
    still never fail: it retries on the new pointer.
    """
    monkeypatch.setattr(store, "GRACE_SECONDS", grace)
    monkeypatch.setattr(store, "KEEP_SUPERSEDED", 0 if grace == 0 else 2)
    manifest = {"fingerprint": {}, "files": {}}
    write_generation(tmp_path, manifest, [chunk(0)], vectors(1))
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        while not stop.is_set():
            n = written[0] % 40 + 1
            write_generation(tmp_path, manifest, [chunk(i) for i in range(n)], vectors(n))
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    failures, seen, reads = [], set(), 0
    try:
        while (reads < 150 or written[0] < 30) and reads < 20_000:
            reads += 1
            try:
                snapshot = load_index(tmp_path)
                assert snapshot.manifest["chunks"] == len(snapshot.chunks)
                seen.add(snapshot.path.name)
                read_manifest(tmp_path)
            except IndexStoreError as exc:
                failures.append(str(exc))
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert len(seen) > 3  # the writer really did swap generations under the reader


def _foreign_faiss(kind: str):
    import faiss

    index = faiss.IndexHNSWFlat(8, 4) if kind == "hnsw" else faiss.IndexFlatL2(8)
    index.add(vectors(2))
    return index


@pytest.mark.parametrize(
    "damage",
    [
        "manifest-list",
        "manifest-no-fingerprint",
        "manifest-no-files",
        "pointer-not-utf8",
        "pointer-empty",
        "faiss-hnsw",
        "faiss-l2",
        "chunk-groups-string",
        "chunk-not-object",
        "chunks-missing",
        "generation-missing",
    ],
)
def test_malformed_index_is_one_line_saying_what_to_do(tmp_path, damage):
    import faiss

    final = write_generation(
        tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0), chunk(1)], vectors(2)
    )
    manifest = json.loads((final / "manifest.json").read_text())
    lines = (final / "chunks.jsonl").read_text().splitlines()
    if damage == "manifest-list":
        (final / "manifest.json").write_text("[]")
    elif damage == "manifest-no-fingerprint":
        del manifest["fingerprint"]
        (final / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "manifest-no-files":
        manifest["files"] = []
        (final / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "pointer-not-utf8":
        (tmp_path / "CURRENT").write_bytes(b"gen-\xff\xfe0001\n")
    elif damage == "pointer-empty":
        (tmp_path / "CURRENT").write_text("")
    elif damage.startswith("faiss-"):
        faiss.write_index(_foreign_faiss(damage[6:]), str(final / "vectors.faiss"))
    elif damage == "chunk-groups-string":
        record = json.loads(lines[1])
        record["groups"] = "managers"  # would read as groups m, a, n, ...
        (final / "chunks.jsonl").write_text(lines[0] + "\n" + json.dumps(record) + "\n")
    elif damage == "chunk-not-object":
        (final / "chunks.jsonl").write_text(lines[0] + "\n[1, 2]\n")
    elif damage == "chunks-missing":
        (final / "chunks.jsonl").unlink()
    else:
        (tmp_path / "CURRENT").write_text("gen-000009\n")
    for read in (load_index, read_manifest):
        if read is read_manifest and damage.startswith(("faiss", "chunk")):
            continue  # the manifest alone is fine
        with pytest.raises(IndexStoreError) as caught:
            read(tmp_path)
        message = str(caught.value)
        assert "corrupt" in message and "build it again" in message, message
        assert "\n" not in message and len(message) < 400


def test_an_unreadable_index_folder_says_so(tmp_path, monkeypatch):
    write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    real = Path.read_bytes

    def denied(self):
        if self.name == "CURRENT":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    # Tests run as root here, where chmod 000 does not stop a read: simulate the refusal.
    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(IndexStoreError, match=r"cannot read index .*Permission denied.*access"):
        load_index(tmp_path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("manifest-list", "is JSON list, not an object"),
        ("manifest-no-fingerprint", "has no 'fingerprint' object"),
        ("manifest-duplicate-key", "duplicate key 'files'"),
        ("pointer-not-utf8", "not UTF-8"),
        ("faiss-other-type", "is a FAISS IndexFlatL2"),
    ],
)
def test_malformed_index_is_one_line_error(tmp_path, damage, message):
    import faiss

    final = write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    if damage == "manifest-list":
        (final / "manifest.json").write_text("[]")
    elif damage == "manifest-no-fingerprint":
        (final / "manifest.json").write_text('{"files": {}, "format": 1}')
    elif damage == "manifest-duplicate-key":
        (final / "manifest.json").write_text('{"fingerprint": {}, "files": {}, "files": {}}')
    elif damage == "pointer-not-utf8":
        (tmp_path / "CURRENT").write_bytes(b"gen-\xff\xfe\n")
    else:
        other = faiss.IndexFlatL2(8)
        other.add(vectors(1))
        faiss.write_index(other, str(final / "vectors.faiss"))
    with pytest.raises(IndexStoreError, match=message) as info:
        load_index(tmp_path)
    assert "\n" not in str(info.value) and "ragkit ingest" in str(info.value)


def test_writing_into_a_folder_that_is_not_an_index_is_refused(tmp_path):
    folder = tmp_path / "d"
    (folder / "gen-reports").mkdir(parents=True)
    (folder / "gen-reports" / "q1.pdf").write_text("a report")
    with pytest.raises(IndexStoreError, match="not a ragkit index .*gen-reports"):
        write_under_lock(folder)
    assert (folder / "gen-reports" / "q1.pdf").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexStoreError, match="is a file, not a folder"):
        write_under_lock(tmp_path / "file")


def test_only_names_ragkit_creates_are_ever_deleted(tmp_path):
    write_under_lock(tmp_path)
    # Things a user or another tool put beside a live index, with names close to ours.
    for name in ("gen-reports", "gen-1", ".staging-notes.d", "gen-000001-backup"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "keep.txt").write_text("mine")
    (tmp_path / "gen-000099").symlink_to(tmp_path / "gen-reports")
    write_under_lock(tmp_path)
    write_under_lock(tmp_path)
    for name in ("gen-reports", "gen-1", ".staging-notes.d", "gen-000001-backup"):
        assert (tmp_path / name / "keep.txt").read_text() == "mine"
    assert len(load_index(tmp_path).chunks) == 1


def write_under_lock(folder):
    with writer_lock(folder):
        return write_generation(folder, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))


def test_chunk_language_round_trips_and_old_records_read_as_unknown():
    from dataclasses import replace

    portuguese = replace(chunk(0), language="pt")
    assert Chunk.from_json(json.loads(json.dumps(portuguese.to_json()))) == portuguese
    old = portuguese.to_json()
    del old["language"]  # an index written before languages were detected
    assert Chunk.from_json(old).language is None
