"""The ingest pipeline: incremental sync, dry runs, rebuilds, failures that lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import AccessWideningError, IngestOptions, ingest, remove_sources
from ragkit.index.records import readable_by
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
    by_source = {c.source: c for c in snapshot.live_chunks()}
    assert set(by_source) == {"leave/annual.md", "sick.txt", "salary.md"}
    carry = next(c for c in snapshot.live_chunks() if "carry over" in c.text)
    assert carry.title == "Annual leave" and carry.headings == ("Annual leave", "Carry over")
    assert by_source["salary.md"].groups == ("managers",)
    assert by_source["sick.txt"].groups == ()
    assert len(snapshot.live_chunks()) == snapshot.live_count


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
    texts = [c.text for c in load_index(tmp_path / "idx").live_chunks()]
    assert "Staff get 27 days a year." in texts and "Staff get 25 days a year." not in texts


def test_deleted_file_loses_its_chunks(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    (corpus / "sick.txt").unlink()
    report = run(corpus, tmp_path / "idx")
    assert report.count("removed") == 1
    assert {c.source for c in load_index(tmp_path / "idx").live_chunks()} == {
        "leave/annual.md",
        "salary.md",
    }


def test_dry_run_reports_plan_and_writes_nothing(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    (corpus / "sick.txt").unlink()
    (corpus / "new.md").write_text("# Travel\n\nBook trains.\n")
    (corpus / "salary.md").write_text("---\naccess: [managers]\n---\nBand L4 pays 70,000 EUR.\n")
    before = load_index(tmp_path / "idx").live_chunks()
    report = run(corpus, tmp_path / "idx", dry_run=True)
    assert {(o.source, o.status) for o in report.outcomes if o.status != "unchanged"} == {
        ("sick.txt", "removed"),
        ("new.md", "added"),
        ("salary.md", "updated"),
    }
    assert load_index(tmp_path / "idx").live_chunks() == before


def test_model_change_rebuilds_with_a_message(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    report = run(corpus, tmp_path / "idx", model="hash:32")
    assert "rebuilding" in report.rebuild_reason and "hash:64" in report.rebuild_reason
    assert report.count("added") == 3
    assert load_index(tmp_path / "idx").dim == 32


def test_groups_change_updates_without_reembedding(corpus, tmp_path):
    run(corpus, tmp_path / "idx")
    counter = CountingEmbedder()
    # salary.md goes from [managers] to [hr, managers]: wider, so it needs --allow-widen.
    with pytest.raises(AccessWideningError, match=r"salary.md: \[managers\] -> \[hr, managers\]"):
        run(corpus, tmp_path / "idx", groups=("hr",))
    report = run(corpus, tmp_path / "idx", embedder=counter, groups=("hr",), allow_widen=True)
    assert report.count("updated") == 3 and counter.embedded == []
    groups = {c.source: c.groups for c in load_index(tmp_path / "idx").live_chunks()}
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
    assert any("doctor's note" in c.text for c in load_index(tmp_path / "idx").live_chunks())


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


def public_texts(index: Path) -> list[str]:
    return [c.text for c in load_index(index).live_chunks() if readable_by(c.groups, frozenset())]


def test_adding_one_file_keeps_the_rest_and_no_path_resyncs_the_roots(corpus, tmp_path):
    index = tmp_path / "idx"
    run(corpus, index)
    extra = tmp_path / "elsewhere" / "travel.md"
    extra.parent.mkdir()
    extra.write_text("# Travel\n\nBook trains, not planes.\n")
    report = ingest([extra], index, FAKE)
    assert report.count("added") == 1 and report.count("removed") == 0
    assert {c.source for c in load_index(index).live_chunks()} == {
        "leave/annual.md",
        "sick.txt",
        "salary.md",
        "travel.md",
    }
    # A file inside a remembered folder keeps that folder's source names.
    (corpus / "leave" / "parental.md").write_text("# Parental leave\n\nSixteen weeks.\n")
    report = ingest([corpus / "leave" / "parental.md"], index, FAKE)
    assert [(o.source, o.status) for o in report.outcomes] == [("leave/parental.md", "added")]
    # Deleting inside a given folder removes only there; no PATH re-syncs every root.
    (corpus / "sick.txt").unlink()
    report = ingest([corpus / "leave"], index, FAKE)
    assert report.count("removed") == 0
    extra.unlink()
    report = ingest([], index, FAKE)
    assert sorted(o.source for o in report.outcomes if o.status == "removed") == [
        "sick.txt",
        "travel.md",
    ]
    assert report.ok and {c.source for c in load_index(index).live_chunks()} == {
        "leave/annual.md",
        "leave/parental.md",
        "salary.md",
    }


def test_remove_drops_sources_and_names_unknown_ones(corpus, tmp_path):
    index = tmp_path / "idx"
    run(corpus, index)
    assert remove_sources(["sick.txt"], index, dry_run=True).written is False
    assert "sick.txt" in {c.source for c in load_index(index).live_chunks()}
    report = remove_sources(["sick.txt"], index)
    assert report.written and {c.source for c in load_index(index).live_chunks()} == {
        "leave/annual.md",
        "salary.md",
    }
    from ragkit.errors import UsageError

    with pytest.raises(UsageError, match="not in index .*nope.md"):
        remove_sources(["nope.md"], index)


def test_a_removed_file_stays_out_of_later_syncs_until_named(corpus, tmp_path):
    """`ragkit remove` of a file inside a remembered folder lasts: a full sync (no PATH) and a
    sync of its folder skip it, saying how to bring it back; naming the file brings it back."""
    index = tmp_path / "idx"
    run(corpus, index)
    remove_sources(["leave/annual.md"], index)
    for paths in ([], [corpus], [corpus / "leave"]):
        report = ingest(paths, index, FAKE)
        skipped = [o for o in report.outcomes if o.status == "skipped"]
        assert [o.source for o in skipped] == ["leave/annual.md"]
        assert "ragkit ingest" in skipped[0].reason and "annual.md" in skipped[0].reason
        sources = {c.source for c in load_index(index).live_chunks()}
        assert sources == {"sick.txt", "salary.md"}
    dry = ingest([], index, IngestOptions(**{**vars(FAKE), "dry_run": True}))
    assert "leave/annual.md" not in {o.source for o in dry.outcomes if o.status == "added"}
    report = ingest([corpus / "leave" / "annual.md"], index, FAKE)
    assert report.count("added") == 1
    assert ingest([], index, FAKE).count("skipped") == 0  # the exclusion is lifted for good
    assert "leave/annual.md" in {c.source for c in load_index(index).live_chunks()}


def test_remembered_groups_keep_a_later_run_from_widening(tmp_path):
    """Case 15-access-groups: ingested with --groups hr, then the same command without it."""
    docs = tmp_path / "docs2"  # the case's own files: tests/test_ingest_cli.py
    (docs / "confidential").mkdir(parents=True)
    (docs / "confidential" / "redundancy-plan.md").write_text(
        "# Restructuring Plan\n\nTwelve warehouse roles in Antwerp will be made redundant.\n"
    )
    index = tmp_path / "idx"
    ingest([docs], index, IngestOptions(**{**vars(FAKE), "groups": ("hr",)}))
    report = ingest([docs], index, FAKE)  # no --groups: the remembered ones apply
    assert any("remembered" in note and "hr" in note for note in report.notes)
    assert public_texts(index) == []
    # Asking for public explicitly is refused unless widening is allowed.
    with pytest.raises(AccessWideningError, match="redundancy-plan.md: \\[hr\\] -> everyone"):
        ingest([docs], index, IngestOptions(**{**vars(FAKE), "groups": ()}))
    assert public_texts(index) == []
    ingest([docs], index, IngestOptions(**{**vars(FAKE), "groups": (), "allow_widen": True}))
    assert any("Antwerp" in text for text in public_texts(index))


def test_restricting_a_file_that_then_fails_never_leaves_it_public(corpus, tmp_path):
    index = tmp_path / "idx"
    run(corpus, index)
    # Markdown: access added together with a YAML mistake -> the old public copy goes.
    (corpus / "leave" / "annual.md").write_text(
        "---\ntitle: [Annual leave\naccess: [managers]\n---\nStaff get 25 days a year.\n"
    )
    # A text file in a folder newly restricted, whose new version fails to load: the old
    # copy is kept but only for the new groups.
    (corpus / ".ragkit-access.yaml").write_text("files:\n  sick.txt: [hr]\n")
    (corpus / "sick.txt").write_bytes(b"\x00\x01\x02" * 100)
    report = run(corpus, index)
    reasons = {o.source: o.reason for o in report.outcomes if o.status == "failed"}
    assert "indexed version was dropped" in reasons["leave/annual.md"]
    assert "kept the indexed version" in reasons["sick.txt"]
    public = public_texts(index)
    assert not any("25 days" in t or "doctor" in t for t in public)
    sick = [c for c in load_index(index).live_chunks() if c.source == "sick.txt"]
    assert sick and all(c.groups == ("hr",) for c in sick)


def test_unreadable_access_rules_drop_the_old_copies(corpus, tmp_path):
    index = tmp_path / "idx"
    run(corpus, index)
    (corpus / "leave" / ".ragkit-access.yml").write_text("groups: [hr]\n")  # near-miss name
    report = run(corpus, index)
    assert [o.source for o in report.outcomes if o.status == "failed"] == ["leave/annual.md"]
    assert not report.ok
    assert all(c.source != "leave/annual.md" for c in load_index(index).live_chunks())


def test_a_heading_rename_reembeds_its_chunks(corpus, tmp_path):
    from ragkit.index.embedding import HashingEmbedder

    index = tmp_path / "idx"
    run(corpus, index)
    (corpus / "leave" / "annual.md").write_text(
        "---\ntitle: Annual leave\n---\n# Annual leave\n\nStaff get 25 days a year.\n\n"
        "## Holiday carry-over rules\n\nUp to 5 days carry over to March.\n"
    )
    counter = CountingEmbedder()
    run(corpus, index, embedder=counter)
    assert [t.splitlines()[0] for t in counter.embedded] == [
        "Annual leave > Holiday carry-over rules"
    ]
    snapshot = load_index(index)
    carry = next(c for c in snapshot.live_chunks() if "carry over" in c.text)
    stored = snapshot.vectors_for([carry.chunk_id])[carry.chunk_id]
    fresh = HashingEmbedder(dim=64).embed([carry.embedding_text])[0]
    assert stored == pytest.approx(fresh, abs=1e-6)


def test_identical_texts_are_stored_once_and_returned_once_with_every_source(corpus, tmp_path):
    from ragkit.retrieval.hybrid import HybridRetriever

    index = tmp_path / "idx"
    (corpus / "sick-copy.txt").write_bytes((corpus / "sick.txt").read_bytes())
    (corpus / "hr").mkdir()
    (corpus / "hr" / ".ragkit-access.yaml").write_text("groups: [hr]\n")
    (corpus / "hr" / "sick.txt").write_bytes((corpus / "sick.txt").read_bytes())
    report = run(corpus, index)
    assert report.duplicates == ["sick-copy.txt", "sick.txt"]  # copies of hr/sick.txt
    snapshot = load_index(index)
    note = [c for c in snapshot.live_chunks() if "doctor's note" in c.text]
    # Public copies merge; the restricted copy never shares a chunk with them.
    assert sorted(c.sources for c in note) == [("hr/sick.txt",), ("sick-copy.txt", "sick.txt")]
    retriever = HybridRetriever.from_index(index)
    hits = retriever.retrieve("doctor's note after 3 days", k=5)
    texts = [h.chunk.text for h in hits]
    assert len(texts) == len(set(texts))
    top = hits[0].to_json()
    assert top["sources"] == ["sick-copy.txt", "sick.txt"] and top["source"] == "sick-copy.txt"
    # Removing the copy that holds the stored text keeps the other, with a correct vector.
    remove_sources(["sick-copy.txt"], index)
    snapshot = load_index(index)
    public = [c for c in snapshot.live_chunks() if "doctor's note" in c.text and not c.groups]
    assert [c.sources for c in public] == [("sick.txt",)]
    # An unchanged re-run after all this embeds nothing.
    counter = CountingEmbedder()
    (corpus / "sick-copy.txt").unlink()
    run(corpus, index, embedder=counter)
    assert counter.embedded == []


def test_a_reader_of_two_copies_under_different_groups_gets_the_text_once(corpus, tmp_path):
    from ragkit.retrieval.hybrid import HybridRetriever

    index = tmp_path / "idx"
    (corpus / "hr").mkdir()
    (corpus / "hr" / ".ragkit-access.yaml").write_text("groups: [hr]\n")
    (corpus / "hr" / "sick.txt").write_bytes((corpus / "sick.txt").read_bytes())
    run(corpus, index)
    snapshot = load_index(index)
    texts = {c.text for c in snapshot.live_chunks() if not c.groups or "hr" in c.groups}
    retriever = HybridRetriever.from_index(index)
    question = "doctor's note after 3 days"
    hits = retriever.retrieve(question, k=len(texts), groups=frozenset({"hr"}))
    got = [h.chunk.text for h in hits]
    assert len(got) == len(set(got)) == len(texts)  # once each, and k filled from the rest
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    # The kept copy is the better-ranked one; an asker outside hr never gets the hr copy.
    public = retriever.retrieve(question, k=len(texts))
    assert all(not h.chunk.groups for h in public)


def test_a_failing_restriction_alone_still_drops_the_public_copy(corpus, tmp_path):
    """The only change of the run is a Markdown file restricted with a YAML mistake: the run
    must still write, or the old public copy stays live."""
    index = tmp_path / "idx"
    run(corpus, index)
    (corpus / "leave" / "annual.md").write_text(
        "---\ntitle: [Annual leave\naccess: [managers]\n---\nStaff get 25 days a year.\n"
    )
    report = run(corpus, index)
    assert not report.ok and report.written
    assert not any("25 days" in text for text in public_texts(index))


@pytest.mark.parametrize("groups", ["hr", ("hr", ""), ("hr", 3)])
def test_groups_option_refuses_a_string_or_non_names(groups):
    from ragkit.errors import ConfigError

    with pytest.raises(ConfigError, match="tuple of group names"):
        IngestOptions(groups=groups)


def test_remove_accepts_the_path_of_an_ingested_file(corpus, tmp_path):
    # A user passes the file's path (policies/leave/annual.md), not its source name.
    index = tmp_path / "idx"
    run(corpus, index)
    report = remove_sources([str(corpus / "leave" / "annual.md")], index)
    assert [o.source for o in report.outcomes] == ["leave/annual.md"]
    assert "leave/annual.md" not in {c.source for c in load_index(index).live_chunks()}
    from ragkit.errors import UsageError

    with pytest.raises(UsageError, match="not in index"):  # a path the index never saw
        remove_sources([str(corpus / "leave" / "nope.md")], index)


def test_a_same_named_file_of_another_folder_fails_and_keeps_the_indexed_one(tmp_path):
    """Sources are named relative to their folder: b/faq.md after a/faq.md would take its
    name, so it is refused, and a/faq.md stays indexed (it was dropped before)."""
    for name, text in (("a", "Desks are booked a day ahead."), ("b", "Parking is free.")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "faq.md").write_text(f"# FAQ\n\n{text}\n")
    index = tmp_path / "idx"
    ingest([tmp_path / "a"], index, FAKE)
    report = ingest([tmp_path / "b"], index, FAKE)
    [outcome] = report.outcomes
    assert outcome.status == "failed" and "already indexed from" in outcome.reason
    assert str(tmp_path / "a" / "faq.md") in outcome.reason and "kept" in outcome.reason
    texts = [c.text for c in load_index(index).live_chunks()]
    assert any("Desks are booked" in t for t in texts)
    assert not any("Parking" in t for t in texts)
    # a plain re-sync of both remembered folders still keeps the first one's file
    ingest([], index, FAKE)
    assert any("Desks are booked" in c.text for c in load_index(index).live_chunks())


def _project(tmp_path: Path, corpus: Path) -> Path:
    """A project folder holding the documents and the index, ingested once."""
    import shutil

    project = tmp_path / "project"
    shutil.copytree(corpus, project / "policies")
    ingest([project / "policies"], project / ".index", FAKE)
    return project


@pytest.mark.parametrize("how", ["copy", "move"])
def test_a_copied_or_moved_project_syncs_only_what_changed(corpus, tmp_path, how):
    """Documents and index copied (or moved) together to another absolute path: the index
    follows the documents at the same place relative to it; nothing fails, nothing is
    embedded again, access groups and chunk ids stay, and only a changed file is updated."""
    import shutil

    project = _project(tmp_path, corpus)
    before = load_index(project / ".index")
    other = tmp_path / "elsewhere" / "project"
    other.parent.mkdir()
    (shutil.copytree if how == "copy" else shutil.move)(project, other)
    embedder = CountingEmbedder()
    paths = [other / "policies"] if how == "copy" else []  # a move: the remembered roots
    report = ingest(paths, other / ".index", FAKE, embedder=embedder)
    assert report.ok and report.count("unchanged") == 3 and report.count("failed") == 0
    assert embedder.embedded == [] and any("follows" in note for note in report.notes)
    after = load_index(other / ".index")
    assert {c.chunk_id: c.groups for c in after.live_chunks()} == {
        c.chunk_id: c.groups for c in before.live_chunks()
    }
    assert {e["path"] for e in after.files.values()} == {
        str(other / "policies" / s) for s in ("leave/annual.md", "sick.txt", "salary.md")
    }
    (other / "policies" / "sick.txt").write_text("SICK LEAVE\n\nA note after 2 days.\n")
    report = ingest([], other / ".index", FAKE)
    assert [(o.source, o.status) for o in report.outcomes if o.status != "unchanged"] == [
        ("sick.txt", "updated")
    ]
    assert len(after.live_chunks()) == len(load_index(other / ".index").live_chunks())
    if how == "copy":  # the original project's index still follows its own documents
        report = ingest([], project / ".index", FAKE)
        assert report.count("unchanged") == 3 and report.written is False


def test_an_index_moved_without_its_documents_keeps_their_absolute_paths(corpus, tmp_path):
    import shutil

    project = _project(tmp_path, corpus)
    shutil.move(project / ".index", tmp_path / "moved-index")
    report = ingest([], tmp_path / "moved-index", FAKE)
    assert report.ok and report.count("unchanged") == 3 and not report.notes
    files = load_index(tmp_path / "moved-index").files
    assert {e["path"] for e in files.values()} == {
        str(project / "policies" / s) for s in ("leave/annual.md", "sick.txt", "salary.md")
    }
