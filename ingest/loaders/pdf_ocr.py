"""OCR of PDF pages that have no text layer: Tesseract, through pytesseract, on the images
embedded in the page.

A page needs OCR when its text layer holds fewer than `MIN_TEXT` letters and digits and it
holds an image at least `MIN_SIDE` pixels on both sides (a scan; logos and icons are smaller).
The images are taken out of the PDF with pypdf (`page.images`) rather than rendering the page:
a scanned page is one image, so its own pixels are what Tesseract should read, at the
scanner's resolution, and no rasteriser (poppler, Ghostscript) has to be installed. JBIG2
scans need the `jbig2dec` program to be decoded (pypdf calls it). A page drawn as vector
paths has no image and is not read.

pytesseract (over ocrmypdf): it returns each word with its confidence, which is kept on the
chunk, and works on one image in memory; ocrmypdf rewrites whole PDFs through Ghostscript and
pikepdf and would give back a text layer without confidences.

The text is rebuilt from Tesseract's words: a line per line, a blank line between its blocks
and paragraphs, so the page reader finds paragraphs as in any page. The confidence is the mean
of the words' confidences (Tesseract's 0-100, given here as 0-1).
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["pdf"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pypdf import PageObject

INSTALL = (
    "apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-por tesseract-ocr-spa "
    "&& pip install pytesseract"
)
MIN_TEXT = 16  # letters and digits: a page with fewer has no text layer worth the name
MIN_SIDE = 200  # pixels: a smaller image is a logo or an icon, not a scanned page
TARGET_DPI = 300  # Tesseract reads best around 300 dpi; smaller scans are upscaled to it
LANGUAGES = ("eng", "por", "spa")  # the language data .ci/run installs, used when present


@dataclass(frozen=True)
class OcrText:
    text: str
    confidence: float  # mean word confidence, 0-1
    words: int


def needs_ocr(text: str) -> bool:
    return sum(c.isalnum() for c in text) < MIN_TEXT


def missing() -> str | None:
    """Why OCR cannot run here, or None when it can. RAGKIT_OCR=0 turns it off."""
    if os.environ.get("RAGKIT_OCR", "").strip().lower() in {"0", "off", "no", "false"}:
        return "OCR is turned off (RAGKIT_OCR=0)"
    if importlib.util.find_spec("pytesseract") is None:
        return "the pytesseract package is not installed"
    if not _tesseract():
        return "Tesseract is not installed"
    return None


@cache
def _tesseract() -> str | None:
    return shutil.which(os.environ.get("RAGKIT_TESSERACT", "tesseract"))


@cache
def languages() -> str:
    """Tesseract's -l value: $RAGKIT_OCR_LANG, else every language of LANGUAGES installed."""
    chosen = os.environ.get("RAGKIT_OCR_LANG", "").strip()
    if chosen:
        return chosen
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = _tesseract() or "tesseract"
    installed = set(pytesseract.get_languages(config=""))
    return "+".join(lang for lang in LANGUAGES if lang in installed) or "eng"


def page_images(page: PageObject) -> list[Any]:
    """PIL images of the scan-sized images on the page, in the page's order.

    Raises pypdf's DependencyError for a JBIG2 image when `jbig2dec` is missing."""
    found = []
    for image in page.images:
        picture = image.image
        if picture is not None and min(picture.size) >= MIN_SIDE:
            found.append(picture)
    return found


def read_images(images: list[Any], page_width_pt: float) -> OcrText:
    """OCR the images of one page, top to bottom as the page lists them."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = _tesseract() or "tesseract"
    texts: list[str] = []
    confidences: list[float] = []
    for picture in images:
        prepared = _prepare(picture, page_width_pt)
        data = pytesseract.image_to_data(
            prepared, lang=languages(), output_type=pytesseract.Output.DICT
        )
        text, found = _rebuild(data)
        texts.append(text)
        confidences += found
    confidence = sum(confidences) / len(confidences) / 100 if confidences else 0.0
    return OcrText("\n\n".join(t for t in texts if t), round(confidence, 3), len(confidences))


def _prepare(picture: Any, page_width_pt: float) -> Any:
    """Greyscale on white, and upscaled to about TARGET_DPI when the scan spans the page at
    less. Transparent images (the text layer of a mixed-raster scan) are flattened onto white:
    converted as they are, their text would sit on black."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        picture = flat
    if picture.mode not in ("L", "RGB"):
        picture = picture.convert("L")
    dpi = picture.width / (page_width_pt / 72) if page_width_pt > 0 else TARGET_DPI
    if dpi < TARGET_DPI * 0.8:
        scale = min(TARGET_DPI / dpi, 4.0)
        size = (round(picture.width * scale), round(picture.height * scale))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    return picture


def _rebuild(data: dict[str, list[Any]]) -> tuple[str, list[float]]:
    """Text from image_to_data's words: lines joined by newlines, paragraphs by blank lines."""
    lines: list[str] = []
    confidences: list[float] = []
    current: tuple[int, int, int] | None = None
    paragraph: tuple[int, int] | None = None
    for i, word in enumerate(data["text"]):
        confidence = float(data["conf"][i])
        if confidence < 0 or not word.strip():
            continue
        where = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        if where != current:
            if paragraph is not None and where[:2] != paragraph:
                lines.append("")
            lines.append(word)
            current, paragraph = where, where[:2]
        else:
            lines[-1] += f" {word}"
        confidences.append(confidence)
    return "\n".join(lines), confidences
