"""PDF via pypdf: text per page, paragraphs and lists rebuilt from lines, 1-based page on
every block.

pypdf returns a page as lines with no paragraph markup. A paragraph ends at a blank line or
after a line clearly shorter than the page's usual line (the ragged last line of a paragraph);
wrapped lines are joined with spaces. Lines starting with a bullet or "1." start list items,
and consecutive items form one list block. A short line in Title Case or CAPITALS, or numbered
like "3. Expenses", followed by more text, is taken as a heading: numbered ones nest by their
depth ("3.1" under "3."), CAPITALS are level 1 and Title Case level 2.

Every failure is one LoadError line: encrypted without a working password, AES without the
'cryptography' package, no text layer (a scan), a "this PDF is protected" wrapper, or a file
pypdf cannot parse. A page that fails on its own is skipped with a warning.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.loaders.base import LoadOptions, Part, assemble
from ingest.records import Document
from ragkit.errors import LoadError

if TYPE_CHECKING:
    from pypdf import PdfReader

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
_BULLET = re.compile(r"^(?:[•●◦▪‣∙·*\-–]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+\S")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)\.?\s+(?=\S)")
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or",
     "per", "the", "to", "vs", "via", "with", "&", "-"}
)  # fmt: skip
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "\xad": ""})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # e.g. a glyph the font could not map
_SHORT_LINE = 0.6  # a line under 60% of the page's usual width ends its paragraph
_PROSE_WIDTH = 40  # characters; below this the page's usual line is too short to judge


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
    page_texts: list[tuple[int, str]] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except DependencyError:
            raise
        except Exception as exc:
            options.warn(f"page {number} skipped: {describe(exc)}")
            continue
        page_texts.append((number, _CONTROL.sub("", text.translate(_LIGATURES))))
    if not page_texts:
        raise LoadError(source, "unreadable PDF (text extraction failed on every page)")
    full = " ".join(" ".join(text.split()) for _, text in page_texts).strip()
    if not full:
        raise LoadError(source, "no text layer (scanned?); run OCR on it first, e.g. ocrmypdf")
    if len(full) < 1000 and _PROTECTED.search(full):
        raise LoadError(source, PROTECTED_WRAPPER)
    parts = [part for number, text in page_texts for part in page_parts(text, number)]
    # Guessed headings make poor titles ("1 Foo", a scan's OCR noise): metadata or file name.
    title = _metadata_title(reader)
    return assemble(
        source, parts, fallback_title=title, pages=len(reader.pages), title_from_headings=False
    )


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


def page_parts(text: str, page: int) -> list[Part]:
    """Rebuild headings, paragraphs and lists from one page's extracted lines."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    lengths = sorted(len(line) for line in lines if line)
    width = lengths[int(len(lengths) * 0.8)] if lengths else 0
    # A page of fragments (a form, a word per line) has no ragged paragraph ends to go by:
    # join its lines until a blank line and guess no headings.
    prose = width >= _PROSE_WIDTH
    parts: list[Part] = []
    para: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if para:
            parts.append(Part("paragraph", _join(para), page=page))
            para.clear()
        if items:
            parts.append(Part("list", "\n".join(items), page=page))
            items.clear()

    for index, line in enumerate(lines):
        if not line:
            flush()
            continue
        following = next((later for later in lines[index + 1 :] if later), "")
        continues_item = bool(items) and (not prose or len(items[-1]) >= width * _SHORT_LINE)
        starts_sentence = following[:1].isupper() or following[:1].isdigit()
        if (
            prose
            and not para
            and not continues_item
            and starts_sentence
            and (level := heading_level(line))
        ):
            flush()
            parts.append(Part("heading", line, level=level, page=page))
        elif _BULLET.match(line):
            if para:
                flush()
            items.append(line)
        elif continues_item:
            items[-1] = _join([items[-1], line])
        else:
            if items:
                flush()
            para.append(line)
            if prose and len(line) < width * _SHORT_LINE:
                flush()
    flush()
    return parts


def heading_level(line: str) -> int:
    """0 if `line` does not look like a heading, else its nesting level (1 = outermost)."""
    if len(line) > 80 or len(line.split()) > 12 or line[-1] in ".,;:!?":
        return 0
    if re.search(r"\s\d+$|\.{3,}", line):  # table-of-contents entry ("Expenses ..... 12")
        return 0
    numbered = _NUMBERED.match(line)
    rest = line[numbered.end() :] if numbered else line
    if not rest[:1].isupper():
        return 0
    label, colon, _ = rest.partition(":")
    if colon and not label.isupper():
        return 0  # "Position: Chief Executive Officer" is a label, not a heading
    words = [word for word in rest.split() if any(c.isalpha() for c in word)]
    if not words or not all(w[0].isupper() or w.lower() in _SMALL_WORDS for w in words):
        return 0
    if numbered:
        return numbered.group(1).count(".") + 1
    return 1 if rest.isupper() else 2


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        # Keep a line-end hyphen and glue: "long-" + "term" -> "long-term".
        text = f"{text}{line}" if text.endswith("-") else f"{text} {line}"
    return text


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
