"""A sync reads what it changes, not the corpus, and writes what a fresh build would hold.

The planner looks stored chunks up by chunk id and by (text, groups) (duplicates are stored
once, ingest/dedup.py), so these tests pin both properties: nothing reads the whole store
during an incremental sync, and after every step the stored chunks and vectors equal those of
an index built from scratch from the same folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.pipeline import IngestOptions, ingest, remove_sources
from ragkit.index.segment import Segment
from ragkit.index.snapshot import IndexSnapshot
from ragkit.index.store import load_index

OPTIONS = IngestOptions(model="hash:64", progress=False)
NOTE = "A doctor's note is needed after 3 days of sick leave."


def write_corpus(root: Path, files: int = 40) -> None:
    root.mkdir(parents=True)
    for i in range(files):
        paragraphs = [f"Policy {i} paragraph {p}: rule number {i * 7 + p}." for p in range(3)]
        (root / f"policy-{i:03d}.txt").write_text("\n\n".join(paragraphs) + "\n")


def stored_state(index: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Every stored chunk (duplicates inside) as JSON, with its vector, by chunk id."""
    snapshot = load_index(index)
    try:
        chunks = snapshot.live_chunks()
        vectors = snapshot.vectors_for(c.chunk_id for c in chunks)
        return {
            c.chunk_id: (json.dumps(c.to_json(), sort_keys=True), vectors[c.chunk_id])
            for c in chunks
        }
    finally:
        snapshot.close()


def assert_same_as_fresh(corpus: Path, index: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    ingest([corpus], fresh, OPTIONS)
    ours, theirs = stored_state(index), stored_state(fresh)
    assert sorted(ours) == sorted(theirs)
    for cid, (record, vector) in ours.items():
        assert record == theirs[cid][0]
        np.testing.assert_allclose(vector, theirs[cid][1], atol=1e-6)


@pytest.fixture
def no_whole_reads(monkeypatch):
    """Fail any read of the whole store: every stored chunk, or a whole segment."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("an incremental sync read the whole store")

    def install() -> list[int]:
        read: list[int] = []
        chunks_at = Segment.chunks_at

        def counting(self, rows):
            read.append(len(rows))
            return chunks_at(self, rows)

        monkeypatch.setattr(IndexSnapshot, "live_chunks", refuse)
        monkeypatch.setattr(IndexSnapshot, "vectors_by_id", refuse)
        monkeypatch.setattr(Segment, "iter_chunks", refuse)
        monkeypatch.setattr(Segment, "chunks_at", counting)
        return read

    return install


def test_adding_changing_and_removing_a_file_reads_only_those_chunks(tmp_path, no_whole_reads):
    corpus, index = tmp_path / "docs", tmp_path / "idx"
    write_corpus(corpus)
    ingest([corpus], index, OPTIONS)
    total = load_index(index).live_count
    (corpus / "new.txt").write_text("A brand new policy on parking.\n")
    (corpus / "policy-005.txt").write_text("Policy 5 was rewritten entirely.\n")
    (corpus / "policy-009.txt").unlink()
    read = no_whole_reads()
    report = ingest([corpus], index, OPTIONS)
    assert report.written and report.count("added") == 1 and report.count("updated") == 1
    assert report.count("removed") == 1
    assert 0 < sum(read) <= 10 < total  # the 6 old chunks of two files, not the 120 stored
    remove_sources(["policy-010.txt"], index)  # `ragkit remove` reads only that file's chunks
    assert sum(read) <= 15


@pytest.mark.parametrize("whole", [False, True], ids=["looked-up", "read-whole"])
def test_every_step_equals_a_fresh_build(tmp_path, monkeypatch, whole):
    """Duplicates make the region subtle: a copy merges into another file's stored chunk,
    removing the first copy promotes the next, a change of groups splits a merged chunk.
    `read-whole` is the path for stores that cannot look rows up (older segments, Milvus)."""
    corpus, index = tmp_path / "docs", tmp_path / "idx"
    write_corpus(corpus, files=6)
    (corpus / "b-sick.txt").write_text(f"SICK LEAVE\n\n{NOTE}\n")
    ingest([corpus], index, OPTIONS)
    if whole:
        monkeypatch.setattr(IndexSnapshot, "stored_with", lambda *_: None)

    steps = [
        lambda: (corpus / "c-sick-copy.txt").write_text(f"SICK LEAVE\n\n{NOTE}\n"),
        lambda: (corpus / "a-sick-first.txt").write_text(f"SICK LEAVE\n\n{NOTE}\n"),
        lambda: (corpus / "a-sick-first.txt").unlink(),
        lambda: (corpus / "b-sick.txt").write_text(f"SICK LEAVE\n\n{NOTE} Revised.\n"),
        lambda: (corpus / "policy-002.txt").write_text("Policy 1 paragraph 0: rule number 7.\n"),
        lambda: (corpus / "policy-001.txt").rename(corpus / "policy-001-renamed.txt"),
    ]
    for step in steps:
        step()
        ingest([corpus], index, OPTIONS)
        assert_same_as_fresh(corpus, index, tmp_path)

    hr = corpus / "hr"
    hr.mkdir()
    (hr / ".ragkit-access.yaml").write_text("groups: [hr]\n")
    shutil.copy(corpus / "c-sick-copy.txt", hr / "sick.txt")
    ingest([corpus], index, OPTIONS)
    assert_same_as_fresh(corpus, index, tmp_path)
    remove_sources(["c-sick-copy.txt"], index)
    (corpus / "c-sick-copy.txt").unlink()
    assert_same_as_fresh(corpus, index, tmp_path)


def test_an_unchanged_file_is_not_even_read_and_a_disguised_change_is_caught(tmp_path, monkeypatch):
    """A file whose stat stamp (size, mtime, ctime, inode) is the one recorded at its last
    read is skipped unread; new content under the old size and mtime (as `rsync -t` or
    `touch -r` leave it) changes ctime, so it is read again."""
    import os

    import ingest.pipeline as pipeline

    corpus, index = tmp_path / "docs", tmp_path / "idx"
    write_corpus(corpus, files=5)
    fresh = ingest([corpus], index, OPTIONS)  # just written: too recent to trust a stamp
    assert all(e["stamp"] is None for e in load_index(index).files.values()) and fresh.ok
    monkeypatch.setattr(pipeline, "STAMP_SETTLE_NS", 0)  # as if the files had settled
    restamp = ingest([corpus], index, OPTIONS)  # read again, equal: only stamps are written
    assert restamp.written and restamp.embedded == 0 and restamp.count("unchanged") == 5
    (corpus / "new.txt").write_text("Parking is free.\n")
    ingest([corpus], index, OPTIONS)
    reads: list[str] = []
    real_read = pipeline.read_regular_file

    def counting(path, limit):
        reads.append(path.name)
        return real_read(path, limit)

    monkeypatch.setattr(pipeline, "read_regular_file", counting)
    report = ingest([corpus], index, OPTIONS)
    assert report.count("unchanged") == 6 and reads == [] and not report.written

    target = corpus / "policy-002.txt"
    before = target.stat()
    text = target.read_text()
    target.write_text(text.replace("Policy 2", "Policy X"))  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # old mtime back
    assert target.stat().st_size == before.st_size
    report = ingest([corpus], index, OPTIONS)
    assert reads == ["policy-002.txt"] and report.count("updated") == 1
    assert any("Policy X" in c.text for c in load_index(index).live_chunks())
