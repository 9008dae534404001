"""PDF page geometry from pypdf's text visitor: where each line sits, in what font, and in what
order a reader reads it.

pypdf's `extract_text(visitor_text=...)` calls the visitor once per run of text it emits, with
the text matrix, the current transformation matrix and the font; the runs concatenated are
exactly the extracted text (checked on all 287 text pages of ../shared/data's PDFs). So one
extraction gives both the text the rest of the loader reads and, for every line of it, its
position (PDF points, origin bottom-left), effective font size and weight. Three things are
read from that geometry here:

- running headers and footers (`running_lines`): a line in the top or bottom band of the page
  whose text, digits aside, recurs at the same height on other pages, or a page-number label
  ("Page 2 of 3", "- 7 -") in those bands;
- heading styles (`heading_styles`): font sizes clearly above the body text's, or bold at body
  size when the body is not bold; the document's body style is the one with the most
  characters;
- reading order (`reading_order`): a page whose lines split at one vertical gutter into two
  columns of prose is read left column then right, band by band between full-width lines.

Positions are where a run starts; where it ends is estimated at half an em per character,
which is close for proportional Latin fonts and only ever used to ask whether a line reaches
across a gutter.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["pdf"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pypdf import PageObject

_BOLD = re.compile(r"bold|black|heavy|semibold|demi|,b$", re.IGNORECASE)
_PAGE_NUMBER = re.compile(
    r"(?:(?:page|p\.|pg\.|pág\.?|página|seite)\s*)?[-–—(]?\s*\d{1,4}\s*[-–—)]?"
    r"(?:\s*(?:of|/|de|von|sur)\s*\d{1,4})?",
    re.IGNORECASE,
)
_EM_PER_CHAR = 0.5  # average advance of a character in a proportional font, in ems
BAND = 0.12  # top and bottom share of the page height where running headers/footers live
EDGE_LINES = 3  # only the outermost lines of a page can be running headers/footers
SAME_PLACE = 4.0  # points: a repeated line at most this far from its other copies
HEADING_RATIO = 1.15  # a heading style is at least this much larger than the body's


@dataclass
class Piece:
    """A run of text on one line: start position, font size (points) and weight."""

    text: str
    x: float
    y: float
    size: float
    bold: bool

    @property
    def end(self) -> float:
        return self.x + len(self.text.rstrip()) * self.size * _EM_PER_CHAR


@dataclass
class Line:
    """One line of extracted text with its pieces; `text` is exactly pypdf's line."""

    pieces: list[Piece] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(piece.text for piece in self.pieces)

    @property
    def inked(self) -> list[Piece]:
        return [piece for piece in self.pieces if piece.text.strip()]

    @property
    def y(self) -> float | None:
        inked = self.inked
        return inked[0].y if inked else None

    @property
    def style(self) -> tuple[float, bool] | None:
        """(size rounded to 0.5 pt, bold) of most of the line's characters; None when blank."""
        weights: Counter[tuple[float, bool]] = Counter()
        for piece in self.inked:
            weights[style_of(piece)] += len(piece.text.strip())
        return weights.most_common(1)[0][0] if weights else None

    @property
    def uniform(self) -> bool:
        """Whether every character of the line is in the same style (a heading is)."""
        return len({style_of(piece) for piece in self.inked}) == 1


@dataclass
class PageLayout:
    number: int  # 1-based
    height: float
    width: float
    lines: list[Line]


def style_of(piece: Piece) -> tuple[float, bool]:
    return (round(piece.size * 2) / 2, piece.bold)


def read_page(page: PageObject, number: int) -> PageLayout:
    """Extract a page's text once, with the geometry of every line (see the module docstring)."""
    pieces: list[Piece] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], font: Any, size: float) -> None:
        if not text:
            return
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        # The vertical scale of text space in device space: tm's y axis through cm.
        scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        name = str(font.get("/BaseFont", "")) if hasattr(font, "get") else ""
        pieces.append(Piece(text, x, y, abs(size * scale) or size, bool(_BOLD.search(name))))

    page.extract_text(visitor_text=visit)
    lines = [Line()]
    for piece in pieces:
        first, *rest = piece.text.split("\n")
        if first:
            lines[-1].pieces.append(Piece(first, piece.x, piece.y, piece.size, piece.bold))
        for text in rest:
            lines.append(Line())
            if text:
                lines[-1].pieces.append(Piece(text, piece.x, piece.y, piece.size, piece.bold))
    box = page.mediabox
    return PageLayout(number, float(box.height), float(box.width), lines)


def page_text(lines: Sequence[Line]) -> str:
    return "\n".join(line.text for line in lines)


# ---- running headers and footers ----


def running_lines(pages: Sequence[PageLayout]) -> set[tuple[int, int]]:
    """(page index, line index) of every running header/footer line in `pages`."""
    candidates: list[tuple[int, int, str, float]] = []  # page index, line index, key, y
    for p, layout in enumerate(pages):
        bottom = layout.height * BAND
        top = layout.height * (1 - BAND)
        placed = [(line.y, i) for i, line in enumerate(layout.lines) if line.y is not None]
        placed.sort()
        edges = {i for _, i in placed[:EDGE_LINES]} | {i for _, i in placed[-EDGE_LINES:]}
        for i in edges:
            line = layout.lines[i]
            y = line.y
            assert y is not None
            if bottom < y < top:
                continue
            candidates.append((p, i, _key(line.text), y))
    found: set[tuple[int, int]] = set()
    by_key: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for p, i, key, y in candidates:
        if _PAGE_NUMBER.fullmatch(" ".join(pages[p].lines[i].text.split())):
            found.add((p, i))
        elif key:
            by_key[key].append((p, i, y))
    needed = max(2, math.ceil(len(pages) * 0.3))
    for spots in by_key.values():
        for _, _, y in spots:
            same = [(p, i) for p, i, other in spots if abs(other - y) <= SAME_PLACE]
            if len({p for p, _ in same}) >= needed:
                found.update(same)
    return found


def _key(text: str) -> str:
    """A line's text with page numbers and spacing ignored: 'Page 2 of 3' ~ 'Page 3 of 3'."""
    return re.sub(r"\d+", "#", " ".join(text.split()).lower())


# ---- heading styles ----


def heading_styles(pages: Sequence[PageLayout]) -> dict[tuple[float, bool], int]:
    """Heading level (1 = outermost) of each style that marks headings; {} when the document
    has a single style for everything, and headings must be guessed from the text."""
    weights: Counter[tuple[float, bool]] = Counter()
    for layout in pages:
        for line in layout.lines:
            for piece in line.inked:
                weights[style_of(piece)] += len(piece.text.strip())
    if not weights:
        return {}
    body_size, body_bold = weights.most_common(1)[0][0]
    larger = sorted(
        {size for size, _ in weights if size >= body_size * HEADING_RATIO}, reverse=True
    )
    levels: dict[tuple[float, bool], int] = {}
    for level, size in enumerate(larger, start=1):
        levels[(size, True)] = levels[(size, False)] = level
    if not body_bold and (body_size, True) in weights:
        levels[(body_size, True)] = len(larger) + 1
    return {style: level for style, level in levels.items() if style in weights}


# ---- reading order ----


def reading_order(layout: PageLayout) -> list[Line]:
    """The page's lines in reading order: unchanged unless the page has two columns of prose
    (see `_gutter`); then each band between full-width lines is read left column first."""
    gutter = _gutter(layout)
    if gutter is None:
        return layout.lines
    bands: list[list[Line]] = [[], []]  # left, right of the band being read
    ordered: list[Line] = []

    def close_band() -> None:
        for side in bands:
            if ordered and side and re.search(r"[.!?]\W*$", ordered[-1].text):
                ordered.append(Line())  # a column that ends a sentence ends its paragraph
            ordered.extend(sorted(side, key=lambda line: -(line.y or 0.0)))
            side.clear()

    rows = sorted((ln for ln in layout.lines if ln.y is not None), key=lambda ln: -(ln.y or 0.0))
    for line in rows:
        left, right = _split(line, gutter)
        if left is None and right is None:  # reaches across the gutter: a full-width line
            close_band()
            ordered.append(line)
            continue
        for side, part in zip(bands, (left, right), strict=True):
            if part is not None:
                side.append(part)
    close_band()
    return ordered


def _split(line: Line, gutter: float) -> tuple[Line | None, Line | None]:
    """The line's parts left and right of the gutter, or (None, None) if a piece spans it."""
    left, right = Line(), Line()
    for piece in line.pieces:
        if not piece.text.strip():
            (right if right.pieces else left).pieces.append(piece)
        elif piece.x >= gutter - 1:
            right.pieces.append(piece)
        elif piece.end <= gutter and not right.pieces:
            left.pieces.append(piece)
        else:
            return None, None
    for part in (left, right):
        if part.pieces:
            part.pieces[0] = _lstrip(part.pieces[0])
            part.pieces[-1] = _rstrip(part.pieces[-1])
    return (left if left.inked else None), (right if right.inked else None)


def _lstrip(piece: Piece) -> Piece:
    return Piece(piece.text.lstrip(), piece.x, piece.y, piece.size, piece.bold)


def _rstrip(piece: Piece) -> Piece:
    return Piece(piece.text.rstrip(), piece.x, piece.y, piece.size, piece.bold)


MIN_COLUMN_LINES = 4  # lines on each side of a gutter before a page counts as two columns
MIN_PROSE_CHARS = 25  # median characters of a column's lines: prose, not table cells


def _gutter(layout: PageLayout) -> float | None:
    """The x of the right column's left edge when the page is two columns of prose, else None.

    The right column starts where several lines have a piece beginning at the same x in the
    middle of the page, after a gap, and every line is either wholly left of it, wholly right
    of it, or one of each. Both sides need `MIN_COLUMN_LINES` lines of prose length, so a
    two-column table of short cells is left alone for the table reader.
    """
    starts: Counter[float] = Counter()
    for line in layout.lines:
        inked = line.inked
        for before, piece in zip([None, *inked], inked, strict=False):
            middle = layout.width * 0.25 < piece.x < layout.width * 0.75
            gap = before is None or piece.x - before.end > piece.size
            if middle and gap:
                starts[round(piece.x)] += 1
    for x, count in starts.most_common(3):
        if count < MIN_COLUMN_LINES:
            break
        lefts, rights, full = [], [], 0
        for line in layout.lines:
            if line.y is None:
                continue
            left, right = _split(line, x)
            if left is None and right is None:
                full += 1
            lefts += [left.text] if left else []
            rights += [right.text] if right else []
        if (
            len(lefts) >= MIN_COLUMN_LINES
            and len(rights) >= MIN_COLUMN_LINES
            and full <= (len(lefts) + len(rights)) // 2
            and _median_length(lefts) >= MIN_PROSE_CHARS
            and _median_length(rights) >= MIN_PROSE_CHARS
        ):
            return float(x)
    return None


def _median_length(texts: list[str]) -> int:
    lengths = sorted(len(text.strip()) for text in texts)
    return lengths[len(lengths) // 2] if lengths else 0
