"""Bad inputs give one clear per-file outcome (Documents or a one-line LoadError), never a crash.

Real broken PDFs and the real corpora come from ../shared/data (or $RAGKIT_SHARED_DATA) and
are skipped cleanly when absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_SUFFIXES, load_file
from ingest.loaders.pdf_ocr import missing
from ragkit.errors import LoadError

SHARED = Path(
    os.environ.get("RAGKIT_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
BAD_PDFS = SHARED / "bad-pdfs"
# Known passwords of the encrypted samples (see shared/data/README.md).
PASSWORDS = ("test", "password", "openpassword")

# The outcome each file must have: "ok", or the start of its LoadError reason. Scanned pages
# are read by OCR when Tesseract is installed (.ci/run installs it).
HAS_OCR = missing() is None
BLANK = "no text layer and no scanned page image"
SCAN = "no text layer (scanned?)"
EXPECTED = {
    "Heenanl__azure-ai-agents-labs/data/Northwind_Health_Plus_Benefits_Details.pdf": (
        "the PDF is a protected wrapper"
    ),
    "mozilla__pdf.js/test/pdfs/empty.pdf": BLANK,
    "mozilla__pdf.js/test/pdfs/empty_protected.pdf": BLANK,
    "mozilla__pdf.js/test/pdfs/helloworld-bad.pdf": "ok",
    "mozilla__pdf.js/test/pdfs/scan-bad.pdf": "ok",
    "mozilla__pdf.js/test/pdfs/xref_command_missing.pdf": "ok",
    "py-pdf__pypdf/resources/Seige_of_Vicksburg_Sample_OCR.pdf": "ok",
    "py-pdf__pypdf/resources/box.pdf": SCAN,
    "py-pdf__pypdf/resources/crazyones-encrypted-256.pdf": "ok",
    "py-pdf__pypdf/resources/encrypted-file.pdf": "ok",
    "py-pdf__pypdf/resources/encrypted_doc_no_id.pdf": "ok" if HAS_OCR else SCAN,
    "py-pdf__pypdf/resources/imagemagick-CCITTFaxDecode.pdf": BLANK,
    "py-pdf__pypdf/resources/issue-297.pdf": "ok",
    "py-pdf__pypdf/resources/issue-301.pdf": "ok",
    "py-pdf__pypdf/resources/multilang.pdf": "ok",
    "py-pdf__sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf": "ok",
    "py-pdf__sample-files/014-outlines/mistitled_outlines_example.pdf": "ok",
    "py-pdf__sample-files/015-arabic/habibi.pdf": "ok",
}


def bad_pdf_sources() -> list[str]:
    if not BAD_PDFS.is_dir():
        return sorted(EXPECTED)  # each test then skips with a reason
    return sorted(p.relative_to(BAD_PDFS).as_posix() for p in BAD_PDFS.rglob("*.pdf"))


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"../shared/data absent ({path} not found; set RAGKIT_SHARED_DATA)")
    return path


def outcome(path: Path, source: str, passwords: tuple[str, ...] = PASSWORDS) -> str:
    try:
        docs = load_file(path, source, passwords=passwords, warnings=[])
    except LoadError as error:
        message = str(error)
        assert "\n" not in message and message.startswith(f"{source}: ")
        return error.reason
    for doc in docs:
        for block in doc.blocks:
            assert doc.text[block.start : block.end] == block.text
    return "ok"


@pytest.mark.parametrize("source", bad_pdf_sources())
def test_every_bad_pdf_has_a_clear_outcome(source: str) -> None:
    path = require(BAD_PDFS / source)
    result = outcome(path, source)
    assert result.startswith(EXPECTED.get(source, "")), result


@pytest.mark.parametrize(
    ("source", "password"),
    [
        ("py-pdf__pypdf/resources/encrypted-file.pdf", "test"),
        ("py-pdf__pypdf/resources/crazyones-encrypted-256.pdf", "password"),  # AES-256
        ("py-pdf__sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf",
         "openpassword"),
    ],
)  # fmt: skip
def test_encrypted_pdfs_need_their_password(source: str, password: str) -> None:
    path = require(BAD_PDFS / source)
    assert outcome(path, source, (password,)) == "ok"
    assert outcome(path, source, ("wrong",)) == (
        "encrypted PDF: supply the password with --password-file "
        "(none of the 1 given passwords worked)"
    )
    assert outcome(path, source, ()) == "encrypted PDF: supply the password with --password-file"


def test_aes_without_cryptography_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypdf
    from pypdf.errors import DependencyError

    def no_crypto(self: object, password: str) -> None:
        raise DependencyError("cryptography>=3.1 is required for AES algorithm")

    path = require(BAD_PDFS / "py-pdf__pypdf/resources/crazyones-encrypted-256.pdf")
    monkeypatch.setattr(pypdf.PdfReader, "decrypt", no_crypto)
    assert outcome(path, "aes.pdf") == (
        "AES-encrypted PDF needs the 'cryptography' package: pip install cryptography"
    )


# ---- hand-made bad files ----


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b" \n\t\n", "empty file"),
        ("empty.pdf", b"", "empty file"),
        ("empty.docx", b"", "empty file"),
        ("empty.jsonl", b"\n\n", "empty file"),
        ("junk.md", bytes(range(256)) * 8, "binary data, not text (is the extension wrong?)"),
        ("junk.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data, not text"),
        ("page.pdf", b"<html>not a pdf</html>", "not a PDF (no %PDF- header"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "unreadable PDF ("),
        ("old.docx", b"\xd0\xcf\x11\xe0 an OLE .doc", "not a valid .docx file"),
        ("bad.jsonl", b"nope\n{}\n", "no usable records"),
    ],
)
def test_bad_files_give_one_line_errors(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert outcome(path, name).startswith(reason)


def test_truncated_pdf_loads_what_it_can_or_fails_cleanly(tmp_path: Path) -> None:
    canvas_module = pytest.importorskip("reportlab.pdfgen.canvas", reason="pip install reportlab")
    whole = tmp_path / "whole.pdf"
    canvas = canvas_module.Canvas(str(whole))
    for page in range(3):
        canvas.drawString(72, 800, f"Page {page + 1} of the travel policy, with enough text.")
        canvas.showPage()
    canvas.save()
    data = whole.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 40):
        path = tmp_path / f"cut{cut}.pdf"
        path.write_bytes(data[:cut])
        result = outcome(path, path.name)
        assert result == "ok" or result.startswith(("unreadable PDF (", "no text layer"))


def test_a_failing_page_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pypdf

    canvas_module = pytest.importorskip("reportlab.pdfgen.canvas", reason="pip install reportlab")
    path = tmp_path / "two.pdf"
    canvas = canvas_module.Canvas(str(path))
    for page in (1, 2):
        canvas.drawString(72, 800, f"Text of page {page}.")
        canvas.showPage()
    canvas.save()
    original = pypdf.PageObject.extract_text
    calls = iter(range(100))

    def first_page_breaks(self: object, *args: object, **kwargs: object) -> str:
        if next(calls) == 0:
            raise KeyError("/Font")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pypdf.PageObject, "extract_text", first_page_breaks)
    warnings: list[str] = []
    [doc] = load_file(path, "two.pdf", warnings=warnings)
    assert [(b.text, b.page) for b in doc.blocks] == [("Text of page 2.", 2)]
    assert warnings == ["page 1 skipped: KeyError: '/Font'"]


def test_latin1_text_decodes_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("Café résumé: 25 € per day, naïve façade.".encode("cp1252"))
    warnings: list[str] = []
    [doc] = load_file(path, "notes.txt", warnings=warnings)
    assert doc.text == "Café résumé: 25 € per day, naïve façade."
    assert warnings == ["not valid UTF-8; decoded as cp1252"]
    latin1 = tmp_path / "old.md"
    latin1.write_bytes("# Über\n\nGrüße aus Köln \x81".encode("latin-1"))
    [doc] = load_file(latin1, "old.md", warnings=warnings)
    assert doc.title == "Über" and "Grüße aus Köln" in doc.text


def test_utf8_bom_and_utf16_text(tmp_path: Path) -> None:
    bom = tmp_path / "bom.md"
    bom.write_bytes("\ufeff---\ntitle: Résumé\n---\nBody.\r\n".encode())
    [doc] = load_file(bom, "bom.md")
    assert doc.title == "Résumé" and doc.text == "Body."
    utf16 = tmp_path / "wide.txt"
    utf16.write_text("Grüße\n\nZweiter Absatz", encoding="utf-16")
    [doc] = load_file(utf16, "wide.txt")
    assert [b.text for b in doc.blocks] == ["Grüße", "Zweiter Absatz"]


# ---- real corpora ----

STUB = "no text besides front matter: a redirect page"
# Every file loads except these, which must fail with these reasons.
CORPORA = {
    "sourcegraph-handbook/content": {},
    "18f-handbook": {
        "pages/general-information-and-resources/business-and-ops-policies/billing_policy.md": STUB,
        "pages/general-information-and-resources/tech-policies/open-source.md": STUB,
    },
    # The QA set is not a BEIR corpus (no "_id"), so it is rejected as a whole.
    "contoso-hr-pdfs": {"evals/ground_truth.jsonl": "no usable records"},
}


@pytest.mark.slow
@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_real_corpora_load(corpus: str) -> None:
    root = require(SHARED / corpus)
    loaded = 0
    errors: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        source = path.relative_to(root).as_posix()
        result = outcome(path, source)
        if result == "ok":
            loaded += 1
        else:
            errors[source] = result
    assert sorted(errors) == sorted(CORPORA[corpus])
    for source, reason in errors.items():
        assert reason.startswith(CORPORA[corpus][source]), reason
    assert loaded > 5 * len(errors)


def test_beir_scifact_loads_every_record() -> None:
    path = require(SHARED / "beir-scifact" / "corpus.jsonl")
    warnings: list[str] = []
    docs = load_file(path, "corpus.jsonl", warnings=warnings)
    assert len(docs) == 5183 and warnings == []
    assert len({doc.source for doc in docs}) == 5183
