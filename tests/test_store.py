"""The index store: round trip, clear errors on damage, one writer at a time."""

from __future__ import annotations

import json
import sqlite3
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
    assert snapshot.live_chunks() == chunks
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
    assert len(load_index(tmp_path).live_chunks()) == 3
    generations = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert generations == ["gen-000002"]


def test_empty_index_round_trips(tmp_path):
    write_generation(
        tmp_path, {"fingerprint": {}, "files": {}, "dim": 8}, [], np.zeros((0, 8), np.float32)
    )
    assert load_index(tmp_path).live_chunks() == []


def test_missing_index_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(IndexStoreError, match=r"no index at .*nothing-here.*ragkit ingest"):
        load_index(tmp_path / "nothing-here")
    assert read_manifest(tmp_path) is None


@pytest.mark.parametrize("damage", ["chunks", "vectors", "manifest", "pointer", "count", "meta"])
def test_damaged_index_gives_a_clear_error(tmp_path, damage):
    final = write_generation(
        tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0), chunk(1)], vectors(2)
    )
    segment = final / "seg-000001"
    if damage == "chunks":
        (segment / "chunks.sqlite").write_bytes(b"not a database" * 100)
    elif damage == "vectors":
        (segment / "vectors.faiss").write_bytes(b"garbage")
    elif damage == "manifest":
        (final / "manifest.json").write_text("{")
    elif damage == "pointer":
        (tmp_path / "CURRENT").write_text("../../etc\n")
    elif damage == "count":
        meta = json.loads((segment / "meta.json").read_text())
        (segment / "meta.json").write_text(json.dumps({**meta, "rows": 3}))
    else:
        (segment / "meta.json").unlink()
    with pytest.raises(IndexStoreError, match="corrupt"):
        load_index(tmp_path)


def test_an_index_in_the_old_format_asks_for_a_rebuild(tmp_path):
    (tmp_path / "gen-000001").mkdir()
    (tmp_path / "gen-000001" / "manifest.json").write_text('{"format": 1, "files": {}}')
    (tmp_path / "CURRENT").write_text("gen-000001\n")
    with pytest.raises(IndexStoreError, match=r"format 1.*rebuild it with `ragkit ingest"):
        load_index(tmp_path)


def test_a_staging_folder_left_by_a_killed_writer_is_ignored_then_cleaned(tmp_path):
    write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    leftover = tmp_path / ".staging-dead"
    leftover.mkdir()
    (leftover / "manifest.json").write_text("half a file")
    assert len(load_index(tmp_path).live_chunks()) == 1
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


def test_chunk_store_is_a_plain_sqlite_table(tmp_path):
    final = write_generation(tmp_path, {"fingerprint": {}, "files": {}}, [chunk(0)], vectors(1))
    db = sqlite3.connect(final / "seg-000001" / "chunks.sqlite")
    (chunk_id, record) = db.execute("SELECT chunk_id, record FROM chunks WHERE row = 0").fetchone()
    assert chunk_id == "id0" and json.loads(record)["text"] == "Text 0 é 漢字"
    db.close()


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
    assert len(load_index(tmp_path).live_chunks()) == 1


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
                assert snapshot.manifest["chunks"] == len(snapshot.live_chunks())
                snapshot.close()
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
        "files-not-object",
        "segment-name",
        "pointer-not-utf8",
        "pointer-empty",
        "faiss-hnsw",
        "faiss-l2",
        "chunks-not-sqlite",
        "tombstones-outside",
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
    segment = final / "seg-000001"
    if damage == "manifest-list":
        (final / "manifest.json").write_text("[]")
    elif damage == "manifest-no-fingerprint":
        del manifest["fingerprint"]
        (final / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "files-not-object":
        (final / "files.json").write_text("[]")
    elif damage == "segment-name":
        manifest["segments"] = ["../../etc"]
        (final / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "pointer-not-utf8":
        (tmp_path / "CURRENT").write_bytes(b"gen-\xff\xfe0001\n")
    elif damage == "pointer-empty":
        (tmp_path / "CURRENT").write_text("")
    elif damage.startswith("faiss-"):
        (segment / "vectors.faiss").unlink()  # a hard link: replace, never write through
        faiss.write_index(_foreign_faiss(damage[6:]), str(segment / "vectors.faiss"))
    elif damage == "chunks-not-sqlite":
        (segment / "chunks.sqlite").unlink()
        (segment / "chunks.sqlite").write_bytes(b"not a database" * 100)
    elif damage == "tombstones-outside":
        np.save(final / "deleted-seg-000001.npy", np.array([7], np.int64))
    elif damage == "chunks-missing":
        (segment / "chunks.sqlite").unlink()
    else:
        (tmp_path / "CURRENT").write_text("gen-000009\n")
    for read in (load_index, read_manifest):
        if read is read_manifest and damage.startswith(("faiss", "chunk", "tomb", "segment")):
            continue  # the manifest alone is fine
        if read is load_index and damage == "files-not-object":
            continue  # queries never read the per-file records
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
        (final / "manifest.json").write_text('{"segments": [], "format": 2}')
    elif damage == "manifest-duplicate-key":
        (final / "manifest.json").write_text(
            '{"fingerprint": {}, "format": 2, "files": {}, "files": {}}'
        )
    elif damage == "pointer-not-utf8":
        (tmp_path / "CURRENT").write_bytes(b"gen-\xff\xfe\n")
    else:
        other = faiss.IndexFlatL2(8)
        other.add(vectors(1))
        (final / "seg-000001" / "vectors.faiss").unlink()  # a hard link: never write through
        faiss.write_index(other, str(final / "seg-000001" / "vectors.faiss"))
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
    assert len(load_index(tmp_path).live_chunks()) == 1


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
