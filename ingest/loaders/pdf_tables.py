"""PDF tables: a grid found in pypdf's layout-mode text, filled from the plain lines.

pypdf's plain extraction gives a table one cell per line, in reading order, with the words
intact but nothing to say where a row ends. Layout mode keeps each row on one line with its
cells at fixed columns (text 3+ spaces apart), which shows the grid, but on some PDFs it splits
words ("t    o ensure"). So layout text serves only to find the grid, and the cell text comes
from the plain lines: each plain line is matched to a cell (or a whole row, which some PDFs give
as one line) of the grid, which gives its column. A line in a column left of the one before
starts a new row, so a cell wrapped onto two lines stays one cell whether its row's other cells
sit at its top or bottom. A grid read this way becomes a "table" part of "cell | cell" rows,
the first row its header.

What counts as a heading and how wrapped lines are joined are the page reader's rules
(`ingest.loaders.pdf`); they are passed in as `is_heading` and `join`.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["pdf"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import re
from collections.abc import Callable

from ingest.loaders.base import Part

_CELL = re.compile(r"\S+(?: {1,2}\S+)*")  # layout mode: cells are 3+ spaces apart
_ALIGN = 1  # layout columns: a full row's cells may start this many characters off


def layout_grids(layout: str, is_heading: Callable[[str], int]) -> list[list[list[str]]]:
    """Grids in a page's layout-mode text: lists of lines, each a list of cells by column, ""
    where a line has nothing in a column.

    A grid starts at a line of two or more cells (text 3+ spaces apart) and goes on while lines
    put their cells at those columns without running into the next one; blank lines in between
    are allowed. A line filling only some columns (a wrapped cell) must start exactly on them,
    and a heading-like one at the end belongs to the text below. A grid needs a second line of
    two or more cells.
    """
    grids: list[list[list[str]]] = []
    columns: list[int] = []
    grid: list[list[str]] = []
    for line in [*layout.split("\n"), "end"]:
        if not line.strip():
            continue
        cells = [(m.start(), m.end(), " ".join(m.group().split())) for m in _CELL.finditer(line)]
        slots = _slots(cells, columns)
        if slots is not None:
            grid.append(slots)
            continue
        while grid and sum(map(bool, grid[-1])) == 1 and is_heading("".join(grid[-1])):
            grid.pop()
        if sum(sum(map(bool, slots)) >= 2 for slots in grid) >= 2:
            grids.append(grid)
        columns = [start for start, _, _ in cells] if len(cells) >= 2 else []
        grid = [[text for _, _, text in cells]] if columns else []
    return grids


def _slots(cells: list[tuple[int, int, str]], columns: list[int]) -> list[str] | None:
    """The line's cells placed in `columns`, or None when they do not line up."""
    if not columns:
        return None
    slots = [""] * len(columns)
    align = _ALIGN if len(cells) == len(columns) else 0
    for start, end, text in cells:
        at = next((i for i, column in enumerate(columns) if abs(start - column) <= align), None)
        if at is None or slots[at] or (at + 1 < len(columns) and end >= columns[at + 1] - 1):
            return None
        slots[at] = text
    return slots


def find_tables(
    lines: list[str],
    layout: str,
    page: int,
    *,
    is_heading: Callable[[str], int],
    join: Callable[[list[str]], str],
) -> dict[int, tuple[int, Part]]:
    """Table parts for the grids found in the plain lines, by first line: (line after the
    table, table)."""
    found: dict[int, tuple[int, Part]] = {}
    taken: set[int] = set()
    for grid in layout_grids(layout, is_heading):
        heads = {_compact(grid[0][0]), _compact("".join(grid[0]))}  # a cell, or the whole row
        for start, line in enumerate(lines):
            if start in taken or _compact(line) not in heads:
                continue
            if matched := _match_grid(lines, start, grid, join):
                end, rows = matched
                text = "\n".join(" | ".join(row) for row in rows)
                found[start] = (end, Part("table", text, page=page, header=" | ".join(rows[0])))
                taken.update(range(start, end))
                break
    return found


def _match_grid(
    lines: list[str], start: int, grid: list[list[str]], join: Callable[[list[str]], str]
) -> tuple[int, list[list[str]]] | None:
    """Read the plain lines from `start` as the grid's cells: (end, rows of cells), or None
    when a line is neither one cell line nor one whole line of the grid.

    Plain text gives a table cell by cell, row by row; the grid says which column each line
    is in. A line in a column left of the line before starts a new row, so a cell wrapped
    onto two lines stays one cell whether its row's other cells sit at its top or bottom.
    """
    spots: dict[str, list[list[tuple[int, int]]]] = {}  # text -> (grid line, column) groups
    for number, slots in enumerate(grid):
        filled = [(number, column) for column, cell in enumerate(slots) if cell]
        for spot in filled:
            spots.setdefault(_compact(slots[spot[1]]), []).append([spot])
        if len(filled) > 1:  # some PDFs give a whole row as one plain line
            spots.setdefault(_compact("".join(slots)), []).append(filled)
    total = sum(len(group) for groups in spots.values() for group in groups if len(group) == 1)
    used: set[tuple[int, int]] = set()
    rows: list[list[str]] = []
    previous = end = start
    while len(used) < total:
        if end == len(lines):
            return None
        line, end = lines[end], end + 1
        if not line:
            continue
        candidates = spots.get(_compact(line), [])
        group = next((group for group in candidates if used.isdisjoint(group)), None)
        if group is None:
            return None
        used.update(group)
        for number, column in group:
            cell = line if len(group) == 1 else grid[number][column]
            if not rows or column < previous:
                rows.append([""] * len(grid[0]))
            rows[-1][column] = join([rows[-1][column], cell]) if rows[-1][column] else cell
            previous = column
    return end, rows


def _compact(text: str) -> str:
    return "".join(text.split())
