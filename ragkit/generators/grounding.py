"""Turn a generated answer into a structured one: refusal detection and verifiable citations.

Language models cite passages as [n]. A citation is only useful if a reader can check it, so
each becomes the passage's source, page and section plus a verbatim quote: the sentence of
the cited passage that shares the most words with the answer sentence that cited it. Markers
pointing at passages that do not exist are dropped rather than trusted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragkit.text.analyse import words
from ragkit.text.segment import split_sentences
from ragkit.types import REFUSAL, Answer, Citation, Hit

_MARKER = re.compile(r"\[(\d{1,2})\]")
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
    claim_words = set(words(claim))
    best, best_overlap = "", -1
    for start, end in split_sentences(passage):
        sentence = passage[start:end]
        overlap = len(claim_words & set(words(sentence)))
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
    for start, end in split_sentences(text):
        sentence = text[start:end]
        claim = _MARKER.sub("", sentence)
        for marker in _MARKER.findall(sentence):
            number = int(marker)
            if not 1 <= number <= len(hits):
                continue
            chunk = hits[number - 1].chunk
            quote = best_quote(chunk.text, claim)
            if quote and (number, quote) not in seen:
                seen.add((number, quote))
                citations.append(Citation.of(chunk, quote))
    if not citations and hits:
        # An uncited answer still gets a checkable pointer: the passage closest to it.
        scored = [(len(set(words(h.chunk.text)) & set(words(text))), i) for i, h in enumerate(hits)]
        _, index = max(scored)
        chunk = hits[index].chunk
        citations.append(Citation.of(chunk, best_quote(chunk.text, text)))
        metadata["uncited"] = True
    return Answer(text, False, tuple(citations), tuple(hits), metadata)
