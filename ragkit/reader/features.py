"""Features of a candidate answer unit, for the trained answer selector (`ragkit.reader.selector`).

A candidate is a unit (sentence, list item, table row under its header) of one of the top
passages. Everything here is language-independent: words are `\\w+` runs, reduced to their
first five letters after a plural "s" (a crude stem that works for English, Spanish, German
and Portuguese alike); how much a question word counts comes from how rare it is among the
candidate units (IDF over the passage set), not from a stopword list; what kind of answer a
question wants is learned, as weights on hashed question-opening words ("how many", "wie
viele", "quantos") crossed with what the unit holds (a number the question lacks, a name,
a table row).

Two blocks, because the embedding model is the expensive step:
- `cheap_features(...)`: (n_units, N_CHEAP) dense features plus hashed cross indices, for
  every unit; stage 1 ranks all units with them;
- `dense_features(cos, cheap)`: the (n, N_DENSE) block added for the few units stage 1 keeps,
  once their cosine with the question is known.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from math import log

import numpy as np

_WORD = re.compile(r"[^\W_]+(?:[.,:'’][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?¿¡]\s+")
STEM_CHARS = 5
BUCKETS = 256  # hashed question-opening words, per position
OPENING_WORDS = 3  # the first words of the question's last sentence
UNIT_PROPERTIES = 6  # bias, new number, new name, table row, list item, ends with ":"
N_CROSS = OPENING_WORDS * BUCKETS * UNIT_PROPERTIES

CHEAP_NAMES = (
    "lexical_idf",  # IDF-weighted share of question stems in the unit (heading words half)
    "lexical_unit",  # the same, the unit's own words only
    "share",  # unweighted share of question stems in the unit
    "bigram",  # share of the question's stem bigrams in the unit
    "lexical_gap",  # lexical_idf minus the best lexical_idf of the passage set
    "question_has_number",
    "numbers_found",  # share of the question's numbers in the unit
    "unit_new_number",  # the unit holds a number the question does not
    "question_has_entity",
    "entities_found",  # share of the question's names/codes/numbers in unit + headings
    "entities_missing",  # share of them found in none of the passages
    "unit_new_name",  # a capitalised word (not sentence-initial) the question lacks
    "rank_prior",  # 1 / retrieval rank of the passage
    "position",  # unit index in its chunk / units in the chunk
    "first_unit",
    "is_item",
    "is_row",
    "ends_colon",
    "log_unit_words",
    "log_question_words",
)
N_CHEAP = len(CHEAP_NAMES)
DENSE_NAMES = ("cosine", "cosine_x_share")
N_DENSE = len(DENSE_NAMES)


def tokens(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def stem(token: str) -> str:
    """The first STEM_CHARS letters, after a final "s" (the plural of most languages we
    see: pays/pay, dias/dia, leaves/leave); words with digits stay whole."""
    if any(c.isdigit() for c in token):
        return token
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    return token[:STEM_CHARS]


def entities(text: str) -> list[str]:
    """Names, codes and numbers: words with a digit, or capitalised past a sentence's start."""
    found: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        raw = _WORD.findall(sentence)
        for n, word in enumerate(raw):
            if any(c.isdigit() for c in word) or (n > 0 and word[:1].isupper() and len(word) > 1):
                found.append(word.lower())
    return list(dict.fromkeys(found))


def numbers(words: Sequence[str]) -> set[str]:
    return {w for w in words if any(c.isdigit() for c in w)}


@dataclass(frozen=True)
class Candidate:
    """What the features see of a unit: its text, headings, passage rank and place."""

    text: str  # the unit, under its table header line for a row
    context: str  # the chunk's title and heading path
    rank: int  # 1-based rank of its passage
    index: int  # position of the unit in its chunk
    n_in_chunk: int
    kind: str  # "sentence" | "item" | "row"


def _bucket(word: str, position: int) -> int:
    return zlib.crc32(f"{position}:{word}".encode()) % BUCKETS


def question_openings(question: str) -> list[int]:
    """Hashed bucket of each of the first words of the question's last sentence."""
    sentences = [s for s in _SENTENCE_END.split(question.strip()) if tokens(s)]
    last = tokens(sentences[-1]) if sentences else []
    return [p * BUCKETS + _bucket(w, p) for p, w in enumerate(last[:OPENING_WORDS])]


def cheap_features(
    question: str, candidates: Sequence[Candidate], passages_text: str = ""
) -> tuple[np.ndarray, list[list[int]]]:
    """(n, N_CHEAP) float32 features and, per unit, the indices of its active cross features.

    `passages_text` is all text of the retrieved passages (with headings): an asked-about name
    found in none of it is a strong sign the documents do not cover the question.
    """
    q_words = tokens(question)
    q_stems = list(dict.fromkeys(stem(w) for w in q_words))
    q_bigrams = {(a, b) for a, b in zip(q_stems, q_stems[1:], strict=False)}
    q_numbers = numbers(q_words)
    q_entities = entities(question)
    q_set = set(q_words)
    everywhere = set(tokens(passages_text))
    entities_missing = (
        sum(e not in everywhere for e in q_entities) / len(q_entities) if q_entities else 0.0
    )
    unit_words = [tokens(c.text) for c in candidates]
    unit_stems = [{stem(w) for w in ws} for ws in unit_words]
    context_stems = [{stem(w) for w in tokens(c.context)} for c in candidates]
    n = len(candidates)
    idf = {
        t: log(1.0 + (n - (df := sum(t in u for u in unit_stems)) + 0.5) / (df + 0.5))
        for t in q_stems
    }
    total = sum(idf.values()) or 1.0
    openings = question_openings(question)
    features = np.zeros((n, N_CHEAP), dtype=np.float32)
    crosses: list[list[int]] = []
    for i, (c, words, stems, context) in enumerate(
        zip(candidates, unit_words, unit_stems, context_stems, strict=True)
    ):
        weighted = sum(idf[t] * (1.0 if t in stems else 0.5 if t in context else 0.0) for t in idf)
        own = sum(idf[t] for t in idf if t in stems)
        stem_list = [stem(w) for w in words]
        bigrams = set(zip(stem_list, stem_list[1:], strict=False))
        found_numbers = numbers(words)
        with_context = set(words) | set(tokens(c.context))
        new_name = any(
            w[:1].isupper() and w.lower() not in q_set for w in _WORD.findall(c.text)[1:]
        )
        new_number = bool(found_numbers - q_numbers)
        ends_colon = c.text.rstrip("*_ ").endswith(":")
        features[i] = (
            weighted / total,
            own / total,
            sum(t in stems for t in q_stems) / max(1, len(q_stems)),
            len(q_bigrams & bigrams) / len(q_bigrams) if q_bigrams else 0.0,
            0.0,  # lexical_gap, filled below
            float(bool(q_numbers)),
            len(q_numbers & found_numbers) / len(q_numbers) if q_numbers else 0.0,
            float(new_number),
            float(bool(q_entities)),
            sum(e in with_context for e in q_entities) / len(q_entities) if q_entities else 0.0,
            entities_missing,
            float(new_name),
            1.0 / max(1, c.rank),
            c.index / max(1, c.n_in_chunk),
            float(c.index == 0),
            float(c.kind == "item"),
            float(c.kind == "row"),
            float(ends_colon),
            log(1 + len(words)),
            log(1 + len(q_words)),
        )
        properties = (True, new_number, new_name, c.kind == "row", c.kind == "item", ends_colon)
        crosses.append(
            [o * UNIT_PROPERTIES + k for o in openings for k, on in enumerate(properties) if on]
        )
    if n:
        features[:, 4] = features[:, 0] - features[:, 0].max()
    return features, crosses


def dense_features(cosine: np.ndarray, cheap: np.ndarray) -> np.ndarray:
    """(n, N_DENSE): the unit's cosine with the question, and that times the word share."""
    cosine = np.asarray(cosine, dtype=np.float32).reshape(-1)
    return np.stack([cosine, cosine * cheap[:, 2]], axis=1)
