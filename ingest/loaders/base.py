"""What every loader shares: the options it gets, the parts it emits, and how parts become a
`Document` whose blocks partition its text.

A format module only has to turn its file into a flat sequence of `Part`s (a heading with a
level, or a paragraph / list / table / code block). `assemble` does the rest in one place: it
keeps the heading path, joins the parts with blank lines, records each block's offsets and
picks the title, so the offset invariant `text[b.start:b.end] == b.text` holds for every format.
"""

# A change here that alters what a loader extracts from the same bytes bumps the version of
# every loader whose output it changes (LOADER_VERSIONS in ingest/loaders/__init__.py), or
# indexes keep the old extraction of unchanged files.

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ragkit.errors import LoadError
from ragkit.index.records import Block, BlockKind, Document

log = logging.getLogger("ingest.loaders")

SEPARATOR = "\n\n"  # between blocks in Document.text


@dataclass(frozen=True)
class LoadOptions:
    """Per-call settings passed to every loader."""

    passwords: tuple[str, ...] = ()
    # Non-fatal problems ("page 3 skipped: ..."); the caller decides how to show them.
    warn: Callable[[str], None] = field(default=lambda message: log.warning("%s", message))


@dataclass(frozen=True)
class Part:
    """One unit of a document before offsets are known. `level` is for headings (0 = title)."""

    kind: BlockKind
    text: str
    level: int = 0
    page: int | None = None
    header: str | None = None
    page_end: int | None = None  # last page of a part that a page break cut (PDF)
    ocr_confidence: float | None = None  # 0-1, for text read by OCR from a page image


def assemble(
    source: str,
    parts: Iterable[Part],
    *,
    title: str | None = None,
    fallback_title: str | None = None,
    pages: int | None = None,
    metadata: dict[str, Any] | None = None,
    groups: Sequence[str] = (),
    title_from_headings: bool = True,
    language: str | None = None,
) -> Document:
    """Build a Document from parts; raise LoadError when nothing readable is left.

    Title order: `title` (front matter) > first title/H1 heading > `fallback_title` (DOCX core
    title, HTML <title>) > the file name made readable. Formats whose headings are guessed
    (PDF) pass `title_from_headings=False`.
    """
    chunks: list[str] = []
    blocks: list[Block] = []
    stack: list[tuple[int, str]] = []  # (level, heading text), outermost first
    first_h1: str | None = None
    offset = 0
    for part in parts:
        text = part.text.strip("\n").rstrip()
        if not text.strip():
            continue
        if part.kind == "heading":
            text = " ".join(text.split())
            while stack and stack[-1][0] >= part.level:
                stack.pop()
            stack.append((part.level, text))
            if first_h1 is None and part.level <= 1 and title_from_headings:
                first_h1 = text
        header = part.header if part.header and text.startswith(part.header) else None
        if chunks:
            offset += len(SEPARATOR)
        chunks.append(text)
        path = tuple(heading for _, heading in stack)
        blocks.append(
            Block(
                part.kind,
                text,
                offset,
                offset + len(text),
                part.page,
                path,
                header,
                page_end=part.page_end,
                ocr_confidence=part.ocr_confidence,
            )
        )
        offset += len(text)
    if not blocks:
        raise LoadError(source, "no text found in the file")
    doc_title = _first_nonblank(title, first_h1, fallback_title) or humanise(source)
    return Document(
        source=source,
        title=doc_title,
        text=SEPARATOR.join(chunks),
        blocks=tuple(blocks),
        pages=pages,
        metadata=json_safe(metadata or {}),
        groups=tuple(groups),
        language=language,
    )


def _first_nonblank(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip():
            return " ".join(value.split())
    return None


def humanise(source: str) -> str:
    """'hr/parental_leave.md' -> 'Parental leave'; an index/README page takes its folder's name."""
    path = PurePosixPath(source.split("#", 1)[0])
    stem = path.stem
    if stem.lower() in {"index", "_index", "readme"} and path.parent.name:
        stem = path.parent.name
    words = re.sub(r"[_\-\s]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else source


def json_safe(value: Any) -> Any:
    """Front matter may hold dates and other YAML types; keep metadata plain JSON."""
    return json.loads(json.dumps(value, default=str))


# ---- text decoding (Markdown, plain text, HTML) ----

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def read_text(path: Path, source: str, options: LoadOptions, *, declared: str | None = None) -> str:
    """Decode a text file: BOM, else UTF-8, else `declared` (e.g. an HTML meta charset), else
    cp1252 (a superset of latin-1's printable range), else latin-1, which cannot fail.

    Deterministic on purpose: a guesser picks odd code pages for short files, while nearly all
    non-UTF-8 office text is cp1252/latin-1. Newlines are normalised to '\\n'.
    """
    data = path.read_bytes()
    if not data.strip():
        raise LoadError(source, "empty file")
    text = _decode(data, options, declared)
    if text is None or _looks_binary(text):
        raise LoadError(source, "binary data, not text (is the extension wrong?)")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoadError(source, "empty file")
    return text


def _decode(data: bytes, options: LoadOptions, declared: str | None) -> str | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    if b"\x00" in data[:8192]:
        return None  # NUL bytes without a UTF-16/32 BOM: not text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in (declared, "cp1252", "latin-1"):
        if not codec:
            continue
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        options.warn(f"not valid UTF-8; decoded as {codec}")
        return text
    return None  # unreachable: latin-1 decodes any bytes


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    return len(_CONTROL.findall(sample)) > max(8, len(sample) // 20)
