"""OCR benchmark: pages per second and text accuracy of the scanned-page reader
(`ingest.loaders.pdf_ocr`: Tesseract via pytesseract on the page's embedded images).

    python tests/bench/bench_ocr.py [--pages N]

Scanned pages with a reference text:
- `bad-pdfs/py-pdf__pypdf/resources/Seige_of_Vicksburg_Sample_OCR.pdf` (6 book pages, a
  mixed-raster scan at 75-100 dpi) carries its own OCR text layer: that layer is the reference
  (it is itself OCR, so it has errors of its own: figures are agreement with it);
- `bad-pdfs/mozilla__pdf.js/test/pdfs/scan-bad.pdf` (one page reading "pdf.js"; its text layer
  is the reference);
- case 14 (`tests/fixtures/cases/14-scanned-pdf`, two 150 dpi scans of a known sentence pair).

Character accuracy is 1 - (edit distance / reference length) over whitespace-normalised text;
WER is the word-level edit distance over the reference's word count. Rows, in one run: the
shipped settings (every installed language of eng/por/spa, scans upscaled to 300 dpi), English
only, and no upscaling. Before OCR the loader read nothing from a page without a text layer
(character accuracy 0 on the case 14 pages, and the page missing from the index). Nothing was
tuned on these pages beyond choosing among the rows printed. Times are wall-clock on this
machine, one page at a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ingest.loaders import pdf_ocr  # noqa: E402

CASE_14 = REPO / "tests" / "fixtures" / "cases" / "14-scanned-pdf"
CASE_14_TEXT = (
    "Overtime is paid at 1.5 times the hourly rate. "
    "Weekend overtime is paid at twice the hourly rate."
)


@dataclass
class Page:
    name: str
    images: list  # PIL images
    width_pt: float
    reference: str
    has_text_layer: bool


def shared_data() -> Path | None:
    path = Path(os.environ.get("RAGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


def pages(data: Path | None) -> list[Page]:
    from pypdf import PdfReader

    found: list[Page] = []
    for path in sorted(CASE_14.glob("*.pdf")):
        reader = PdfReader(path)
        for number, page in enumerate(reader.pages, start=1):
            if pdf_ocr.needs_ocr(page.extract_text() or ""):
                images = pdf_ocr.page_images(page)
                width = float(page.mediabox.width)
                found.append(Page(f"{path.name}#{number}", images, width, CASE_14_TEXT, False))
    if data is None:
        print("no shared data (../shared/data or $RAGKIT_SHARED_DATA): bad-pdfs skipped")
        return found
    for relative in (
        "bad-pdfs/mozilla__pdf.js/test/pdfs/scan-bad.pdf",
        "bad-pdfs/py-pdf__pypdf/resources/Seige_of_Vicksburg_Sample_OCR.pdf",
    ):
        path = data / relative
        reader = PdfReader(path)
        for number, page in enumerate(reader.pages, start=1):
            images = pdf_ocr.page_images(page)
            reference = page.extract_text() or ""
            found.append(
                Page(f"{path.name}#{number}", images, float(page.mediabox.width), reference, True)
            )
    return found


def distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two sequences (characters or words)."""
    previous = list(range(len(b) + 1))
    for i, item in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item != other))
            )
        previous = current
    return previous[-1]


def scores(got: str, reference: str) -> tuple[float, float]:
    """(character accuracy, WER) of `got` against `reference`, whitespace normalised."""
    got, reference = " ".join(got.split()), " ".join(reference.split())
    chars = 1 - distance(got, reference) / max(len(reference), 1)
    words = distance(got.split(), reference.split()) / max(len(reference.split()), 1)
    return max(chars, 0.0), words


def run(
    name: str, read: Callable[[Page], str], chosen: Sequence[Page]
) -> tuple[str, float, float, float]:
    started = time.perf_counter()
    texts = [read(page) for page in chosen]
    seconds = time.perf_counter() - started
    total = sum(len(" ".join(p.reference.split())) for p in chosen)
    # Character accuracy pooled over pages (weighted by reference length); WER by words.
    char_errors = sum(
        (1 - scores(t, p.reference)[0]) * len(" ".join(p.reference.split()))
        for t, p in zip(texts, chosen, strict=True)
    )
    ref_words = sum(len(p.reference.split()) for p in chosen)
    word_errors = sum(
        scores(t, p.reference)[1] * len(p.reference.split())
        for t, p in zip(texts, chosen, strict=True)
    )
    return name, len(chosen) / seconds, 1 - char_errors / total, word_errors / ref_words


def with_settings(languages: str, upscale: bool) -> Callable[[Page], str]:
    def read(page: Page) -> str:
        os.environ["RAGKIT_OCR_LANG"] = languages
        pdf_ocr.languages.cache_clear()
        target = pdf_ocr.TARGET_DPI
        if not upscale:
            pdf_ocr.TARGET_DPI = 1  # nothing is below 1 dpi: no page is upscaled
        try:
            return pdf_ocr.read_images(page.images, page.width_pt).text
        finally:
            pdf_ocr.TARGET_DPI = target

    return read


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=0, help="at most this many pages (0: all)")
    args = parser.parse_args(argv)
    why_not = pdf_ocr.missing()
    if why_not:
        print(f"OCR unavailable: {why_not}; {pdf_ocr.INSTALL}")
        return 1
    chosen = pages(shared_data())
    chosen = chosen[: args.pages] if args.pages else chosen
    os.environ.pop("RAGKIT_OCR_LANG", None)
    pdf_ocr.languages.cache_clear()
    shipped = pdf_ocr.languages()
    print(f"{len(chosen)} scanned pages; shipped languages: {shipped}")
    rows = [
        run(f"shipped ({shipped}, 300 dpi)", with_settings(shipped, True), chosen),
        run("eng only, 300 dpi", with_settings("eng", True), chosen),
        run(f"{shipped}, scan as stored", with_settings(shipped, False), chosen),
    ]
    print(f"\n{'reader':40s} {'pages/s':>8s} {'char acc':>9s} {'WER':>6s}")
    for name, speed, accuracy, wer in rows:
        print(f"{name:40s} {speed:8.3f} {accuracy:9.3f} {wer:6.3f}")
    base = rows[0]
    print(
        f"\nshipped vs eng only: {base[1] / rows[1][1]:.2f}x the speed, "
        f"char accuracy {base[2] - rows[1][2]:+.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
