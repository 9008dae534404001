"""HTML: the page's main content, found by trafilatura, walked with BeautifulSoup into headings,
paragraphs, lists, code and tables.

Main content: trafilatura (a maintained boilerplate remover, precision setting) picks the
article out of the page, so cookie banners, sidebars ("Popular pages"), menus and footers are
not indexed; its HTML output keeps headings, lists, tables and <pre>. A page that marks its
main content (<main>, <article>, role="main") gets trafilatura's pick however short. On other
pages, when it finds less than its own minimum (`min_extracted_size`, 250 characters; below
that trafilatura itself considers the extraction failed), the page has no main content to
speak of and the whole body is walked instead, minus page furniture (script, style, nav,
footer and friends). trafilatura is imported on the first HTML file (about 1 s).

The walk: text inside a block is whitespace-collapsed, <br> becomes a line break, list items
become "- item" / "1. item" lines (nested lists indented), and table rows become
"cell | cell" lines with the <th> row as header. `html_parts` (the walk alone) is also used
by the Markdown loader for raw HTML blocks, which are content by definition.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["html"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

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
    page = read_text(path, source, options, declared=declared)
    soup = BeautifulSoup(page, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    language = soup.html.get("lang") if soup.html else None
    marked = soup.find(["main", "article"]) or soup.find(attrs={"role": "main"})
    main = main_content(page, marked=marked is not None)
    parts = walk(BeautifulSoup(main, "html.parser")) if main else []
    if not parts:  # no main content: the whole body, minus furniture
        parts = walk(soup.body or soup)
    return [
        assemble(
            source,
            parts,
            fallback_title=title,
            language=language if isinstance(language, str) else None,
        )
    ]


def main_content(page: str, *, marked: bool = False) -> str | None:
    """The page's main content as HTML (headings, paragraphs, lists, tables, pre), or None
    when trafilatura finds none, or less than its own minimum (`min_extracted_size`
    characters) on a page that does not mark its main content (<main>, <article>,
    role="main")."""
    import trafilatura
    from trafilatura.settings import DEFAULT_CONFIG

    extracted = trafilatura.extract(
        page,
        output_format="html",
        favor_precision=True,  # a sidebar left in costs more than a marginal paragraph lost
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        deduplicate=False,
    )
    if not extracted:
        return None
    if marked:
        return extracted
    minimum = DEFAULT_CONFIG.getint("DEFAULT", "min_extracted_size")
    text = BeautifulSoup(extracted, "html.parser").get_text(" ", strip=True)
    return extracted if len(text) >= minimum else None


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
