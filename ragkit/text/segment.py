"""Cut a chunk's text into quotable units: sentences, list items and table rows.

The extractive generator answers only by quoting, so what it can quote is decided here: each
`Unit` is a verbatim span `text[start:end]` of a chunk, and a citation's quote is one or more
of them. Policy text is not clean prose, so the rules cover what the ingested documents hold:

- paragraph text is split into sentences, but not after abbreviations ("e.g.", "Dept."), an
  initial, "No. 5" or "p. 12", nor inside decimals ("3.5 days"); Chinese and Japanese
  sentences end at 。！？, which no space follows;
- hard-wrapped lines (PDF text) are joined back into one sentence, while a line ending in
  punctuation, or a short line (a title, a "Last updated: ..." line) followed by a capitalised
  one, ends its unit, unless that next line is short too and runs on in lower case (a link's
  text on a line of its own inside a wrapped sentence);
- a list item is one unit (a very long one is split into sentences), and an indented line
  under it continues it;
- a table row is one unit that carries the table's header row, so the row can be shown, and
  scored, under its column names.

Kept apart from scoring so the segmentation can be tested, and reused, on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

UnitKind = Literal["sentence", "item", "row"]


@dataclass(frozen=True)
class Unit:
    """A span of a chunk's text that can be quoted on its own: `text[start:end]` is verbatim."""

    hit: int  # index into the hits given to `generate`
    start: int
    end: int
    kind: UnitKind
    header: str = ""  # a table row's header row and separator, shown above it


_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")
BULLET = re.compile(r"^(?:[-*•+▪◦‣–]|\(?\d{1,3}[.)]|\(?[a-z][.)]|\([ivx]{1,4}\))\s+")
_HEADING = re.compile(r"^#{1,6}\s")
# A Latin-script sentence ends at . ! ? before whitespace and a capital (Latin-1 capitals too:
# "É", "Ñ") or a figure; a Chinese/Japanese one at 。！？ whatever follows (no spaces there).
_BOUNDARY = re.compile(
    r"[.!?][\"'”’)\]*_]*\s+(?=[\"'“‘(\[*_¿¡]*[A-ZÀ-ÖØ-Þ0-9£$€])"
    r"|[。！？][”’」』）)\]]*\s*(?=\S)"
)
_FULL_STOPS = (".", "!", "?", ":", ";", "。", "！", "？", "：", "；")
# What may close a sentence after its final mark: emphasis, quotes, brackets, spaces ('"Can
# I?"', "**Can I?**"); one set for every reader of a final mark (segment, FAQ, names)
CLOSING = "*_ \t\"'”’»)]"
# A question's final mark: "?", the full-width "？", the Arabic "؟" ("¿...?" ends with "?")
QUESTION_MARKS = ("?", "？", "؟")
_ABBREVIATION_TEXT = """e.g i.e etc vs cf approx incl excl esp mr mrs ms dr prof st jr sr inc co
    corp dept est min max jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri
    sat sun"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_TEXT.split())
_BEFORE_NUMBER_TEXT = "no nos art sec secs fig figs p pp vol ch para paras ref"
_BEFORE_NUMBER = frozenset(_BEFORE_NUMBER_TEXT.split())
_LONG_ITEM_WORDS = 60  # a list item longer than this is split into sentences


def segment(text: str, hit: int = 0) -> list[Unit]:
    """Cut a chunk's text into quotable units, in reading order."""
    units: list[Unit] = []
    lines = [(m.start(), m.end()) for m in re.finditer(r"[^\n]*", text) if m.group().strip()]
    header = ""
    in_table = False
    paragraph: list[tuple[int, int]] = []  # consecutive plain lines, joined across wraps
    previous_end = -2

    def flush() -> None:
        if paragraph:
            units.extend(_sentence_units(text, paragraph, hit, "sentence"))
            paragraph.clear()

    for index, (raw_start, raw_end) in enumerate(lines):
        line = text[raw_start:raw_end]
        start = raw_start + len(line) - len(line.lstrip())
        end = raw_end - (len(line) - len(line.rstrip()))
        stripped = text[start:end]
        blank_before = "\n" in text[previous_end + 1 : raw_start] if previous_end >= 0 else True
        previous_end = raw_end
        in_table = in_table and not blank_before
        if _is_table_row(stripped):
            flush()
            if _TABLE_SEPARATOR.match(stripped):
                continue
            if not in_table:  # a table's first line: its header, when one can be told
                in_table = True
                following = text[slice(*lines[index + 1])].strip() if index + 1 < len(lines) else ""
                if _TABLE_SEPARATOR.match(following):  # Markdown: header, then |---|
                    header = f"{stripped}\n{following}"
                    continue
                if _is_table_row(following):  # "cell | cell" lines (DOCX): the first is the header
                    header = stripped
                    continue
                header = ""
            units.append(Unit(hit, start, end, "row", header))
            continue
        in_table = False
        header = ""
        if _HEADING.match(stripped):
            flush()
            continue
        bullet = BULLET.match(stripped)
        if bullet:
            flush()
            paragraph.append((start + bullet.end(), end))
            kind: UnitKind = "item"
            units.extend(_sentence_units(text, paragraph, hit, kind))
            paragraph.clear()
            continue
        if blank_before:
            flush()
        elif units and units[-1].kind == "item" and not paragraph:
            # an indented continuation of a list item: extend the item
            last = units.pop()
            units.append(Unit(hit, last.start, end, "item"))
            continue
        paragraph.append((start, end))
    flush()
    return units


def ends_sentence(text: str, unit: Unit) -> bool:
    """Whether the unit ends with a full stop (emphasis, quotes and brackets aside): ". ! ?
    : ;" or their CJK forms."""
    return text[unit.start : unit.end].rstrip(CLOSING).endswith(_FULL_STOPS)


def _is_table_row(line: str) -> bool:
    return (line.startswith("|") and line.count("|") >= 2) or " | " in line


def _sentence_units(
    text: str, lines: list[tuple[int, int]], hit: int, kind: UnitKind
) -> list[Unit]:
    start, end = lines[0][0], lines[-1][1]
    if kind == "item" and len(text[start:end].split()) <= _LONG_ITEM_WORDS:
        return [Unit(hit, start, end, "item")]
    cuts = [start]
    for i, ((_, line_end), (next_start, next_end)) in enumerate(
        zip(lines, lines[1:], strict=False)
    ):
        # a newline ends a unit after terminal punctuation, or after a short line (a title, a
        # "Last updated: ..." line) followed by one starting in upper case; a long line running
        # on is a hard wrap (PDF text). A short line whose next line is short too and is
        # itself continued in lower case is a wrapped sentence around a link's text ("...please
        # complete\na\nNon-Standard Equipment Request\nvia the Service Desk.": the link's text
        # on a line of its own is no title), so it does not end a unit either
        previous = text[cuts[-1] : line_end].rstrip()
        if previous.endswith(_FULL_STOPS):
            cuts.append(next_start)
        elif _short(text, line_end) and text[next_start].isupper():
            link_text = (
                i + 2 < len(lines) and _short(text, next_end) and text[lines[i + 2][0]].islower()
            )
            if not link_text:
                cuts.append(next_start)
    spans: list[tuple[int, int]] = []
    for piece_start, piece_end in zip(cuts, [*cuts[1:], end], strict=True):
        spans.extend(split_sentences(text, piece_start, piece_end))
    return [Unit(hit, s, e, kind) for s, e in spans]


def _short(text: str, line_end: int) -> bool:
    return len(text[text.rfind("\n", 0, line_end) + 1 : line_end]) < 60


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of `text[start:end]`, each trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    current = start
    for match in _BOUNDARY.finditer(text, start, end):
        if text[match.start()] == "." and _abbreviation_before(text, current, match):
            continue
        stop = match.start() + len(match.group().rstrip())
        spans.append((current, stop))
        current = match.end()
    spans.append((current, end))
    trimmed = []
    for s, e in spans:
        piece = text[s:e]
        s2, e2 = s + len(piece) - len(piece.lstrip()), e - (len(piece) - len(piece.rstrip()))
        if e2 > s2:
            trimmed.append((s2, e2))
    return trimmed


def _abbreviation_before(text: str, sentence_start: int, match: re.Match[str]) -> bool:
    words = text[sentence_start : match.start()].split()
    if not words:
        return True
    word = words[-1].lstrip("([\"'“*_").lower()
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    if re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):  # u.s, a.m, p.m
        return True
    return word in _BEFORE_NUMBER and text[match.end() : match.end() + 1].isdigit()
