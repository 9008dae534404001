"""HTML: BeautifulSoup (html.parser) walked into headings, paragraphs, lists, code and tables.

Page furniture (script, style, nav, footer and friends) is dropped. Text inside a block is
whitespace-collapsed, <br> becomes a line break, list items become "- item" / "1. item" lines
(nested lists indented), and table rows become "cell | cell" lines with the <th> row as header.
`html_parts` is also used by the Markdown loader for raw HTML blocks.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag

from ingest.loaders.base import LoadOptions, Part, assemble, read_text
from ragkit.index.records import Document

SKIP = frozenset(
    {"script", "style", "nav", "footer", "noscript", "template", "svg", "head", "iframe", "form"}
)
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
CONTAINERS = frozenset(
    {
        "html", "body", "main", "article", "section", "div", "p", "blockquote", "header", "aside",
        "figure", "figcaption", "details", "summary", "dl", "dt", "dd", "center", "address",
        "li", "tbody", "thead", "tfoot", "tr", "td", "th", "caption",
    }
)  # fmt: skip
SPECIAL = frozenset({"ul", "ol", "pre", "table", *HEADINGS})
_BREAKS = CONTAINERS | SPECIAL | {"br"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


def load(path: Path, source: str, options: LoadOptions) -> list[Document]:
    match = _CHARSET.search(path.read_bytes()[:4096])
    declared = match.group(1).decode("ascii") if match else None
    soup = BeautifulSoup(read_text(path, source, options, declared=declared), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    return [assemble(source, walk(soup.body or soup), fallback_title=title)]


def html_parts(fragment: str) -> list[Part]:
    """Parts for an HTML fragment (e.g. a raw <table> inside Markdown)."""
    return walk(BeautifulSoup(fragment, "html.parser"))


def walk(root: Tag) -> list[Part]:
    walker = _Walker()
    walker.visit(root)
    walker.flush()
    return walker.parts


class _Walker:
    """Depth-first walk; loose inline text is buffered until a block boundary flushes it."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.inline: list[str] = []

    def flush(self) -> None:
        lines = (" ".join(line.split()) for line in "".join(self.inline).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            self.parts.append(Part("paragraph", text))
        self.inline = []

    def visit(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, doctype or CDATA
                    self.inline.append(child.replace("\n", " "))
                continue
            if not isinstance(child, Tag) or child.name in SKIP:
                continue
            name = child.name
            if name == "br":
                self.inline.append("\n")
            elif name in HEADINGS:
                self.flush()
                self.parts.append(Part("heading", inline_text(child), level=HEADINGS[name]))
            elif name in ("ul", "ol"):
                self.flush()
                self.parts.append(Part("list", "\n".join(list_lines(child, 0))))
            elif name == "pre":
                self.flush()
                self.parts.append(Part("code", child.get_text().strip("\n")))
            elif name == "table":
                self.flush()
                self.parts.extend(table_part(child))
            elif name in CONTAINERS or child.find(SPECIAL | CONTAINERS) is not None:
                self.flush()
                self.visit(child)
                self.flush()
            else:
                self.inline.append(inline_text(child, collapse=False))


def inline_text(tag: Tag, *, collapse: bool = True) -> str:
    """Text of a tag; block-level children and <br> are separated by a space, not glued."""
    out: list[str] = []
    for node in tag.descendants:
        if isinstance(node, NavigableString):
            if type(node) is NavigableString and node.parent.name not in SKIP:
                out.append(str(node))
        elif isinstance(node, Tag) and node.name in _BREAKS:
            out.append(" ")
    text = "".join(out)
    return " ".join(text.split()) if collapse else text.replace("\n", " ")


def list_lines(list_tag: Tag, depth: int) -> list[str]:
    lines: list[str] = []
    for number, item in enumerate(list_tag.find_all("li", recursive=False), start=1):
        nested = [sub for sub in item.find_all(["ul", "ol"]) if sub.find_parent("li") is item]
        for sub in nested:
            sub.extract()  # our own parse tree: detach so the item text excludes sub-items
        marker = f"{number}." if list_tag.name == "ol" else "-"
        text = inline_text(item)
        if text:
            lines.append(f"{'  ' * depth}{marker} {text}")
        for sub in nested:
            lines.extend(list_lines(sub, depth + 1))
    return lines


def table_part(table: Tag) -> list[Part]:
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    lines: list[str] = []
    header: str | None = None
    for index, row in enumerate(rows):
        cells = row.find_all(["td", "th"], recursive=False)
        line = " | ".join(inline_text(cell) for cell in cells)
        if not line.replace("|", "").strip():
            continue
        in_thead = row.find_parent("thead") is not None
        is_header = in_thead or all(cell.name == "th" for cell in cells)
        if index == 0 and is_header:
            header = line
        lines.append(line)
    return [Part("table", "\n".join(lines), header=header)] if lines else []
