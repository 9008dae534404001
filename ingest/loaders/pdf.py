"""PDF via pypdf: one extraction per page gives the text and the geometry of every line
(`ingest.loaders.pdf_layout`), from which the document is rebuilt as a reader sees it:

- running headers and footers (a line repeated at the same place across pages, or a page
  number such as "Page 2 of 3") are dropped;
- a page of two prose columns is read column by column;
- headings come from font size and weight when the document has heading styles; a document
  in one style throughout falls back to guessing them from the text (`ingest.loaders.pdf_page`,
  which also rebuilds paragraphs, lists and tables from each page's lines);
- a paragraph cut by a page break (it ends mid-sentence and the next page goes on with it) is
  joined into one block with `page` and `page_end`.

Every failure is one LoadError line: encrypted without a working password, AES without the
'cryptography' package, no text layer (a scan), a "this PDF is protected" wrapper, or a file
pypdf cannot parse. A page that fails on its own is skipped with a warning.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["pdf"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.loaders.base import LoadOptions, Part, assemble
from ingest.loaders.pdf_layout import (
    Line,
    PageLayout,
    heading_styles,
    page_text,
    read_page,
    reading_order,
    running_lines,
)
from ingest.loaders.pdf_ocr import INSTALL, OcrText, needs_ocr, page_images, read_images
from ingest.loaders.pdf_ocr import missing as ocr_missing
from ingest.loaders.pdf_page import heading_level, join_lines, page_parts
from ragkit.errors import LoadError
from ragkit.index.records import Document

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader

__all__ = ["heading_level", "load", "page_parts"]

AES_HINT = "AES-encrypted PDF needs the 'cryptography' package: pip install cryptography"
PROTECTED_WRAPPER = (
    "the PDF is a protected wrapper: its only text says the content is protected; "
    "export an unprotected copy"
)
_PROTECTED = re.compile(
    r"this (?:pdf|document|file)[\w ]{0,20} (?:is|has been) protected"
    r"|protected by microsoft|need a different reader",
    re.IGNORECASE,
)
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "\xad": ""})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # e.g. a glyph the font could not map


def load(path: Path, source: str, options: LoadOptions) -> list[Document]:
    if path.stat().st_size == 0:
        raise LoadError(source, "empty file")
    with path.open("rb") as handle:
        if b"%PDF-" not in handle.read(1024):
            raise LoadError(source, "not a PDF (no %PDF- header; is the extension wrong?)")
    with _quiet_pypdf():
        from pypdf.errors import DependencyError

        try:
            return [_load(path, source, options)]
        except LoadError:
            raise
        except DependencyError as exc:
            raise LoadError(source, AES_HINT) from exc
        except Exception as exc:  # pypdf raises many types on broken files
            raise LoadError(source, f"unreadable PDF ({describe(exc)})") from exc


def _load(path: Path, source: str, options: LoadOptions) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    reader = PdfReader(path)
    if reader.is_encrypted:
        _decrypt(reader, source, options)
    pages: list[tuple[PageLayout, PageObject]] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            pages.append((read_page(page, number), page))
        except DependencyError:
            raise
        except Exception as exc:
            options.warn(f"page {number} skipped: {describe(exc)}")
    if not pages:
        raise LoadError(source, "unreadable PDF (text extraction failed on every page)")
    layouts = [layout for layout, _ in pages]
    scans = _read_scans(pages, options)
    full = " ".join(
        [" ".join(page_text(layout.lines).split()) for layout in layouts]
        + [" ".join(scan.text.split()) for scan in scans.values() if scan]
    ).strip()
    if not full:
        raise LoadError(source, _no_text(scans))
    if len(full) < 1000 and _PROTECTED.search(full):
        raise LoadError(source, PROTECTED_WRAPPER)
    running = running_lines(layouts)
    styles = heading_styles(layouts)
    parts: list[Part] = []
    for index, (layout, page) in enumerate(pages):
        kept = [line for i, line in enumerate(layout.lines) if (index, i) not in running]
        lines = reading_order(replace(layout, lines=kept))
        levels = [_font_level(line, styles) for line in lines] if styles else None
        text = _clean(page_text(lines))
        parts += page_parts(text, layout.number, layout=_layout_reader(page), levels=levels)
        if scan := scans.get(layout.number):
            parts += [
                replace(part, ocr_confidence=scan.confidence)
                for part in page_parts(_clean(scan.text), layout.number)
            ]
    # Guessed headings make poor titles ("1 Foo", a scan's OCR noise): metadata or file name.
    title = _metadata_title(reader)
    return assemble(
        source,
        join_across_pages(parts),
        fallback_title=title,
        pages=len(reader.pages),
        title_from_headings=False,
    )


def _read_scans(
    pages: list[tuple[PageLayout, PageObject]], options: LoadOptions
) -> dict[int, OcrText | None]:
    """OCR text of each page with no text layer but a scanned image, by page number; None for
    such a page left unread (OCR unavailable or found nothing), with a warning naming it."""
    from pypdf.errors import DependencyError

    why_not = ocr_missing()
    scans: dict[int, OcrText | None] = {}
    for layout, page in pages:
        number = layout.number
        if not needs_ocr(page_text(layout.lines)):
            continue
        try:
            images = page_images(page)
        except DependencyError as exc:
            options.warn(f"page {number} has no text layer and its image cannot be decoded: {exc}")
            scans[number] = None
            continue
        except Exception as exc:
            options.warn(f"page {number} has no text layer and its image is unreadable: {exc}")
            scans[number] = None
            continue
        if not images:
            continue  # a blank page, or one drawn as vector paths
        if why_not:
            options.warn(
                f"page {number} has no text layer (scanned?) and was not read: {why_not}; "
                f"for OCR: {INSTALL}"
            )
            scans[number] = None
            continue
        scan = read_images(images, layout.width)
        if not scan.text.strip():
            options.warn(f"page {number} has no text layer and OCR found no text in its image")
        scans[number] = scan if scan.text.strip() else None
    return scans


def _no_text(scans: dict[int, OcrText | None]) -> str:
    if not scans:
        return "no text layer and no scanned page image (blank pages?)"
    why_not = ocr_missing()
    if why_not:
        return f"no text layer (scanned?) and {why_not}; for OCR: {INSTALL}"
    return "no text layer (scanned?), and OCR found no text in its page images"


def _font_level(line: Line, styles: dict[tuple[float, bool], int]) -> int:
    """The heading level a line's font gives it (0: body text)."""
    style = line.style
    if style is None or not line.uniform:
        return 0
    return styles.get(style, 0)


_TERMINAL = re.compile(r"[.!?:;][\"'”’)\]]*$")


def join_across_pages(parts: list[Part]) -> list[Part]:
    """Join a paragraph that a page break cut: the last paragraph of a page does not end a
    sentence and the first of the next page goes on with it (a lowercase start, or the first
    ends with a comma or hyphen). The joined part keeps the first page and gets `page_end`."""
    joined: list[Part] = []
    for part in parts:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous.kind == part.kind == "paragraph"
            and previous.page is not None
            and (previous.ocr_confidence is None) == (part.ocr_confidence is None)
            and part.page == (previous.page_end or previous.page) + 1
            and not _TERMINAL.search(previous.text)
            and (part.text[:1].islower() or previous.text.endswith((",", "-")))
        ):
            text = join_lines([previous.text, part.text])
            confidence = min(
                (c for c in (previous.ocr_confidence, part.ocr_confidence) if c is not None),
                default=None,
            )
            joined[-1] = replace(previous, text=text, page_end=part.page, ocr_confidence=confidence)
            continue
        joined.append(part)
    return joined


def _decrypt(reader: PdfReader, source: str, options: LoadOptions) -> None:
    from pypdf import PasswordType

    for password in ("", *options.passwords):
        if reader.decrypt(password) != PasswordType.NOT_DECRYPTED:
            return
    tried = f" (none of the {len(options.passwords)} given passwords worked)"
    raise LoadError(
        source,
        "encrypted PDF: supply the password with --password-file"
        + (tried if options.passwords else ""),
    )


def _clean(text: str) -> str:
    return _CONTROL.sub("", text.translate(_LIGATURES))


def _layout_reader(page: PageObject) -> Callable[[], str]:
    """Layout-mode text of `page`, read only when asked; "" when layout mode fails."""

    def read() -> str:
        try:
            return _clean(page.extract_text(extraction_mode="layout") or "")
        except Exception:  # the plain text is already in hand; go without the grid
            return ""

    return read


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        title = (reader.metadata or {}).get("/Title")
    except Exception:
        return None
    title = str(title).strip() if title else ""
    junk = title.lower().startswith(("microsoft word -", "untitled")) or re.search(
        r"\.(docx?|pdf|indd|tmp|rtf|pptx?)$", title, re.IGNORECASE
    )
    return None if not title or junk else title


def describe(exc: Exception) -> str:
    message = (str(exc).splitlines() or [""])[0][:120]
    lowered = message.lower()
    kind = (
        "broken xref"
        if "xref" in lowered
        else "broken stream"
        if "stream" in lowered
        else "truncated file"
        if "eof" in lowered
        else type(exc).__name__
    )
    return f"{kind}: {message}" if message else kind


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs a warning for every repaired xref or odd font; the loader reports outcomes."""
    logger = logging.getLogger("pypdf")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(previous)
