"""Hand-built chunks and hit lists for the reader tests (test_reader_*.py): one passage of
our own per case, ranked in the order given, as a retriever would hand them to the reader."""

from __future__ import annotations

from ragkit.index.records import Chunk, chunk_id_for
from ragkit.types import Hit


def chunk(text: str, source: str, title: str, headings: tuple[str, ...] = ()) -> Chunk:
    """A one-chunk document `source` with this title and heading path (no page, offset 0)."""
    return Chunk(
        chunk_id_for(source, text), source, title, text, 0, len(text), None, headings, "0" * 8
    )


def source_chunk(text: str, source: str, headings: tuple[str, ...] = ()) -> Chunk:
    """`chunk` titled by the file name without folder or extension ("rh/feriados.md" ->
    "feriados"), as ingest titles a document with no title of its own."""
    return chunk(text, source, source.split("/")[-1].split(".")[0], headings)


def hits(*chunks: Chunk) -> list[Hit]:
    """The chunks as retrieved hits, ranked 1.. in the order given, scores 1/rank."""
    return [Hit(c, score=1.0 / n, rank=n) for n, c in enumerate(chunks, start=1)]
