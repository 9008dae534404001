"""A ragkit upgrade that changes how a format is extracted refreshes that format's files.

The index records per file the loader version that extracted it (ingest.loaders
.LOADER_VERSIONS). A sync re-extracts exactly the unchanged files whose loader changed since,
keeps their access groups, reuses the vectors of chunk texts that came out the same, and says
why; an index written before loader versions is re-extracted once; a dry run only reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ingest.loaders as loaders
import ingest.loaders.text as text_loader
import ingest.pipeline as pipeline
from ingest.pipeline import IngestOptions, ingest
from ragkit.cli import main
from ragkit.index.store import load_index, read_manifest
from tests.test_ingest_incremental import assert_same_as_fresh

OPTIONS = IngestOptions(model="hash:64", progress=False)
FOOTER = "Acme Corp confidential page footer"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / ".ragkit-access.yaml").write_text("groups: [hr]\n")
    (root / "hr" / "salary.txt").write_text("SALARY\n\nBand L4 pays 68,000 EUR a year.\n")
    (root / "sick.txt").write_text("SICK LEAVE\n\nA doctor's note is needed after 3 days.\n")
    (root / "annual.md").write_text("# Annual leave\n\nStaff get 25 days a year.\n")
    (root / "travel.html").write_text(
        "<html><body><main><h1>Travel</h1><p>Book trains for trips under 500 km, "
        "always in second class.</p></main></body></html>"
    )
    return root


@pytest.fixture
def settled(monkeypatch):
    """Files count as settled at once, so their stat stamps are recorded: a loader change
    must be seen even by files a sync would otherwise skip unread."""
    monkeypatch.setattr(pipeline, "STAMP_SETTLE_NS", 0)


def old_text_loader(monkeypatch) -> None:
    """The text loader as an older ragkit had it: it kept a running footer."""
    real = text_loader.read_text
    monkeypatch.setattr(text_loader, "read_text", lambda *args: real(*args) + f"\n\n{FOOTER}\n")


def reads(monkeypatch) -> list[str]:
    """The names of the files the next syncs read."""
    seen: list[str] = []
    real = pipeline.read_regular_file

    def counting(path, limit):
        seen.append(path.name)
        return real(path, limit)

    monkeypatch.setattr(pipeline, "read_regular_file", counting)
    return seen


def test_a_changed_loader_re_extracts_only_its_files_and_keeps_their_groups(
    corpus, tmp_path, monkeypatch, settled
):
    index = tmp_path / "idx"
    with monkeypatch.context() as old:
        old_text_loader(old)
        ingest([corpus], index, OPTIONS)
        ingest([corpus], index, OPTIONS)  # records the settled stamps
    assert sum(FOOTER in c.text for c in load_index(index).live_chunks()) == 2
    assert {e["loader"]["format"] for e in read_manifest(index)["files"].values()} == {
        "text",
        "markdown",
        "html",
    }

    monkeypatch.setitem(loaders.LOADER_VERSIONS, "text", 2)  # the footer fix ships
    read = reads(monkeypatch)
    report = ingest([corpus], index, OPTIONS)
    why = "the text loader changed (version 1 -> 2)"
    assert sorted(read) == ["salary.txt", "sick.txt"]  # the others are not even read
    assert {(o.source, o.status, o.reason) for o in report.outcomes} == {
        ("hr/salary.txt", "updated", f"re-extracted: {why}"),
        ("sick.txt", "updated", f"re-extracted: {why}"),
        ("annual.md", "unchanged", ""),
        ("travel.html", "unchanged", ""),
    }
    assert f"2 files re-extracted: {why}" in report.notes
    assert report.written and report.embedded == 2  # each file's one chunk, without its footer
    chunks = load_index(index).live_chunks()
    assert not any(FOOTER in c.text for c in chunks)
    assert {c.groups for c in chunks if c.source == "hr/salary.txt"} == {("hr",)}
    files = read_manifest(index)["files"]
    assert files["sick.txt"]["loader"] == {"format": "text", "version": 2}
    assert files["annual.md"]["loader"] == {"format": "markdown", "version": 1}
    assert_same_as_fresh(corpus, index, tmp_path)

    ingest([corpus], index, OPTIONS)  # records the stamps of the re-read files
    read.clear()
    again = ingest([corpus], index, OPTIONS)
    assert read == [] and not again.written and again.notes == []


def test_an_index_without_loader_versions_is_re_extracted_once(corpus, tmp_path):
    index = tmp_path / "idx"
    ingest([corpus], index, OPTIONS)
    files_json = index / (index / "CURRENT").read_text().strip() / "files.json"
    files = json.loads(files_json.read_text())
    for entry in files.values():  # as a ragkit before loader versions wrote it
        del entry["loader"]
    files_json.write_text(json.dumps(files))

    report = ingest([corpus], index, OPTIONS)
    assert report.ok and report.written and report.count("updated") == 4
    assert report.embedded == 0  # same loaders, same texts: every vector is reused
    assert report.notes == [
        "4 files re-extracted: no loader version recorded (an index written by an older "
        "ragkit; once only)"
    ]
    assert all(e["loader"]["version"] == 1 for e in read_manifest(index)["files"].values())
    assert {c.groups for c in load_index(index).live_chunks() if c.source.startswith("hr/")} == {
        ("hr",)
    }
    again = ingest([corpus], index, OPTIONS)
    assert again.count("unchanged") == 4 and not again.written and again.notes == []


def test_dry_run_reports_the_re_extraction_and_writes_nothing(
    corpus, tmp_path, monkeypatch, capsys
):
    index = tmp_path / "idx"
    ingest([corpus], index, OPTIONS)
    generation = (index / "CURRENT").read_text()
    monkeypatch.setitem(loaders.LOADER_VERSIONS, "html", 3)

    report = ingest([corpus], index, IngestOptions(**{**vars(OPTIONS), "dry_run": True}))
    why = "the HTML loader changed (version 1 -> 3)"
    assert report.notes == [f"1 file would be re-extracted: {why}"] and not report.written
    assert [(o.source, o.status) for o in report.outcomes if o.status != "unchanged"] == [
        ("travel.html", "updated")
    ]
    assert (index / "CURRENT").read_text() == generation
    assert read_manifest(index)["files"]["travel.html"]["loader"]["version"] == 1

    code = main(["ingest", str(corpus), "--index", str(index), "--dry-run", "--model", "hash:64"])
    out = capsys.readouterr().out
    assert code == 0 and f"note: 1 file would be re-extracted: {why}" in out
    assert f"U travel.html  (re-extracted: {why})" in out
    assert (index / "CURRENT").read_text() == generation


def test_files_outside_the_run_are_named_and_a_failed_re_extraction_is_retried(
    corpus, tmp_path, monkeypatch
):
    """A sync of one folder re-extracts only there and says what is left elsewhere; a file
    the new loader cannot read keeps its old version (restricted as before) and its old
    loader record, so the next sync tries again."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "parking.txt").write_text("PARKING\n\nParking is free after 6 pm.\n")
    index = tmp_path / "idx"
    ingest([corpus, other], index, OPTIONS)
    monkeypatch.setitem(loaders.LOADER_VERSIONS, "text", 2)

    def broken(path, source, options):
        raise ValueError("the new loader trips on this file")

    with monkeypatch.context() as failing:
        failing.setattr(text_loader, "load", broken)
        report = ingest([corpus], index, OPTIONS)
    failed = [o.reason for o in report.outcomes if o.status == "failed"]
    assert len(failed) == 2 and all("kept the indexed version" in r for r in failed)
    assert (
        "1 file outside the paths of this run was extracted by an older loader version; "
        "`ragkit ingest` with no PATH re-extracts them" in report.notes
    )
    files = read_manifest(index)["files"]
    assert files["sick.txt"]["loader"]["version"] == 1
    assert {c.groups for c in load_index(index).live_chunks() if c.source == "hr/salary.txt"} == {
        ("hr",)
    }

    report = ingest([], index, OPTIONS)  # every remembered root, with the working loader
    assert sorted(o.source for o in report.outcomes if o.status == "updated") == [
        "hr/salary.txt",
        "parking.txt",
        "sick.txt",
    ]
    assert all(
        e["loader"]["version"] == 2
        for s, e in read_manifest(index)["files"].items()
        if s.endswith(".txt")
    )


def test_re_extract_reads_every_file_again_and_embeds_only_what_changed(
    corpus, tmp_path, capsys, settled
):
    """For a dependency upgrade (pypdf, Tesseract) that loader versions do not see."""
    index = tmp_path / "idx"
    ingest([corpus], index, OPTIONS)
    ingest([corpus], index, OPTIONS)  # settled stamps: a plain sync would read nothing
    argv = ["ingest", "--index", str(index), "--model", "hash:64", "--no-progress"]
    assert main([*argv, "--re-extract", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["updated"] == 4 and report["embedded"] == 0 and report["written"]
    assert report["notes"] == ["4 files re-extracted: asked for (--re-extract)"]
    assert {c.groups for c in load_index(index).live_chunks() if c.source.startswith("hr/")} == {
        ("hr",)
    }
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["unchanged"] == 4
