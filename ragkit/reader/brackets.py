"""The row of a bracket table that holds the asker's number: "after 20 years of service" over
rows "Less than 3 years", "3 to 4 years", "5 to 7 years", "8 years or more" is the last row.

Many policy tables list brackets: notice by years of service, allowance by distance, approval
by amount. `ragkit.reader.features.holds` finds a number inside a closed range ("3 to 4"),
but a bracket's open end is written in words ("8 years or more", "less than 3", "mais de 10
anos") that no rule may list (issue #11: no word lists). The table's structure says it
instead, in any language: a column whose cells each hold numbers that rise (or fall) row by
row is a scale of brackets, and a question's number falls in one of them:

- a row whose numbers span it (inclusive: "5 to 7" holds 5, 6 and 7);
- between two rows, the lower one (a bracket starts at its number: 4.5 years is in "3 to 4"
  of "3 to 4", "5 to 7");
- past either end, the end row when its cell holds one number only: with ranges beside it,
  a lone number at the end of the scale is the open bracket ("8 years or more", "15+",
  "less than 3"); an end row with a range is closed, and a number past it is in no row.

A cell is a bracket when it holds one range or one number; a column is a scale when every
cell is one and one range at least is among them: a column of single figures ("25 days",
"26 days") is values, and dates ("17 March 2025": two numbers, no range) are no brackets.

Which column: the one whose numbers count what the question's number counts (`quantities`:
the word after it, compared by `features.stem`, or a currency beside it): "20 years" -> a
cell "3 to 4 years", "€7,500" -> "Over 5,000 EUR"; else the one whose header names it
("Years employed" over bare "1-4"). A number counted by nothing picks no column, and a
question's "20 days" is never read on a scale of years.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragkit.reader.features import number_value, ranges, stem, tokens

_CELL = re.compile(r"\s*\|\s*")
MIN_ROWS = 3  # a scale needs three rows at least: two rows rising is too weak a sign


def cells(line: str) -> list[str]:
    """The cells of a table row or header line ("| a | b |" and "a | b" alike)."""
    parts = _CELL.split(line.strip())
    if parts and not parts[0]:
        parts = parts[1:]
    if parts and not parts[-1]:
        parts = parts[:-1]
    return parts


# a number as written (grouped, decimal), not inside a code ("L4", "FY25")
_NUMBER = re.compile(r"(?<![\w.,])\d[\d,.]*")
# what counts a number: the word right after it ("20 years", "15+ years", "30 %"), or a
# currency sign or code beside it ("€7,500", "7,500 EUR", "EUR 7,500"); a sign is read as
# its ISO 4217 code where it has one code only, so "€7,500" and "5,000 EUR" count alike
_AFTER = re.compile(r"[\s+%]{0,3}([^\W\d_]+)")
_SIGN_BEFORE = re.compile(r"([$€£¥₹])\s?$|(?<![^\W\d_])([A-Z]{3})\s$")
_SIGN_AFTER = re.compile(r"\s?([$€£¥₹])")
_SIGN_CODES = {"€": "eur", "£": "gbp", "₹": "inr"}


def quantities(text: str) -> list[tuple[float, set[str]]]:
    """(value, what counts it: the stems of the word after it and of a currency beside it)
    for each number of `text` ("after 20 years" -> [(20.0, {"year"})], "over €7,500" ->
    [(7500.0, {"eur"})])."""
    found = []
    for match in _NUMBER.finditer(text):
        value = number_value(match.group().rstrip(".,"))
        if value is None:
            continue
        units: set[str] = set()
        after = _AFTER.match(text, match.end())
        if after:
            units.add(stem(after.group(1).lower()))
        for sign in (
            _SIGN_BEFORE.search(text[: match.start()]),
            _SIGN_AFTER.match(text, match.end()),
        ):
            if sign:
                mark = next(g for g in sign.groups() if g)
                units.add(_SIGN_CODES.get(mark, mark.lower()))
        found.append((value, units))
    return found


def _bracket(cell: str) -> tuple[float, float, bool] | None:
    """(low, high, closed) of a cell as a bracket: its one range ("3 to 4 years", "5-7",
    `features.ranges`), or its one number (an open end: "8 years or more", "15+"); None
    for anything else (no number, or several that make no range: a date, "1 January 2025")."""
    spans = ranges(cell)
    if len(spans) == 1:
        return (*spans[0], True)
    found = quantities(cell)
    return (found[0][0], found[0][0], False) if len(found) == 1 and not spans else None


def asked_quantities(question: str) -> list[tuple[float, set[str]]]:
    """The question's numbers with what counts them (`quantities`), those counted by
    something only ("after 20 years of service" -> [(20.0, {"year"})])."""
    return [(value, units) for value, units in quantities(question) if units]


def _scale(spans: Sequence[tuple[float, float]]) -> int:
    """+1 when the rows' (low, high) rise row by row, -1 when they fall, 0 otherwise."""
    for sign in (1, -1):
        if (
            all(
                sign * (b[0] - a[0]) >= 0 and sign * (b[1] - a[1]) >= 0 and a != b
                for a, b in zip(spans, spans[1:], strict=False)
            )
            and sign * (spans[-1][0] - spans[0][0]) > 0
        ):
            return sign
    return 0


def _row_of(value: float, spans: Sequence[tuple[float, float]]) -> set[int]:
    """The rows of an ascending scale whose bracket holds `value` (see the module); a
    bracket of one number (low == high) is an open end."""
    inside = {i for i, (low, high) in enumerate(spans) if low <= value <= high}
    if inside:
        return inside
    if value > spans[-1][1]:
        return {len(spans) - 1} if spans[-1][0] == spans[-1][1] else set()
    if value < spans[0][0]:
        return {0} if spans[0][0] == spans[0][1] else set()
    return {max(i for i, (low, _) in enumerate(spans) if low <= value)}


def bracket_rows(question: str, bodies: Sequence[str], header: str = "") -> dict[int, set[float]]:
    """{index of a row of `bodies` (the rows of one table, in table order, without the
    header): the question's numbers its bracket holds} (see the module); empty when no
    column is a scale of the word a number of the question counts."""
    asked = asked_quantities(question)
    rows = [cells(b) for b in bodies]
    if not asked or len(rows) < MIN_ROWS or len({len(r) for r in rows}) != 1:
        return {}
    head = cells(header.splitlines()[0]) if header else []
    scales: list[tuple[int, list[tuple[float, float]], set[str], set[str]]] = []
    for column in range(len(rows[0])):
        brackets = [_bracket(r[column]) for r in rows]
        if any(b is None for b in brackets) or not any(b[2] for b in brackets if b):
            continue  # a column of single figures is values, not brackets
        spans = [(b[0], b[1]) for b in brackets if b]
        sign = _scale(spans)
        if not sign:
            continue
        counted = {u for r in rows for _, units in quantities(r[column]) for u in units}
        named = {stem(w) for w in tokens(head[column])} if len(head) == len(rows[0]) else set()
        scales.append((sign, spans, counted, named))
    found: dict[int, set[float]] = {}
    for value, units in asked:
        # what counts the cells' numbers first ("3 to 4 years"), else the header's words
        # ("Years employed" over bare "1-4"): "Annual leave per year | 25 days" counts days
        matched = [s for s in scales if units & s[2]] or [s for s in scales if units & s[3]]
        for sign, spans, _, _ in matched:
            order = list(range(len(spans)))[::sign]  # a falling scale is read bottom up
            held = _row_of(value, [spans[i] for i in order])
            for i in held:
                found.setdefault(order[i], set()).add(value)
    return found
