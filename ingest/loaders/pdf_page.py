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

When fonts mark headings (`levels`), a line in a heading font is a heading unless its text
rules it out (a bullet, a page label, a clause). A numbered line there ("4. Approval limits")
is a heading unless it is a sentence or an item of a list set in that font (the next line in
the font is "5. ...", or the line before it "3. ...").
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["pdf"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ingest.loaders.base import Part
from ingest.loaders.pdf_tables import find_tables

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
_SHORT_LINE = 0.6  # a line under 60% of the page's usual width ends its paragraph
_PROSE_WIDTH = 40  # characters; below this the page's usual line is too short to judge
_MIN_RUN = 3  # this many short lines in a row read as table cells: kept together, no headings


def page_parts(
    text: str,
    page: int,
    layout: Callable[[], str] | None = None,
    levels: Sequence[int] | None = None,
) -> list[Part]:
    """Rebuild headings, paragraphs, lists and tables from one page's extracted lines.

    `layout` gives the page's layout-mode text; it is called only when the page has a run of
    short lines that could be a table. `levels`, one per line of `text`, is the heading level
    each line's font gives it (0: body); given, headings come from it alone (consecutive lines
    of one level are one wrapped heading), else they are guessed from the text.
    """
    lines = [" ".join(line.split()) for line in text.split("\n")]
    fonts = None
    if levels is not None:
        assert len(levels) == len(lines), (len(levels), len(lines))
        fonts = _font_headings(lines, levels)
    width = _usual_width(lines)
    cell_lines = _cell_lines(
        lines, width * _SHORT_LINE if width >= _PROSE_WIDTH else _PROSE_WIDTH, fonts
    )
    tables: dict[int, tuple[int, Part]] = {}  # first line -> (line after the table, table)
    if cell_lines and layout:
        tables = find_tables(lines, layout(), page, is_heading=heading_level, join=join_lines)
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
            parts.append(Part("paragraph", join_lines(para), page=page))
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
        if fonts is not None and fonts[index]:
            flush()
            end = index + 1
            while (
                end < len(lines)
                and lines[end]
                and fonts[end] == fonts[index]
                and not _section_number(lines[end])  # "2. Scope" starts a heading of its own
            ):
                end += 1  # a heading wrapped onto several lines
            heading = join_lines(lines[index:end])
            parts.append(Part("heading", heading, level=fonts[index], page=page))
            index = end
            continue
        after = next((i for i in range(index + 1, len(lines)) if lines[i]), len(lines))
        following = lines[after] if after < len(lines) else ""
        continues_item = bool(items) and (
            not prose or (len(items[-1]) >= short and not _new_sentence(items[-1], following=line))
        )
        run = (
            0
            if not prose or para or continues_item
            else _run_length(lines, index, short, tables, fonts)
        )
        if run >= _MIN_RUN:  # table cells without a grid: kept together, never headings
            flush()
            run_lines = lines[index : index + run]
            # Narrow hard-wrapped prose (a newspaper column) reads as one paragraph.
            wrapped = sum(row[:1].islower() for row in run_lines) * 2 > run
            text = join_lines(run_lines) if wrapped else "\n".join(run_lines)
            parts.append(Part("paragraph", text, page=page))
            index += run
            continue
        body_follows = (
            after in tables
            or _looks_like_body(following, short)
            or _run_length(lines, after, short, tables, fonts) >= _MIN_RUN
        )
        if (
            fonts is None
            and prose
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
            items[-1] = join_lines([items[-1], line])
        else:
            if items:
                flush()
            para.append(line)
            if prose and len(line) < short:
                flush()
        index += 1
    flush()
    return parts


def _cell_lines(lines: list[str], short: float, fonts: Sequence[int] | None) -> set[int]:
    """Indexes of the lines in runs of short lines that could be table cells."""
    found: set[int] = set()
    index = 0
    while index < len(lines):
        run = _run_length(lines, index, short, {}, fonts)
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
    lines: list[str],
    start: int,
    short: float,
    tables: dict[int, tuple[int, Part]],
    fonts: Sequence[int] | None = None,
) -> int:
    """How many lines from `start` read as loose table cells: short, not a list item, not a
    sentence, not a numbered heading (any heading when `fonts` gives headings), not in a
    detected table; 0 if they are mostly titles."""
    end, titles = start, 0
    while end < len(lines) and end not in tables:
        line = lines[end]
        if not line or len(line) >= short or line[-1] in ".!?" or _BULLET.match(line):
            break
        if fonts is not None and fonts[end]:
            break
        level = heading_level(line)
        if level and _NUMBERED.match(line):
            break
        titles += level > 0
        end += 1
    body = lines[end] if end < len(lines) else ""
    if end > start and len(body) >= short and fonts is None and heading_level(lines[end - 1]):
        end, titles = end - 1, titles - 1  # the heading of the paragraph after the run
    # Stacked headings ("CARE MANAGEMENT" / "Prior Authorization") are not cells: a run of
    # cells has as many plain lines ("Nightly limit", "180 EUR") as title-like ones.
    return end - start if titles * 2 <= end - start else 0


def _font_headings(lines: list[str], levels: Sequence[int]) -> list[int]:
    """The heading level of each line from its font (`levels`), kept only where the text can
    be a heading (`_heading_text`); 0 for every other line."""
    fonts = [0] * len(lines)
    for index, (line, level) in enumerate(zip(lines, levels, strict=True)):
        if not level or not _heading_text(line):
            continue
        if _ITEM_NUMBER.match(line):
            # "4. Approval limits" in a heading font is a numbered heading; "1. Give notice"
            # is an item of a list set in that font: the next line in the same font carries
            # the next number, or the line before in it the previous one.
            number = _item_number(line)
            assert number is not None
            after = next((i for i in range(index + 1, len(lines)) if lines[i]), None)
            before = next((i for i in range(index - 1, -1, -1) if lines[i]), None)
            if (
                line[-1] in ".!?:"
                or not _NUMBERED.sub("", line)[:1].isupper()
                or (after is not None and levels[after] == level
                    and _item_number(lines[after]) == number + 1)
                or (before is not None and levels[before] == level
                    and _item_number(lines[before]) == number - 1)
            ):  # fmt: skip
                continue
        fonts[index] = level
    return fonts


def _section_number(line: str) -> bool:
    """Whether a line starts with a section number: "2. Scope", "3.1 Meals"; not "12 months"."""
    numbered = _NUMBERED.match(line)
    return bool(numbered and (numbered.group(2) or "." in numbered.group(1)))


def _heading_text(line: str) -> bool:
    """Whether a line in a heading font can be a heading: short, with letters, not a bullet
    or lettered list item ("1. Title" is judged by `_font_headings`), a page label or a
    sentence ending in a comma or semicolon."""
    return (
        bool(line)
        and len(line) <= 120
        and len(line.split()) <= 16
        and any(c.isalpha() for c in line)
        and line[-1] not in ",;"
        and (not _BULLET.match(line) or bool(_ITEM_NUMBER.match(line)))
        and not _PAGE_LABEL.fullmatch(line)
    )


def join_lines(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        # Keep a line-end hyphen and glue: "long-" + "term" -> "long-term".
        text = f"{text}{line}" if text.endswith("-") else f"{text} {line}"
    return text
