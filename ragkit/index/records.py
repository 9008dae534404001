"""Records passed between the ingestion stages: loader -> chunker -> embedder -> store.

A loader turns one file into `Document`s made of `Block`s (a paragraph, a list, a table, a
code block), each block knowing its page and heading path. The chunker packs blocks into
`Chunk`s sized in embedding-model tokens. Ids are derived from content, so the same text
from the same source always gets the same id and unchanged content is never re-embedded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

BlockKind = Literal["heading", "paragraph", "list", "table", "code"]


@dataclass(frozen=True)
class Block:
    """One structural unit of a document's text.

    `start`/`end` are character offsets into `Document.text`, so a citation can point at the
    exact span. For tables, `header` holds the header row(s) as text so the chunker can repeat
    it at the top of each piece when a table has to be split.
    """

    kind: BlockKind
    text: str
    start: int
    end: int
    page: int | None = None  # 1-based; None for formats without pages
    headings: tuple[str, ...] = ()  # heading path, outermost first
    header: str | None = None  # tables only
    page_end: int | None = None  # last page when the block runs on past `page` (PDF)
    ocr_confidence: float | None = None  # 0-1, when the text was read by OCR (PDF scans)


@dataclass(frozen=True)
class Document:
    """A loaded document: its full text and the blocks that partition it."""

    source: str  # path relative to the ingest root, forward slashes; "FILE.jsonl#<_id>" for records
    title: str
    text: str
    blocks: tuple[Block, ...]
    pages: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()  # access groups declared by the document itself (front matter)
    # Declared language ("pt", "pt-BR": front matter lang, <html lang>); None = detect it.
    language: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A retrievable, citable piece of a document."""

    chunk_id: str
    source: str
    title: str
    text: str
    start: int  # character offsets into the document text
    end: int
    page: int | None
    headings: tuple[str, ...]
    doc_hash: str
    groups: tuple[str, ...] = ()  # empty means everyone may read it
    page_end: int | None = None  # last page when the chunk spans pages
    # Mean Tesseract word confidence (0-1) when the text was read by OCR from a page image.
    ocr_confidence: float | None = None
    # ISO 639-1 code of the document's language ("en", "pt", "zh"); None when it could not be
    # told (too little text) and in indexes written before languages were detected.
    language: str | None = None
    # The same text (with the same groups) elsewhere: stored once, it carries every place it
    # occurs (records with an empty `text`), so one hit lists them all.
    also: tuple[Chunk, ...] = ()

    @property
    def section(self) -> str:
        return " > ".join(self.headings)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every source holding this text: this chunk's first, then its duplicates'."""
        return tuple(dict.fromkeys([self.source, *(other.source for other in self.also)]))

    @property
    def context(self) -> str:
        """Title and heading path: where the chunk sits, prepended when it is embedded."""
        return context_line(self.title, self.headings)

    @property
    def embedding_text(self) -> str:
        # A chunk alone ("Up to 10 days per year.") often omits its topic; the heading path
        # carries it, so it is embedded with the text. The chunker budgets tokens for it.
        return f"{self.context}\n{self.text}"

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["headings"] = list(self.headings)
        record["groups"] = list(self.groups)
        del record["also"]
        if self.also:  # absent when empty: chunk stores without duplicates stay as they were
            record["also"] = [
                {k: v for k, v in other.to_json().items() if k != "text"} for other in self.also
            ]
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Chunk:
        return cls(
            **{
                **record,
                "headings": tuple(record.get("headings", ())),
                "groups": tuple(record.get("groups", ())),
                "also": tuple(
                    cls.from_json({**other, "text": ""}) for other in record.get("also", ())
                ),
            }
        )


def expand(stored: Iterable[Chunk]) -> list[Chunk]:
    """Every chunk a list of stored chunks stands for: each one, then the duplicates it
    carries in `also` (their text restored), in that order."""
    chunks: list[Chunk] = []
    for chunk in stored:
        chunks.append(replace(chunk, also=()))
        chunks += [replace(other, text=chunk.text, also=()) for other in chunk.also]
    return chunks


def context_line(title: str, headings: tuple[str, ...]) -> str:
    path = list(headings)
    if path and path[0].strip().lower() == title.strip().lower():
        path = path[1:]  # an H1 that repeats the title adds nothing
    return " > ".join([title, *path])


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def chunk_id_for(source: str, text: str) -> str:
    """Content-derived id: sha256 of source and text, shortened (64 bits is plenty per index)."""
    return sha256_hex(f"{source}\x00{text}")[:16]


def readable_by(chunk_groups: tuple[str, ...] | list[str], asker_groups: frozenset[str]) -> bool:
    """A chunk with no groups is public; otherwise the asker needs at least one of its groups."""
    return not chunk_groups or bool(asker_groups.intersection(chunk_groups))
