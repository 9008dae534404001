"""The ingest pipeline: incremental sync, dry runs, rebuilds, failures that lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import IngestOptions, ingest
from ragkit.index.store import load_index

FAKE = IngestOptions(model="hash:64", progress=False)


class CountingEmbedder:
    """The hashing embedder, counting the texts it embeds."""

    def __init__(self) -> None:
        from ragkit.index.embedding import HashingEmbedder

        self.inner = HashingEmbedder(dim=64)
        self.embedded: list[str] = []
        self.model_id = self.inner.model_id
        self.max_tokens = self.inner.max_tokens

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)

    def embed(self, texts, *, batch_size=64):
        self.embedded += list(texts)
        return self.inner.embed(texts)

    def fingerprint(self):
        return self.inner.fingerprint()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    (root / "leave").mkdir(parents=True)
    (root / "leave" / "annual.md").write_text(
        "---\ntitle: Annual leave\n---\n# Annual leave\n\nStaff get 25 days a year.\n\n"
        "## Carry over\n\nUp to 5 days carry over to March.\n"
    )
    (root / "sick.txt").write_text("SICK LEAVE\n\nA doctor's note is needed after 3 days.\n")
    (root / "salary.md").write_text(
        "---\ntitle: Salary bands\naccess: [managers]\n---\nBand L4 pays 68,000 EUR.\n"
    )
    return root


def run(corpus: Path, index: Path, embedder=None, **options):
    return ingest([corpus], index, IngestOptions(**{**vars(FAKE), **options}), embedder=embedder)


def test_first_ingest_indexes_every_file_with_metadata(corpus, tmp_path):
    report = run(corpus, tmp_path / "idx")
    assert report.ok and report.count("added") == 3
    snapshot = load_index(tmp_path / "idx")
    by_source = {c.source: c for c in snapshot.chunks}
    assert set(by_source) == {"leave/annual.md", "sick.txt", "salary.md"}
    carry = next(c for c in snapshot.chunks if "carry over" in c.text)
    assert carry.title == "Annual leave" and carry.headings == ("Annual leave", "Carry over")
    assert by_source["salary.md"].groups == ("managers",)
    assert by_source["sick.txt"].groups == ()
    assert len(snapshot.chunks) == snapshot.vectors_index.ntotal


def test_unchanged_reingest_embeds_nothing_and_writes_nothing(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    generation = (tmp_path / "idx" / "CURRENT").read_text()
    counter = CountingEmbedder()
    report = run(corpus, tmp_path / "idx", embedder=counter)
    assert report.count("unchanged") == 3 and not report.written
    assert counter.embedded == []
    assert (tmp_path / "idx" / "CURRENT").read_text() == generation


def test_changed_file_reembeds_only_its_new_text(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    (corpus / "leave" / "annual.md").write_text(
        "---\ntitle: Annual leave\n---\n# Annual leave\n\nStaff get 27 days a year.\n\n"
        "## Carry over\n\nUp to 5 days carry over to March.\n"
    )
    counter = CountingEmbedder()
    report = run(corpus, tmp_path / "idx", embedder=counter)
    assert report.count("updated") == 1 and report.count("unchanged") == 2
    assert len(counter.embedded) == 1 and "27 days" in counter.embedded[0]
    texts = [c.text for c in load_index(tmp_path / "idx").chunks]
    assert "Staff get 27 days a year." in texts and "Staff get 25 days a year." not in texts


def test_deleted_file_loses_its_chunks(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    (corpus / "sick.txt").unlink()
    report = run(corpus, tmp_path / "idx")
    assert report.count("removed") == 1
    assert {c.source for c in load_index(tmp_path / "idx").chunks} == {
        "leave/annual.md",
        "salary.md",
    }


def test_dry_run_reports_plan_and_writes_nothing(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    (corpus / "sick.txt").unlink()
    (corpus / "new.md").write_text("# Travel\n\nBook trains.\n")
    (corpus / "salary.md").write_text("---\naccess: [managers]\n---\nBand L4 pays 70,000 EUR.\n")
    before = load_index(tmp_path / "idx").chunks
    report = run(corpus, tmp_path / "idx", dry_run=True)
    assert {(o.source, o.status) for o in report.outcomes if o.status != "unchanged"} == {
        ("sick.txt", "removed"),
        ("new.md", "added"),
        ("salary.md", "updated"),
    }
    assert load_index(tmp_path / "idx").chunks == before


def test_model_change_rebuilds_with_a_message(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    report = run(corpus, tmp_path / "idx", model="hash:32")
    assert "rebuilding" in report.rebuild_reason and "hash:64" in report.rebuild_reason
    assert report.count("added") == 3
    assert load_index(tmp_path / "idx").vectors_index.d == 32


def test_groups_change_updates_without_reembedding(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    counter = CountingEmbedder()
    report = run(corpus, tmp_path / "idx", embedder=counter, groups=("hr",))
    assert report.count("updated") == 3 and counter.embedded == []
    groups = {c.source: c.groups for c in load_index(tmp_path / "idx").chunks}
    assert groups["sick.txt"] == ("hr",) and groups["salary.md"] == ("hr", "managers")


def test_a_broken_update_keeps_the_last_good_version(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    (corpus / "sick.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = run(corpus, tmp_path / "idx")
    failed = [o for o in report.outcomes if o.status == "failed"]
    assert [o.source for o in failed] == ["sick.txt"] and "kept the indexed version" in failed[
        0
    ].reason
    assert not report.ok
    assert any("doctor's note" in c.text for c in load_index(tmp_path / "idx").chunks)


def test_bad_files_are_reported_and_the_rest_ingested(corpus, tmp_path):
    (corpus / "empty.md").write_text("")
    (corpus / "scan.pdf").write_bytes(b"")
    report = run(corpus, tmp_path / "idx")
    reasons = {o.source: o.reason for o in report.outcomes if o.status == "failed"}
    assert set(reasons) == {"empty.md", "scan.pdf"}
    assert all(reasons.values())
    assert report.count("added") == 3


def test_a_failing_file_alone_does_not_rewrite_the_index(corpus, tmp_path):
    (corpus / "scan.pdf").write_bytes(b"")
    run(corpus, tmp_path / "idx")
    generation = (tmp_path / "idx" / "CURRENT").read_text()
    report = run(corpus, tmp_path / "idx")
    assert not report.ok and not report.written and report.count("unchanged") == 3
    assert (tmp_path / "idx" / "CURRENT").read_text() == generation


def test_every_chunk_fits_the_real_model_window(tmp_path):
    """all-MiniLM-L6-v2 reads 256 word pieces at most: every stored chunk must fit."""
    from ragkit.index.embedding import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder()
    corpus = Path(__file__).resolve().parents[1] / "sample_corpus"
    report = ingest([corpus], tmp_path / "idx", IngestOptions(progress=False, dry_run=True))
    assert report.ok
    from ingest.chunking import chunk_document
    from ingest.discover import discover
    from ingest.loaders import load_file

    counts = []
    for candidate in discover([corpus]).candidates:
        for doc in load_file(candidate.path, candidate.source):
            chunks = chunk_document(doc, count_tokens=model.count_tokens, max_tokens=256)
            counts += model.count_tokens([c.embedding_text for c in chunks])
    assert len(counts) > 50
    assert max(counts) <= 256
