"""The original of a cited document, for the web page's document view.

`GET /v1/documents/{source}` answers with what the index was built from, to askers whose
groups may read it, under the same rules as answers:

- a source the caller cannot read, an unknown one and one whose file is gone all get the same
  404, so the response never tells a restricted document exists;
- the file served is the one the index recorded at ingest (its resolved path), a regular file
  whose sha256 still equals the indexed one: a file edited since (maybe restricted since) is
  not served until it is ingested again;
- PDFs go out as they are (the page renders them with pdf.js), Markdown rendered to HTML
  (markdown-it-py, raw HTML off), HTML as it is but under a `sandbox` Content-Security-Policy
  so none of its scripts run, and everything else (text, DOCX, JSONL records) as the text the
  index holds: its chunks in order.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.index.protocols import IndexSnapshot
from ragkit.index.records import expand, readable_by
from ragkit.index.store import load_index

# A document is data, never a page of ours: no script, no plugin, no form, no network.
DOCUMENT_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; "
    "style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
}
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024


class DocumentNotFound(Exception):
    """Unknown, unreadable for these groups, gone or changed: the caller learns nothing more."""


@dataclass(frozen=True)
class DocumentBody:
    content: bytes
    media_type: str


def document_body(
    index_dir: Path,
    source: str,
    groups: frozenset[str],
    snapshot: IndexSnapshot | None = None,
) -> DocumentBody:
    """The document at `source` as the caller with `groups` may see it.

    `snapshot`: the generation the server answers from (a long-lived server passes its live
    one, so a request reads no index files); None: the live generation is loaded for this
    request. Raises DocumentNotFound for every reason it cannot be shown (module docstring).
    """
    if snapshot is None:
        snapshot = load_index(Path(index_dir))
        try:
            return document_body(index_dir, source, groups, snapshot)
        finally:
            snapshot.close()
    files: dict[str, Any] = snapshot.files
    file_source = source.split("#", 1)[0]  # a JSONL record's source is FILE.jsonl#<_id>
    entry = files.get(file_source)
    if not isinstance(entry, dict) or not readable_by(tuple(entry.get("groups", ())), groups):
        raise DocumentNotFound(source)
    suffix = Path(file_source).suffix.lower()
    if "#" in source or suffix not in (".pdf", ".md", ".markdown", ".html", ".htm"):
        return DocumentBody(_indexed_text(snapshot, entry, source, groups), "text/plain")
    data = _original(entry)
    if suffix == ".pdf":
        return DocumentBody(data, "application/pdf")
    if suffix in (".html", ".htm"):
        return DocumentBody(data, "text/html; charset=utf-8")
    return DocumentBody(_markdown_html(data.decode("utf-8", "replace")), "text/html")


def _original(entry: dict[str, Any]) -> bytes:
    """The recorded file's bytes, if it is still a regular file with the indexed content."""
    path = entry.get("path")
    if not isinstance(path, str):
        raise DocumentNotFound("indexed before paths were recorded: ingest it again")
    try:
        info = Path(path).lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_DOCUMENT_BYTES:
            raise DocumentNotFound(path)
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DocumentNotFound(path) from exc
    if hashlib.sha256(data).hexdigest() != entry.get("hash"):
        raise DocumentNotFound(f"{path} changed since it was indexed")
    return data


def _indexed_text(
    snapshot: IndexSnapshot, entry: dict[str, Any], source: str, groups: frozenset[str]
) -> bytes:
    """The text the index holds for `source` (or for every record of a JSONL file), in the
    file's chunk order; only that file's chunks are read."""
    ids = [cid for cid in entry.get("chunk_ids", ()) if isinstance(cid, str)]
    stored = snapshot.stored_with(ids, ())
    if stored is None:  # segments without row keys: read every chunk
        stored = snapshot.live_chunks()  # deleted (tombstoned) chunks are not text of it
    wanted = set(ids)
    by_id = {c.chunk_id: c for c in expand(stored) if c.chunk_id in wanted}
    pieces = [
        c.text
        for c in (by_id[cid] for cid in dict.fromkeys(ids) if cid in by_id)
        if (c.source == source or c.source.startswith(source + "#"))
        and readable_by(c.groups, groups)
    ]
    if not pieces:
        raise DocumentNotFound(source)
    return "\n\n".join(pieces).encode("utf-8")


def _markdown_html(text: str) -> bytes:
    from markdown_it import MarkdownIt

    if text.startswith("---\n"):  # YAML front matter is metadata, not content
        end = text.find("\n---", 4)
        if end >= 0:
            text = text[end + 4 :]
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return f'<!doctype html><meta charset="utf-8">\n{html}'.encode()
