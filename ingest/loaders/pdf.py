"""PDF via pypdf: text per page, paragraphs, lists and tables rebuilt from lines, 1-based page
on every block.

pypdf returns a page as lines with no paragraph markup. A paragraph ends at a blank line or
after a line clearly shorter than the page's usual line (the ragged last line of a paragraph);
wrapped lines are joined with spaces. Lines starting with a bullet or "1." start list items,
and consecutive items form one list block.

Tables come out of pypdf one cell per line. When a page has a run of three or more short
lines, it is also read in pypdf's layout mode, and a grid found there is matched back to the
plain lines to make a "table" block of "cell | cell" rows (`ingest.loaders.pdf_tables`).
Layout mode serves for nothing else: on some PDFs it splits words ("t    o ensure"). Short
lines that make no grid stay together as one paragraph, a line per line, and none of them is
taken for a heading.

A heading is guessed only when it is clearly one: a short line, with no sentence or clause
ending, mostly letters and no amount ("25 GBP", "1,000 EUR"), numbered like "3. Expenses" or
"3.1 Meals" (nesting by depth) or else in Title Case (level 2) or CAPITALS (level 1), that is
followed by body text (not a figure such as "25 GBP" or "Page 3") and not an item of a numbered
list ("1. ..." followed by "2. ..."). When in doubt a line is not a heading. A list item ends
where a new sentence starts on a new line after one that ended a sentence.

Every failure is one LoadError line: encrypted without a working password, AES without the
'cryptography' package, no text layer (a scan), a "this PDF is protected" wrapper, or a file
pypdf cannot parse. A page that fails on its own is skipped with a warning.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.loaders.base import LoadOptions, Part, assemble
from ingest.loaders.pdf_tables import find_tables
from ragkit.errors import LoadError
from ragkit.index.records import Document

if TYPE_CHECKING:
    from pypdf import PageObject, PdfReader

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
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)(\.?)\s+(?=\S)")
_ITEM_NUMBER = re.compile(r"^\(?(\d{1,3})[.)]\s")
# A number with a currency or unit: "25 GBP", "1,000 EUR", "$40", "10%"; not "COVID-19 FAQ".
_AMOUNT = re.compile(r"[$€£¥]\s?\d|(?<![\w-])\d(?:[\d,.]*\d)?\s?(?:[$€£¥%]|[A-Z]{3}\b)")
_PAGE_LABEL = re.compile(r"(?:page|p\.)\s*\d+(?:\s*(?:of|/)\s*\d+)?", re.IGNORECASE)
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or",
     "per", "the", "to", "vs", "via", "with", "&", "-"}
)  # fmt: skip
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "\xad": ""})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # e.g. a glyph the font could not map
_SHORT_LINE = 0.6  # a line under 60% of the page's usual width ends its paragraph
_PROSE_WIDTH = 40  # characters; below this the page's usual line is too short to judge
_MIN_RUN = 3  # this many short lines in a row read as table cells: kept together, no headings


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
    page_texts: list[tuple[int, str, PageObject]] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except DependencyError:
            raise
        except Exception as exc:
            options.warn(f"page {number} skipped: {describe(exc)}")
            continue
        page_texts.append((number, _clean(text), page))
    if not page_texts:
        raise LoadError(source, "unreadable PDF (text extraction failed on every page)")
    full = " ".join(" ".join(text.split()) for _, text, _ in page_texts).strip()
    if not full:
        raise LoadError(source, "no text layer (scanned?); run OCR on it first, e.g. ocrmypdf")
    if len(full) < 1000 and _PROTECTED.search(full):
        raise LoadError(source, PROTECTED_WRAPPER)
    parts = [
        part
        for number, text, page in page_texts
        for part in page_parts(text, number, layout=_layout_reader(page))
    ]
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


def page_parts(text: str, page: int, layout: Callable[[], str] | None = None) -> list[Part]:
    """Rebuild headings, paragraphs, lists and tables from one page's extracted lines.

    `layout` gives the page's layout-mode text; it is called only when the page has a run of
    short lines that could be a table.
    """
    lines = [" ".join(line.split()) for line in text.split("\n")]
    width = _usual_width(lines)
    cell_lines = _cell_lines(lines, width * _SHORT_LINE if width >= _PROSE_WIDTH else _PROSE_WIDTH)
    tables: dict[int, tuple[int, Part]] = {}  # first line -> (line after the table, table)
    if cell_lines and layout:
        tables = find_tables(lines, layout(), page, is_heading=heading_level, join=_join)
        cell_lines.update(i for start, (end, _) in tables.items() for i in range(start, end))
    # The usual line is that of the text around the table cells: a page half table is prose.
    around = [line for i, line in enumerate(lines) if i not in cell_lines]
    width = _usual_width(around) if len(around) >= _MIN_RUN else width
    # A page of fragments (a form, a word per line) has no ragged paragraph ends to go by:
    # join its lines until a blank line and guess no headings.
    prose = width >= _PROSE_WIDTH
    short = width * _SHORT_LINE if prose else _PROSE_WIDTH
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

    index = 0
    while index < len(lines):
        line = lines[index]
        if index in tables:
            flush()
            index, table = tables[index]
            parts.append(table)
            continue
        if not line:
            flush()
            index += 1
            continue
        after = next((i for i in range(index + 1, len(lines)) if lines[i]), len(lines))
        following = lines[after] if after < len(lines) else ""
        continues_item = bool(items) and (
            not prose or (len(items[-1]) >= short and not _new_sentence(items[-1], following=line))
        )
        run = 0 if not prose or para or continues_item else _run_length(lines, index, short, tables)
        if run >= _MIN_RUN:  # table cells without a grid: kept together, never headings
            flush()
            run_lines = lines[index : index + run]
            # Narrow hard-wrapped prose (a newspaper column) reads as one paragraph.
            wrapped = sum(row[:1].islower() for row in run_lines) * 2 > run
            text = _join(run_lines) if wrapped else "\n".join(run_lines)
            parts.append(Part("paragraph", text, page=page))
            index += run
            continue
        body_follows = (
            after in tables
            or _looks_like_body(following, short)
            or _run_length(lines, after, short, tables) >= _MIN_RUN
        )
        if (
            prose
            and not continues_item
            and body_follows
            and (level := heading_level(line))
            and (not para or (_NUMBERED.match(line) and len(line) < short))
            and not _in_numbered_list(line, following, items)
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
            if prose and len(line) < short:
                flush()
        index += 1
    flush()
    return parts


def _cell_lines(lines: list[str], short: float) -> set[int]:
    """Indexes of the lines in runs of short lines that could be table cells."""
    found: set[int] = set()
    index = 0
    while index < len(lines):
        run = _run_length(lines, index, short, {})
        found.update(range(index, index + run) if run >= _MIN_RUN else ())
        index += max(run, 1)
    return found


def _usual_width(lines: list[str]) -> int:
    lengths = sorted(len(line) for line in lines if line)
    return lengths[int(len(lengths) * 0.8)] if lengths else 0


def heading_level(line: str) -> int:
    """0 if `line` does not look like a heading, else its nesting level (1 = outermost)."""
    if len(line) > 80 or len(line.split()) > 12 or line[-1] in ".,;:!?":
        return 0
    if re.search(r"\s\d+$|\.{3,}", line):  # a contents entry ("Expenses ..... 12"), "Page 3"
        return 0
    if _AMOUNT.search(line) or "@" in line or "://" in line:  # a table cell, not a title
        return 0
    numbered = _NUMBERED.match(line)
    rest = line[numbered.end() :] if numbered else line
    if not rest[:1].isupper():
        return 0
    if _mostly_figures(rest):
        return 0
    label, colon, _ = rest.partition(":")
    if colon and not label.isupper():
        return 0  # "Position: Chief Executive Officer" is a label, not a heading
    if numbered and (numbered.group(2) or "." in numbered.group(1)):
        return numbered.group(1).count(".") + 1  # "3. Expenses", "3.1 Meal limits": any case
    words = [word.lstrip("(\"'“‘[") for word in rest.split() if any(c.isalpha() for c in word)]
    if not words or not all(w[:1].isupper() or w.lower() in _SMALL_WORDS for w in words):
        return 0
    if numbered:
        return 1  # "3 Expenses"
    return 1 if rest.isupper() else 2


def _looks_like_body(line: str, short: float) -> bool:
    """What may follow a heading: a list item, or a line starting like a sentence that is not
    a short figure ("25 GBP", "Page 3"): a label and its amount are table cells."""
    if _BULLET.match(line):
        return True
    if not (line[:1].isupper() or line[:1].isdigit()):
        return False
    if len(line) >= short or line[-1] in ".:!?":
        return True
    return not (_AMOUNT.search(line) or _PAGE_LABEL.fullmatch(line) or _mostly_figures(line))


def _mostly_figures(text: str) -> bool:
    compact = text.replace(" ", "")
    return sum(c.isalpha() for c in compact) * 2 < len(compact)


def _in_numbered_list(line: str, following: str, items: list[str]) -> bool:
    """'1. Chief Executive Officer' followed by '2. ...' is a list item, not a heading."""
    number = _item_number(line)
    if number is None:
        return False
    return _item_number(following) == number + 1 or (
        bool(items) and _item_number(items[-1]) == number - 1
    )


def _item_number(line: str) -> int | None:
    match = _ITEM_NUMBER.match(line)
    return int(match.group(1)) if match else None


def _new_sentence(previous: str, *, following: str) -> bool:
    return previous[-1:] in ".!?" and (following[:1].isupper() or following[:1].isdigit())


def _run_length(
    lines: list[str], start: int, short: float, tables: dict[int, tuple[int, Part]]
) -> int:
    """How many lines from `start` read as loose table cells: short, not a list item, not a
    sentence, not a numbered heading, not in a detected table; 0 if they are mostly titles."""
    end, titles = start, 0
    while end < len(lines) and end not in tables:
        line = lines[end]
        if not line or len(line) >= short or line[-1] in ".!?" or _BULLET.match(line):
            break
        level = heading_level(line)
        if level and _NUMBERED.match(line):
            break
        titles += level > 0
        end += 1
    body = lines[end] if end < len(lines) else ""
    if end > start and len(body) >= short and heading_level(lines[end - 1]):
        end, titles = end - 1, titles - 1  # the heading of the paragraph after the run
    # Stacked headings ("CARE MANAGEMENT" / "Prior Authorization") are not cells: a run of
    # cells has as many plain lines ("Nightly limit", "180 EUR") as title-like ones.
    return end - start if titles * 2 <= end - start else 0


def _join(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        # Keep a line-end hyphen and glue: "long-" + "term" -> "long-term".
        text = f"{text}{line}" if text.endswith("-") else f"{text} {line}"
    return text


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
