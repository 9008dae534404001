"""The real corpora ingest through the CLI with one outcome per file.

The ingestion issue is done when `sourcegraph-handbook`, `18f-handbook`, `contoso-hr-pdfs` and
`bad-pdfs` from ../shared/data ingest with per-file outcomes. Each folder goes through
`ragkit ingest --json` in process, with the hash:256 embedder (no model to load) and the
passwords of the encrypted samples. Every file must come back added, or failed or skipped with
a one-line reason; the exit code is 1 exactly when a file failed; a second run must find every
added file unchanged and write nothing. Skipped cleanly when ../shared/data (or
$RAGKIT_SHARED_DATA) is absent.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ingest.loaders.pdf_ocr import missing
from ragkit.cli import main
from ragkit.index.store import load_index

SHARED = Path(
    os.environ.get("RAGKIT_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
PASSWORDS = ("test", "password", "openpassword")  # see shared/data/README.md
# Image-only pages are OCR'd when Tesseract is installed (.ci/run installs it).
HAS_OCR = missing() is None
BLANK = "no text layer and no scanned page image (blank pages?)"
SCAN = (
    "no text layer (scanned?), and OCR found no text" if HAS_OCR else "no text layer (scanned?) and"
)
NO_EXTENSION = "unsupported file type (no extension)"
AES = "py-pdf__pypdf/resources/crazyones-encrypted-256.pdf"
# AES-256 opens with its password only when the 'cryptography' package is installed.
HAS_AES = importlib.util.find_spec("cryptography") is not None
PAGES = "pages/general-information-and-resources"  # in 18f-handbook
REDIRECT = "no text besides front matter: a redirect page (to"


@dataclass(frozen=True)
class Expected:
    """What one folder must give: how many files are added, and the start of the reason of
    every file that fails or is skipped."""

    folder: str
    added: int
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


EXPECTED = [
    Expected("sourcegraph-handbook", added=89, skipped={"LICENSE": NO_EXTENSION}),
    Expected(
        "18f-handbook",
        added=102,  # 99 pages, LICENSE.md and the two PDFs (a form, an odd layout)
        # Redirect stubs hold nothing to index: skipped with the reason, so a sync exits 0.
        skipped={
            f"{PAGES}/business-and-ops-policies/billing_policy.md": f"{REDIRECT} /tock/",
            f"{PAGES}/tech-policies/open-source.md": f"{REDIRECT} https://github.com/18F/",
        },
    ),
    Expected(
        "contoso-hr-pdfs",
        added=7,  # the six PDFs and LICENSE.md
        # The published QA set sits in the folder; it is not a corpus of documents.
        failed={
            "evals/ground_truth.jsonl": (
                "no usable records: expected BEIR lines with '_id' and 'text'; line 1: missing"
            )
        },
    ),
    Expected(
        "bad-pdfs",
        # 12 PDFs (three of them encrypted; with OCR, the scan encrypted_doc_no_id.pdf too)
        # and a README.md.
        added=(13 if HAS_AES else 12) + HAS_OCR,
        failed={
            "Heenanl__azure-ai-agents-labs/data/Northwind_Health_Plus_Benefits_Details.pdf": (
                "the PDF is a protected wrapper: its only text says the content is protected"
            ),
            "mozilla__pdf.js/test/pdfs/empty.pdf": BLANK,
            "mozilla__pdf.js/test/pdfs/empty_protected.pdf": BLANK,
            # A 250 px image of a box: OCR finds no text in it.
            "py-pdf__pypdf/resources/box.pdf": SCAN,
            # Its only image is 16 px: an icon, not a scanned page.
            "py-pdf__pypdf/resources/imagemagick-CCITTFaxDecode.pdf": BLANK,
        }
        | ({} if HAS_OCR else {"py-pdf__pypdf/resources/encrypted_doc_no_id.pdf": SCAN})
        | ({} if HAS_AES else {AES: "AES-encrypted PDF needs the 'cryptography' package"}),
        skipped={
            f"{owner}/LICENSE": NO_EXTENSION
            for owner in ("Heenanl__azure-ai-agents-labs", "mozilla__pdf.js", "py-pdf__pypdf")
        }
        | {"py-pdf__sample-files/LICENSE": NO_EXTENSION},
    ),
]
_first_runs: dict[str, tuple[int, dict[str, Any], Path]] = {}


def ingest(folder: Path, index: Path) -> tuple[int, dict[str, Any]]:
    """`ragkit ingest FOLDER --json` in process: (exit code, JSON report)."""
    passwords = index.parent / "passwords.txt"
    passwords.write_text("\n".join(PASSWORDS) + "\n", encoding="utf-8")
    argv = ["ingest", str(folder), "--index", str(index), "--model", "hash:256", "--json"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*argv, "--password-file", str(passwords)])
    return code, json.loads(out.getvalue())


def first_run(
    expected: Expected, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, dict[str, Any], Path]:
    """The first ingest of a folder into a fresh index, run once for both tests."""
    folder = SHARED / expected.folder
    if not folder.is_dir():
        pytest.skip(f"../shared/data absent ({folder} not found; set RAGKIT_SHARED_DATA)")
    if expected.folder not in _first_runs:
        index = tmp_path_factory.mktemp(expected.folder) / "index"
        _first_runs[expected.folder] = (*ingest(folder, index), index)
    return _first_runs[expected.folder]


def outcomes(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    files = {f["source"]: f for f in report["files"]}
    assert len(files) == len(report["files"]), "a file has two outcomes"
    return files


def reasons(files: dict[str, dict[str, Any]], status: str) -> dict[str, str]:
    return {source: f["reason"] for source, f in files.items() if f["status"] == status}


def check_reasons(got: dict[str, str], expected: dict[str, str]) -> None:
    assert sorted(got) == sorted(expected)
    for source, reason in got.items():
        assert reason.startswith(expected[source]), (source, reason)
        assert "\n" not in reason


def snapshot(index: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(index).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(index.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda e: e.folder)
def test_every_file_gets_an_outcome(
    expected: Expected, tmp_path_factory: pytest.TempPathFactory
) -> None:
    code, report, index = first_run(expected, tmp_path_factory)
    folder = SHARED / expected.folder
    files = outcomes(report)
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(files) == on_disk
    for source, outcome in files.items():
        assert outcome["status"] in {"added", "failed", "skipped"}, source
        if outcome["status"] == "added":
            assert outcome["chunks"] > 0 and not outcome["reason"], source
        else:
            assert outcome["reason"].strip() and outcome["chunks"] == 0, source
    check_reasons(reasons(files, "failed"), expected.failed)
    check_reasons(reasons(files, "skipped"), expected.skipped)
    assert report["counts"] == {
        "added": expected.added,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "failed": len(expected.failed),
        "skipped": len(expected.skipped),
    }
    # Identical chunk texts are stored once (carrying every place in Chunk.also), and each
    # distinct embedded text goes through the model once.
    stored = load_index(index).live_chunks()
    assert report["written"] and report["chunks_total"] == sum(1 + len(c.also) for c in stored)
    assert report["embedded"] == len({c.embedding_text for c in stored})
    assert report["chunks_total"] == sum(f["chunks"] for f in files.values())
    assert code == (1 if expected.failed else 0)


@pytest.mark.parametrize("expected", EXPECTED, ids=lambda e: e.folder)
def test_second_run_finds_everything_unchanged_and_writes_nothing(
    expected: Expected, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, first, index = first_run(expected, tmp_path_factory)
    before = snapshot(index)
    code, report = ingest(SHARED / expected.folder, index)
    files = outcomes(report)
    assert reasons(files, "failed") == reasons(outcomes(first), "failed")
    assert reasons(files, "skipped") == reasons(outcomes(first), "skipped")
    assert report["counts"] == {
        "added": 0,
        "updated": 0,
        "unchanged": expected.added,
        "removed": 0,
        "failed": len(expected.failed),
        "skipped": len(expected.skipped),
    }
    assert report["chunks_total"] == first["chunks_total"] and report["embedded"] == 0
    assert code == (1 if expected.failed else 0)
    assert not report["written"]
    assert snapshot(index) == before
