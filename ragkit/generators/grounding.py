"""Turn a generated answer into a structured one: refusal detection and verifiable citations.

Language models cite passages as [n]. A citation is only useful if a reader can check it, so
each becomes the passage's source, page and section plus a verbatim quote: the sentence of
the cited passage that shares the most words with the answer sentence that cited it. Markers
pointing at passages that do not exist are dropped rather than trusted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragkit.types import REFUSAL, Answer, Citation, Hit

_MARKER = re.compile(r"\[(\d{1,2})\]")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
_WORD = re.compile(r"\w+")
_REFUSAL_CUES = (
    "don't cover this",
    "do not cover this",
    "doesn't cover",
    "does not cover",
    "not covered in the",
    "no information",
    "cannot find",
    "can't find",
)


def is_refusal(text: str) -> bool:
    lowered = text.strip().lower().replace("’", "'")
    return not lowered or any(cue in lowered for cue in _REFUSAL_CUES)


def best_quote(passage: str, claim: str) -> str:
    """The passage sentence sharing the most words with `claim`; verbatim from the passage."""
    claim_words = {w.lower() for w in _WORD.findall(claim)}
    best, best_overlap = "", -1
    for match in _SENTENCE.finditer(passage):
        sentence = match.group().strip()
        if not sentence:
            continue
        overlap = len(claim_words & {w.lower() for w in _WORD.findall(sentence)})
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    return best


def answer_from_text(
    text: str, hits: Sequence[Hit], *, generator: str, extra: dict | None = None
) -> Answer:
    """Structured answer from free text carrying [n] markers that refer to `hits` (1-based)."""
    text = text.strip()
    metadata = {"generator": generator, **(extra or {})}
    if is_refusal(text):
        return Answer(REFUSAL, True, (), tuple(hits), metadata)
    citations: list[Citation] = []
    seen: set[tuple[int, str]] = set()
    for sentence in _SENTENCE.finditer(text):
        claim = _MARKER.sub("", sentence.group())
        for marker in _MARKER.findall(sentence.group()):
            number = int(marker)
            if not 1 <= number <= len(hits):
                continue
            chunk = hits[number - 1].chunk
            quote = best_quote(chunk.text, claim)
            if quote and (number, quote) not in seen:
                seen.add((number, quote))
                citations.append(
                    Citation(chunk.source, chunk.page, chunk.section, quote, chunk.chunk_id)
                )
    if not citations and hits:
        # An uncited answer still gets a checkable pointer: the passage closest to it.
        scored = [
            (len(set(_WORD.findall(h.chunk.text.lower())) & set(_WORD.findall(text.lower()))), i)
            for i, h in enumerate(hits)
        ]
        _, index = max(scored)
        chunk = hits[index].chunk
        citations.append(
            Citation(
                chunk.source,
                chunk.page,
                chunk.section,
                best_quote(chunk.text, text),
                chunk.chunk_id,
            )
        )
        metadata["uncited"] = True
    return Answer(text, False, tuple(citations), tuple(hits), metadata)
