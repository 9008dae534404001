"""DOCX via python-docx: body paragraphs and tables in document order.

The body's XML children are walked directly (python-docx's `paragraphs` and `tables` lists
lose their interleaving), descending into content controls (`w:sdt`), which is where Word
puts tables of contents and form fields. "Title" and "Heading N" styles (or custom styles
based on them) build the heading path; "List ..." styles and numbered paragraphs are grouped
into one list block; a table becomes "cell | cell" lines with its first row as the header.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["docx"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.loaders.base import LoadOptions, Part, assemble
from ragkit.errors import LoadError
from ragkit.index.records import Document

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table
    from docx.text.paragraph import Paragraph


def load(path: Path, source: str, options: LoadOptions) -> list[Document]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    if path.stat().st_size == 0:
        raise LoadError(source, "empty file")
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError) as exc:
        raise LoadError(
            source,
            "not a valid .docx file; if it is an old .doc or another format, save it as .docx",
        ) from exc
    core_title = document.core_properties.title or None
    return [assemble(source, body_parts(document), fallback_title=core_title)]


def body_parts(document: DocxDocument) -> list[Part]:
    from docx.table import Table

    parts: list[Part] = []
    items: list[str] = []
    numbers: dict[int, int] = {}  # list level -> last number used, for "List Number" styles

    def end_list() -> None:
        if items:
            parts.append(Part("list", "\n".join(items)))
            items.clear()
            numbers.clear()

    for element in _body_elements(document):
        if isinstance(element, Table):
            end_list()
            parts.extend(table_part(element))
            continue
        text = re.sub(r"[ \t]+", " ", element.text).strip()
        if not text:
            continue
        style = element.style
        level = heading_level(style)
        list_level = _list_level(element, style) if level is None else None
        if level is not None:
            end_list()
            parts.append(Part("heading", text, level=level))
        elif list_level is not None:
            numbered = "Number" in (style.name or "") if style is not None else False
            for deeper in [key for key in numbers if key > list_level]:
                del numbers[deeper]
            numbers[list_level] = numbers.get(list_level, 0) + 1
            marker = f"{numbers[list_level]}." if numbered else "-"
            items.append(f"{'  ' * list_level}{marker} {text}")
        else:
            end_list()
            parts.append(Part("paragraph", text))
    end_list()
    return parts


def _body_elements(document: DocxDocument) -> Iterator[Paragraph | Table]:
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    body = document._body  # the block container python-docx uses as the parent of its items

    def walk(container: Any) -> Iterator[Paragraph | Table]:
        for child in container.iterchildren():
            if child.tag == qn("w:p"):
                yield Paragraph(child, body)
            elif child.tag == qn("w:tbl"):
                yield Table(child, body)
            elif child.tag == qn("w:sdt"):
                content = child.find(qn("w:sdtContent"))
                if content is not None:
                    yield from walk(content)

    yield from walk(document.element.body)


def heading_level(style: Any) -> int | None:
    """0 for Title, N for Heading N (following `base_style` for custom styles), else None."""
    for _ in range(5):
        if style is None:
            return None
        name = style.name or ""
        if name == "Title":
            return 0
        match = re.fullmatch(r"[Hh]eading ?(\d)", name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _list_level(paragraph: Paragraph, style: Any) -> int | None:
    properties = paragraph._p.pPr
    numbering = properties.numPr if properties is not None else None
    if numbering is not None and numbering.ilvl is not None and numbering.ilvl.val is not None:
        return int(numbering.ilvl.val)
    name = (style.name or "") if style is not None else ""
    if numbering is None and not (name == "List" or name.startswith("List ")):
        return None
    depth = re.search(r"(\d)$", name)
    return int(depth.group(1)) - 1 if depth else 0


def table_part(table: Table) -> list[Part]:
    lines: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell is repeated once per grid column it spans
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    if not lines:
        return []
    return [Part("table", "\n".join(lines), header=lines[0])]
