"""Grade one answer: the metrics of a results.jsonl record, and whether it is correct.

Everything here is offline and deterministic (token overlap, containment, citation checks
against the passages the generator saw); the optional LLM judge is in `ragkit.eval.judge`. The
rule for "correct" (`is_correct`, `F1_CORRECT`) is also quoted in the report's notes.
"""

from __future__ import annotations

from typing import Any

from ragkit.eval import metrics as m
from ragkit.eval.items import EvalItem
from ragkit.index.records import Chunk
from ragkit.types import Answer

F1_CORRECT = 0.5  # an answer without must_contain strings is correct at token F1 >= this


def cited_chunks(answer: Answer) -> list[tuple[Any, list[Chunk]]]:
    """Each citation with the passage chunk(s) it can refer to (by id, else by source and page)."""
    passages = [hit.chunk for hit in answer.passages]
    by_id = {chunk.chunk_id: chunk for chunk in passages}
    out = []
    for citation in answer.citations:
        if citation.chunk_id:
            found = [by_id[citation.chunk_id]] if citation.chunk_id in by_id else []
        else:
            found = [
                c
                for c in passages
                if c.source == citation.source
                and (citation.page is None or c.page == citation.page)
            ]
        out.append((citation, found))
    return out


def answer_record(item: EvalItem, answer: Answer) -> dict[str, Any]:
    text = "" if answer.abstained else answer.text  # an abstention is SQuAD's empty answer
    graded = not item.answerable or bool(item.answers)
    f1 = m.max_f1(item.answers, text) if graded else None
    contains_answer = (
        m.answer_contained(item.answers, text) if item.answerable and item.answers else None
    )
    must = (
        m.contains_all(text, item.must_contain) if item.answerable and item.must_contain else None
    )
    citations = cited_chunks(answer)
    valid = [any(m.citation_valid(c.quote, ch.text) for ch in found) for c, found in citations]
    cited_texts = list({ch.chunk_id: ch.text for _, found in citations for ch in found}.values())
    return {
        "answer": answer.text,
        "abstained": bool(answer.abstained),
        "citations": [{**c.to_json(), "chunk_id": c.chunk_id} for c in answer.citations],
        "passages": [
            {
                "rank": r,
                "chunk_id": h.chunk.chunk_id,
                "source": h.chunk.source,
                "page": h.chunk.page,
            }
            for r, h in enumerate(answer.passages, start=1)
        ],
        "em": m.max_exact(item.answers, text) if graded else None,
        "f1": None if f1 is None else round(f1, 6),
        "contains_answer": contains_answer,
        "must_contain": must,
        "must_contain_share": (
            m.contains_share(text, item.must_contain)
            if item.answerable and item.must_contain
            else None
        ),
        "groundedness": None if answer.abstained else m.groundedness(answer.text, cited_texts),
        "n_citations": len(valid),
        "valid_citations": sum(valid),
        "correct": is_correct(item, bool(answer.abstained), contains_answer, must, f1),
    }


def is_correct(
    item: EvalItem,
    abstained: bool,
    contains_answer: bool | None,
    must_contain: bool | None,
    f1: float | None,
) -> bool | None:
    """Unanswerable: right when it abstained. Answerable: wrong when it abstained; else every
    must_contain string present when the item has some; else a gold answer contained in the
    answer or token F1 >= 0.5 (containment, because an extractive answer quotes a whole
    sentence around a short SQuAD span). None when there is nothing to grade against."""
    if not item.answerable:
        return abstained
    if abstained:
        return False
    if must_contain is not None:
        return must_contain
    if f1 is None:
        return None
    return bool(contains_answer) or f1 >= F1_CORRECT
