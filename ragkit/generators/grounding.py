"""Turn a generated answer into a structured one: refusal detection and verifiable citations.

Language models cite passages as [n]. A citation is only useful if a reader can check it, so
each becomes the passage's source, page and section plus a verbatim quote: the sentence of
the cited passage that shares the most words with the answer sentence that cited it. Markers
pointing at passages that do not exist are dropped rather than trusted.

`check_citations` says why an answer's citations do not check out (no marker at all, a marker
to a passage that was not given, or a cited sentence whose content words are mostly absent
from the passages it cites); `answer_from_text` records that reason as
`metadata["unverified"]`, and the chain and the CLI then show the answer as unverified rather
than as grounded.
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


SUPPORT = 0.5  # share of a cited sentence's content words that its passages must contain


def check_citations(text: str, hits: Sequence[Hit]) -> str | None:
    """None when every [n] marker names a given passage and every cited sentence is supported
    by the passages it cites (>= SUPPORT of its content words occur there); else the reason."""
    if not _MARKER.search(text):
        return "the answer cites no passage"
    for start, end in split_sentences(text):
        sentence = text[start:end]
        numbers = [int(n) for n in _MARKER.findall(sentence)]
        if not numbers:
            continue
        missing = [n for n in numbers if not 1 <= n <= len(hits)]
        if missing:
            return f"it cites passage [{missing[0]}], but only {len(hits)} were given"
        claim = set(words(_MARKER.sub("", sentence)))
        if not claim:
            continue
        cited = set()
        for number in numbers:
            cited |= set(words(hits[number - 1].chunk.text))
        if len(claim & cited) < SUPPORT * len(claim):
            shown = "".join(f"[{n}]" for n in numbers)
            return f"'{sentence.strip()[:60]}' is not supported by {shown}"
    return None


def answer_from_text(
    text: str, hits: Sequence[Hit], *, generator: str, extra: dict | None = None
) -> Answer:
    """Structured answer from free text carrying [n] markers that refer to `hits` (1-based)."""
    text = text.strip()
    metadata = {"generator": generator, **(extra or {})}
    if is_refusal(text):
        return Answer(REFUSAL, True, (), tuple(hits), metadata)
    problem = check_citations(text, hits)
    if problem is not None:
        metadata["unverified"] = problem
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
