"""Candidate answer units of the top passages, as the selector's features see them.

Shared by the extractive generator and the training script (`scripts/train_reader.py`), so
the model is trained on exactly the candidates it scores at run time.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragkit.reader.features import Candidate
from ragkit.text.segment import Unit, segment
from ragkit.types import Hit


def top_passages(hits: Sequence[Hit], max_passages: int) -> list[int]:
    """Indices of the best `max_passages` hits: by score, then rank, then given order."""
    order = sorted(range(len(hits)), key=lambda i: (-hits[i].score, hits[i].rank, i))
    return order[:max_passages]


def unit_text(unit: Unit, hits: Sequence[Hit]) -> str:
    """The unit's text; a table row under its header line."""
    body = hits[unit.hit].chunk.text[unit.start : unit.end]
    return f"{unit.header.splitlines()[0]}\n{body}" if unit.header else body


def build_candidates(hits: Sequence[Hit], max_passages: int) -> tuple[list[Unit], list[Candidate]]:
    """Every unit of the top passages, in passage order, with its `Candidate` view."""
    units: list[Unit] = []
    candidates: list[Candidate] = []
    order = top_passages(hits, max_passages)
    # the earliest retrieved passage of each document: where a handbook states its general
    # rule, before the exceptions and details of later sections
    earliest: dict[str, int] = {}
    for i in sorted(order, key=lambda i: hits[i].chunk.start):
        earliest.setdefault(hits[i].chunk.source, i)
    for rank, i in enumerate(order, start=1):
        chunk_units = segment(hits[i].chunk.text, i)
        for index, unit in enumerate(chunk_units):
            units.append(unit)
            candidates.append(
                Candidate(
                    unit_text(unit, hits),
                    hits[i].chunk.context,
                    rank,
                    index,
                    len(chunk_units),
                    unit.kind,
                    earliest[hits[i].chunk.source] == i,
                )
            )
    return units, candidates


def passages_text(hits: Sequence[Hit]) -> str:
    """All retrieved text with titles, headings and sources: what the documents said here."""
    return "\n".join(f"{h.chunk.source}\n{h.chunk.context}\n{h.chunk.text}" for h in hits)


def passage_texts_to_embed(hits: Sequence[Hit], max_passages: int) -> list[tuple[int, str]]:
    """(hit index, text) of the top passages whose cosine with the question is not known
    (`Hit.dense_score` is None: BM25-only retrieval, hand-built hits): embed these."""
    return [
        (i, hits[i].chunk.embedding_text)
        for i in top_passages(hits, max_passages)
        if hits[i].dense_score is None
    ]


def passage_cosine(hits: Sequence[Hit], max_passages: int, computed: dict[int, float]) -> float:
    """The best cosine of the question with a top passage: the retriever's, else `computed`."""
    values = []
    for i in top_passages(hits, max_passages):
        score = hits[i].dense_score
        values.append(float(score) if score is not None else computed.get(i, 0.0))
    return max(values, default=0.0)
