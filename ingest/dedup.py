"""Identical chunk texts stored once, carrying every place they occur.

A byte-identical copy of a policy under another name would otherwise fill two of the k
result slots with the same text, pushing out the second fact a question needs. Before a
write, chunks with the same text and the same access groups are merged into the first of
them (in source order), the others riding along in its `also`; on reading, `expand` gives
every chunk back, so per-file bookkeeping (manifest `chunk_ids`) is unchanged. Chunks with
different groups are never merged: a hit must never name a source the asker cannot read.

    merge(chunks) -> stored chunks        expand(stored) -> every chunk, duplicates included
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from ragkit.index.records import Chunk
from ragkit.index.records import expand as expand_stored


def merge(chunks: Sequence[Chunk]) -> list[Chunk]:
    """One chunk per (text, groups), in first-occurrence order, carrying the rest in `also`."""
    first: dict[tuple[str, tuple[str, ...]], int] = {}
    others: dict[int, list[Chunk]] = {}
    stored: list[Chunk] = []
    for chunk in expand(chunks):
        key = (chunk.text, chunk.groups)
        if key in first:
            others.setdefault(first[key], []).append(dataclasses.replace(chunk, text=""))
        else:
            first[key] = len(stored)
            stored.append(chunk)
    for row, extra in others.items():
        stored[row] = dataclasses.replace(stored[row], also=tuple(extra))
    return stored


def expand(stored: Iterable[Chunk]) -> list[Chunk]:
    """Every chunk a stored list stands for: each stored chunk, then its duplicates (text
    restored)."""
    return expand_stored(stored)


def duplicate_files(hashes: dict[str, str]) -> list[str]:
    """Sources whose content hash equals an earlier source's (in sorted order): copies."""
    seen: set[str] = set()
    copies = []
    for source in sorted(hashes):
        if hashes[source] in seen:
            copies.append(source)
        seen.add(hashes[source])
    return copies
