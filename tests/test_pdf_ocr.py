"""OCR of scanned PDF pages (case 14 of ../shared/cases, copied to tests/fixtures/cases).

With Tesseract (CI installs it in .ci/run): the scanned page is read, its confidence kept on
the chunk and shown in citations. Without it (RAGKIT_OCR=0 stands in for a machine without
Tesseract): a warning names each unread page, and an image-only PDF fails with a clear reason.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from ingest.loaders import load_file
from ingest.loaders.pdf_ocr import _rebuild, missing, needs_ocr
from ragkit.cli import main

CASE_14 = Path(__file__).parent / "fixtures" / "cases" / "14-scanned-pdf"
WEEKEND = "Weekend overtime is paid at twice the hourly rate."
needs_tesseract = pytest.mark.skipif(
    missing() is not None,
    reason=f"OCR unavailable ({missing()}): apt-get install tesseract-ocr tesseract-ocr-eng",
)


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@needs_tesseract
def test_scanned_pages_are_read_with_their_confidence() -> None:
    warnings: list[str] = []
    (scan,) = load_file(CASE_14 / "overtime-scan.pdf", "overtime-scan.pdf", warnings=warnings)
    (mixed,) = load_file(CASE_14 / "handbook-mixed.pdf", "handbook-mixed.pdf", warnings=warnings)
    assert warnings == []
    assert [(b.text, b.page) for b in scan.blocks] == [
        ("Overtime is paid at 1.5 times the hourly rate.", 1),
        (WEEKEND, 1),
    ]
    assert [(b.text, b.page, b.ocr_confidence is None) for b in mixed.blocks] == [
        ("Core working hours are 10:00 to 16:00 on working days.", 1, True),
        ("Overtime is paid at 1.5 times the hourly rate.", 2, False),
        (WEEKEND, 2, False),
    ]
    for block in [*scan.blocks, *mixed.blocks[1:]]:
        assert block.ocr_confidence is not None and 0.8 < block.ocr_confidence <= 1


@needs_tesseract
def test_case_14_with_ocr_end_to_end(tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    code, out = cli("ingest", str(CASE_14), "--index", index, "--model", "hash:256", "--json")
    report = json.loads(out)
    assert code == 0 and report["counts"]["added"] == 2 and report["counts"]["failed"] == 0
    assert all(not f["warnings"] for f in report["files"])
    code, out = cli("ask", "How much is weekend overtime paid?", "--index", index, "--json")
    answer = json.loads(out)
    assert code == 0 and "twice the hourly rate" in answer["answer"]
    # The two scans hold the same text: stored once, one citation names both places.
    (citation,) = [c for c in answer["citations"] if "twice" in c["quote"]]
    places = {(citation["source"], citation["page"])} | {
        (other["source"], int(other["pages"].split()[1].rstrip(","))) for other in citation["also"]
    }
    assert places == {("handbook-mixed.pdf", 2), ("overtime-scan.pdf", 1)}
    assert citation["ocr_confidence"] > 0.8
    assert all("OCR text (confidence" in other["pages"] for other in citation["also"])
    code, out = cli("ask", "How much is weekend overtime paid?", "--index", index)
    out = " ".join(out.split())  # the sources are wrapped at 80 columns
    assert "handbook-mixed.pdf, p. 2, OCR text (confidence" in out
    assert "also overtime-scan.pdf, p. 1, OCR text (confidence" in out


def test_case_14_without_ocr_warns_per_page(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RAGKIT_OCR", "0")
    index = str(tmp_path / "index")
    code, out = cli("ingest", str(CASE_14), "--index", index, "--model", "hash:256", "--json")
    files = {f["source"]: f for f in json.loads(out)["files"]}
    mixed, scan = files["handbook-mixed.pdf"], files["overtime-scan.pdf"]
    assert mixed["status"] == "added"
    assert len(mixed["warnings"]) == 1
    assert mixed["warnings"][0].startswith("page 2 has no text layer")
    assert "apt-get install tesseract-ocr" in mixed["warnings"][0]
    assert scan["status"] == "failed" and scan["reason"].startswith("no text layer (scanned?)")
    assert "apt-get install tesseract-ocr" in scan["reason"] and code == 1
    code, out = cli(
        "ingest", str(CASE_14), "--index", str(tmp_path / "other"), "--model", "hash:256"
    )
    assert "handbook-mixed.pdf: page 2 has no text layer" in out


def test_a_page_needs_ocr_when_its_text_layer_is_a_stamp() -> None:
    assert needs_ocr("") and needs_ocr("pdf.js\n") and needs_ocr("  12 / 40 ")
    assert not needs_ocr("Core working hours are 10:00 to 16:00.")


def test_tesseract_words_become_lines_and_paragraphs() -> None:
    data = {
        "text": ["", "Overtime", "is", "paid.", "", "Weekend", "rate.", "~"],
        "conf": [-1, 90, 80, 70, -1, 95, 85, -1],
        "block_num": [1, 1, 1, 1, 2, 2, 2, 2],
        "par_num": [1, 1, 1, 1, 1, 1, 1, 1],
        "line_num": [1, 1, 1, 2, 1, 1, 2, 2],
    }
    text, confidences = _rebuild(data)
    assert text == "Overtime is\npaid.\n\nWeekend\nrate."
    assert confidences == [90, 80, 70, 95, 85]
