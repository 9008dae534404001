"""PDFs drawn with reportlab for the layout tests: styled headings, running headers and footers,
a sentence cut by a page break, and two columns of prose stored row by row.

Each page is a list of (kind, text) lines: "title" a 20 pt bold title, "h" a 14 pt bold
heading, "h2" a 13 pt bold subheading, "p" an 11 pt body line, "b" an 11 pt bold body line,
"low" an 11 pt body line at the foot of the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

A4 = (595.2756, 841.8898)
_BOLD_SIZES = {"title": 20, "h": 14, "h2": 13, "b": 11}  # points


def styled_pdf(
    path: Path,
    pages: Sequence[Sequence[tuple[str, str]]],
    *,
    header: str | None = None,
    footer: str | None = "Page {n} of {total}",
    body_bottom: float = 90.0,
) -> None:
    """Lines flow down from the top of each page; `footer` may use {n} and {total}."""
    canvas_module = pytest.importorskip("reportlab.pdfgen.canvas", reason="pip install reportlab")
    canvas = canvas_module.Canvas(str(path), pagesize=A4, invariant=1)
    for n, lines in enumerate(pages, start=1):
        if header:
            canvas.setFont("Helvetica", 8)
            canvas.drawString(72, A4[1] - 40, header)
        if footer:
            canvas.setFont("Helvetica", 8)
            canvas.drawString(72, 40, footer.format(n=n, total=len(pages)))
        y = A4[1] - 90
        for kind, text in lines:
            if kind in _BOLD_SIZES:
                y -= 10 if kind != "b" else 0
                canvas.setFont("Helvetica-Bold", _BOLD_SIZES[kind])
            else:
                canvas.setFont("Helvetica", 11)
            if kind == "low":
                y = body_bottom  # a line at the foot of the page, above the footer
            canvas.drawString(72, y, text)
            y -= 25 if kind in ("title", "h", "h2") else 15
        canvas.showPage()
    canvas.save()


def two_column_pdf(
    path: Path, title: str, left: Sequence[str], right: Sequence[str], *, row_by_row: bool = True
) -> None:
    """A full-width 16 pt title over two columns of 10 pt prose. `row_by_row` draws line 1 of
    the left column, then line 1 of the right, and so on, as some exporters store them."""
    canvas_module = pytest.importorskip("reportlab.pdfgen.canvas", reason="pip install reportlab")
    canvas = canvas_module.Canvas(str(path), pagesize=A4, invariant=1)
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(56, A4[1] - 70, title)
    canvas.setFont("Helvetica", 10)
    top = A4[1] - 110
    draws = []
    for column, (x, lines) in enumerate(((56, left), (310, right))):
        draws += [(i, column, x, top - 13 * i, line) for i, line in enumerate(lines)]
    if row_by_row:
        draws.sort()
    for _, _, x, y, line in draws:
        canvas.drawString(x, y, line)
    canvas.showPage()
    canvas.save()
