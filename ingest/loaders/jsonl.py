"""JSONL corpora in BEIR shape: one `{"_id", "title", "text", "metadata"?}` record per line.

Each record becomes a Document with source "FILE.jsonl#<_id>", its text split into paragraphs
on blank lines. A record may declare its language (`"language": "pt-BR"` or `"lang"`, at the
top level or in `metadata`), as Markdown front matter can; it is then not detected (lingua
costs a few milliseconds per record, most of a large corpus's ingest time). Bad lines
(invalid JSON, no `_id`, no text, a repeated `_id`) are skipped and reported in one warning
naming their line numbers; a file with no good line is a LoadError.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["jsonl"]
# (ingest/loaders/__init__.py), or indexes keep the old extraction of unchanged files.

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ingest.loaders.base import SEPARATOR, LoadOptions, json_safe
from ingest.loaders.markdown import declared_language
from ragkit.errors import LoadError
from ragkit.index.records import Block, Document
from ragkit.strict import loads_json

_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")
_SHOWN = 5  # bad lines named in a message; the rest are counted


def load(path: Path, source: str, options: LoadOptions) -> list[Document]:
    documents: list[Document] = []
    bad: list[tuple[int, str]] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = loads_json(line)
            except ValueError as exc:
                bad.append((number, f"invalid JSON ({getattr(exc, 'msg', exc)})"))
                continue
            problem = _check(record, seen)
            if problem:
                bad.append((number, problem))
                continue
            seen.add(str(record["_id"]))
            documents.append(record_document(record, source))
    if not documents:
        if not bad:
            raise LoadError(source, "empty file")
        raise LoadError(
            source, f"no usable records: expected BEIR lines with '_id' and 'text'; {_summary(bad)}"
        )
    if bad:
        options.warn(f"skipped {len(bad)} bad line(s): {_summary(bad)}")
    return documents


def _check(record: Any, seen: set[str]) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    record_id = record.get("_id")
    if not isinstance(record_id, str | int) or isinstance(record_id, bool) or record_id == "":
        return "missing '_id'"
    text, title = record.get("text"), record.get("title")
    if not isinstance(text, str) or not (text.strip() or isinstance(title, str) and title.strip()):
        return "missing 'text'"
    if str(record_id) in seen:
        return f"repeated _id {record_id!r}"
    return None


def record_document(record: dict[str, Any], source: str) -> Document:
    record_id = str(record["_id"])
    raw_title = record.get("title")
    title = raw_title.strip() if isinstance(raw_title, str) and raw_title.strip() else record_id
    # Some BEIR corpora have title-only records; the title is then the only text there is.
    body = record["text"].strip() or title
    paragraphs = [p.strip() for p in _BLANK_LINES.split(body) if p.strip()]
    blocks: list[Block] = []
    offset = 0
    for paragraph in paragraphs:
        blocks.append(Block("paragraph", paragraph, offset, offset + len(paragraph)))
        offset += len(paragraph) + len(SEPARATOR)
    metadata = record.get("metadata")
    language = declared_language(record) or (
        declared_language(metadata) if isinstance(metadata, dict) else None
    )
    return Document(
        source=f"{source}#{record_id}",
        title=title,
        text=SEPARATOR.join(paragraphs),
        blocks=tuple(blocks),
        metadata=json_safe(metadata) if isinstance(metadata, dict) else {},
        language=language,
    )


def _summary(bad: list[tuple[int, str]]) -> str:
    shown = ", ".join(f"line {number}: {why}" for number, why in bad[:_SHOWN])
    more = f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    return shown + more
