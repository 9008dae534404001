"""Plain text: paragraphs split on blank lines, with light heading and list detection.

Headings are lines underlined with ==== (level 1) or ---- (level 2), or short UPPERCASE lines
(level 2). A paragraph whose first line starts with a bullet or a number ("- ", "* ", "• ",
"1. ") is a list, and neighbouring list paragraphs are kept as one list block.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["text"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders.base import LoadOptions, Part, assemble, read_text
from ragkit.index.records import Document

_UNDERLINE = re.compile(r"^\s*(=+|-+)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•◦▪‣]|\d{1,3}[.)]|[a-zA-Z][.)])\s+\S")


def load(path: Path, source: str, options: LoadOptions) -> list[Document]:
    text = read_text(path, source, options)
    return [assemble(source, parse_text(text))]


def parse_text(text: str) -> list[Part]:
    parts: list[Part] = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        lines = [line.rstrip() for line in paragraph.split("\n") if line.strip()]
        while lines:
            if len(lines) >= 2 and len(lines[1].strip()) >= 3 and _UNDERLINE.match(lines[1]):
                level = 1 if lines[1].strip().startswith("=") else 2
                parts.append(Part("heading", lines[0].strip(), level=level))
                lines = lines[2:]
            elif is_upper_heading(lines[0]):
                parts.append(Part("heading", lines[0].strip(), level=2))
                lines = lines[1:]
            else:
                _add_body(parts, "\n".join(lines))
                break
    return parts


def _add_body(parts: list[Part], body: str) -> None:
    kind = "list" if _LIST_ITEM.match(body) else "paragraph"
    if kind == "list" and parts and parts[-1].kind == "list":
        parts[-1] = Part("list", f"{parts[-1].text}\n{body}")
    else:
        parts.append(Part(kind, body))


def is_upper_heading(line: str) -> bool:
    """'ANNUAL LEAVE' or '3. EXPENSES' yes; 'NOTE: ALL CLAIMS NEED RECEIPTS.' no (a sentence)."""
    stripped = line.strip()
    letters = [c for c in stripped if c.isalpha()]
    return (
        len(letters) >= 2
        and len(stripped) <= 80
        and len(stripped.split()) <= 10
        and all(c.isupper() for c in letters)
        and not stripped.endswith((".", ",", ";", "!", "?"))
    )
