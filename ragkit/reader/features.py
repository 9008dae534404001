"""Features of a candidate answer unit, for the trained answer selector (`ragkit.reader.selector`).

A candidate is a unit (sentence, list item, table row under its header) of one of the top
passages. Everything here is language-independent: words are `ragkit.text.analyse.words` (the
one tokenizer of BM25 and the heuristic reader), reduced to their
first five letters after a plural "s" (a crude stem that works for English, Spanish, German
and Portuguese alike); how much a question word counts comes from how rare it is among the
candidate units (IDF over the passage set), not from a stopword list; what kind of answer a
question wants is learned, as weights on hashed question-opening words ("how many", "wie
viele", "quantos") crossed with what the unit holds (a number the question lacks, a name,
a table row).

Two blocks, because the embedding model and the cross-encoder are the expensive steps:
- `cheap_features(...)`: (n_units, N_CHEAP) dense features plus hashed cross indices, for
  every unit; stage 1 ranks all units with them;
- `dense_features(names, cheap, cosine, cross)`: the block added for the few units stage 1
  keeps, once they are embedded (cosine) and/or the cross-encoder has read them with the
  question.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from math import log

import numpy as np

from ragkit.reader.names import question_names
from ragkit.text.analyse import WORD, words

_SENTENCE_END = re.compile(r"[.!?¿¡]\s+")
# What kind of thing a unit holds, by its characters, in any language: "who do I e-mail"
# (learned from the question's opening words) wants an address, "how much" an amount.
_ADDRESS = re.compile(r"\S@\w|https?://|www\.|(?<![\w.])#[a-z][\w-]+|\w\.(?:com|org|gov|io)\b")
_MONEY = re.compile(r"[$€£¥₹]\s?\d|\d\s?[$€£¥₹]|\b[A-Z]{3}\s?\d|\d\s?[A-Z]{3}\b")
_PERCENT = re.compile(r"\d\s?%")
# a section number as the PDF loader reads one ("2.", "1.1"): a leading year ("2026
# Calendar") or any longer figure is part of the heading's topic
_SECTION_NUMBER = re.compile(r"^\s*\d{1,2}(?:\.\d{1,2})*\.?\s+")
# grouped thousands: the first group never starts with 0 ("0.125" is a fraction, not 125)
_GROUPED = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d{0,2}(?:\.\d{3})+")
# both separators ("1.000,00", "1,250.00"): the last one is the decimal mark
_GROUPED_DECIMAL = re.compile(r"([1-9]\d{0,2}(?:([,.])\d{3})+)([,.])(\d+)")
_DECIMAL = re.compile(r"\d+(?:[.,]\d+)?")
# An amount: a number (thousands grouped by "," "." or a space allowed) with an optional
# currency sign or code on either side ("$1,000", "1.000 €", "EUR 5,000").
_CURRENCY = r"(?:[$€£¥₹]|(?<![^\W\d_])[A-Z]{3}(?![^\W\d_]))"
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\d,.]?\d)|\d[\d,.]*"
_AMOUNT = rf"(?:{_CURRENCY}\s?)?({_NUMBER})(?:\s?{_CURRENCY})?"
# two amounts joined by a dash, or by one short word ("to", "bis", "a") where the range opens
# its cell or the amounts carry a currency or separator (`ranges`): "Page 1 of 12" in a
# sentence is no range, nor "1 May 2026" (a day, then a year)
_RANGE = re.compile(
    rf"(?<![\w.,\-–—]){_AMOUNT}\s*(?:([-–—])|\s[^\W\d_]{{1,5}}\s)\s*{_AMOUNT}(?![\w\-–—])"
)
_CELL = re.compile(r"[|\n]")
_DAY = 31  # "1 May 2026": a day of the month, then a year, is a date
_YEARS = (1900.0, 2100.0)
STEM_CHARS = 5
BUCKETS = 256  # hashed question-opening words, per position
OPENING_WORDS = 3  # the first words of the question's last sentence
# bias, new number, new name, table row, list item, ends with ":", an address (e-mail, URL,
# channel), an amount of money (a currency sign or code next to a number), a percentage
UNIT_PROPERTIES = 9
N_CROSS = OPENING_WORDS * BUCKETS * UNIT_PROPERTIES

CHEAP_NAMES = (
    "lexical_idf",  # IDF-weighted share of question stems in the unit (heading words half)
    "lexical_unit",  # the same, the unit's own words only
    "share",  # unweighted share of question stems in the unit
    "bigram",  # share of the question's stem bigrams in the unit
    "lexical_gap",  # lexical_idf minus the best lexical_idf of the passage set
    "question_has_number",
    "numbers_found",  # share of the question's numbers the unit holds or brackets (`holds`)
    "unit_new_number",  # the unit holds a number neither the question nor a heading holds
    "question_has_entity",
    "entities_found",  # share of the question's names/codes/numbers in unit + headings
    "entities_missing",  # share of them found in none of the passages
    "unit_new_name",  # a capitalised word (not sentence-initial) the question lacks, never
    # written in lower case in the passages
    "rank_prior",  # 1 / retrieval rank of the passage
    "position",  # unit index in its chunk / units in the chunk
    "first_unit",
    "is_item",
    "is_row",
    "ends_colon",
    "log_unit_words",
    "log_question_words",
    "first_of_document",  # the unit's passage is the earliest retrieved one of its document
)
N_CHEAP = len(CHEAP_NAMES)
# the unit's cosine with the question (bi-encoder), the cross-encoder's logit for the pair
# (`ragkit.reader.cross`), and each times the unit's share of question words; a selector
# names the ones it reads (`Selector.dense`): format-1 selectors read the cosine pair only
DENSE_NAMES = ("cosine", "cosine_x_share", "cross", "cross_x_share")
COSINE_ONLY = DENSE_NAMES[:2]


def tokens(text: str) -> list[str]:
    """The lower-cased words of `text` (`ragkit.text.analyse.words`)."""
    return words(text)


# memoised: one answer stems every word of its ~25 units two or three times (about 1,600
# calls, 7 ms of a warm ask on the shared machine); the same words recur across questions
@lru_cache(maxsize=1 << 16)
def stem(token: str) -> str:
    """The first STEM_CHARS letters, after a final "s" (the plural of most languages we
    see: pays/pay, dias/dia, leaves/leave); words with digits stay whole."""
    if has_digit(token):
        return token
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    return token[:STEM_CHARS]


def name_words(name: str) -> list[str]:
    """The lower-cased words of an asked name ("Bastille Day" -> ["bastille", "day"])."""
    return tokens(name)


@lru_cache(maxsize=1 << 16)
def has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


def numbers(words: Sequence[str]) -> set[str]:
    return {w for w in words if has_digit(w)}


def _unnumbered(context: str) -> str:
    """A heading path without its section numbers ("2. Requesting leave" -> "Requesting
    leave"): a section's number is no topic a unit's figure could restate."""
    return " ".join(_SECTION_NUMBER.sub("", part) for part in context.split(" > "))


def number_value(token: str) -> float | None:
    """The value of a number as written: "3000", "3,000" and "3.000" (grouped thousands) are
    3000.0, "3.5", "3,5" and "0.125" are fractions, "1.000,00" and "1,250.00" (both marks:
    the last is the decimal one) are 1000.0 and 1250.0; None for a code ("mr07") or anything
    else."""
    both = _GROUPED_DECIMAL.fullmatch(token)
    if both and both.group(2) != both.group(3):
        return float(re.sub(r"[,.]", "", both.group(1)) + "." + both.group(4))
    if _GROUPED.fullmatch(token):
        return float(re.sub(r"[,.]", "", token))
    if _DECIMAL.fullmatch(token):
        return float(token.replace(",", "."))
    return None


def _is_amount(match: re.Match[str]) -> bool:
    """Whether a range's ends are written as amounts: a currency mark, or a grouped or
    decimal number."""
    return bool(re.search(_CURRENCY, match.group(0))) or any(
        re.search(r"\d[,.\s]\d", match.group(n)) for n in (1, 3)
    )


def ranges(text: str) -> list[tuple[float, float]]:
    """The (low, high) of every "A to B" in `text`, cell by cell (a table row splits at "|"):
    two amounts joined by a dash ("5–7", "$1,000 - $5,000"), or by one short word where the
    range opens its cell ("1,000 to 5,000 EUR", "1.000 € bis 5.000 €") or joins amounts
    written as such ("from $1,000 to $5,000", "1,5 a 2,5"). A day then a year
    ("1 May 2026") is a date, not a range."""
    found = []
    for cell in _CELL.split(text):
        for match in _RANGE.finditer(cell):
            low, dash, high = match.group(1), match.group(2), match.group(3)
            # a word between two bare integers inside a sentence is no sign of a range ("Page
            # 1 of 12"); between amounts (a currency, a separator) it is ("from $1,000 to ...")
            if dash is None and cell[: match.start()].strip() and not _is_amount(match):
                continue
            a = number_value(re.sub(r"\s", "", low).rstrip(".,"))
            b = number_value(re.sub(r"\s", "", high).rstrip(".,"))
            if a is None or b is None or not a < b:
                continue
            if _YEARS[0] <= b <= _YEARS[1] and a <= _DAY:
                continue
            found.append((a, b))
    return found


def holds(
    question_number: str, unit_numbers: set[str], unit_ranges: Sequence[tuple[float, float]]
) -> bool:
    """Whether a unit covers a number of the question: it writes the same value ("3,000" for
    "3000"), or a range holding it ("1,000 to 5,000 EUR" for a claim of 3000 euro: the table
    row that applies to the asker's case, in any language)."""
    if question_number in unit_numbers:
        return True
    value = number_value(question_number)
    if value is None:
        return False
    if any(number_value(w) == value for w in unit_numbers):
        return True
    return any(low < value < high for low, high in unit_ranges)


@dataclass(frozen=True)
class Candidate:
    """What the features see of a unit: its text, headings, passage rank and place."""

    text: str  # the unit, under its table header line for a row
    context: str  # the chunk's title and heading path
    rank: int  # 1-based rank of its passage
    index: int  # position of the unit in its chunk
    n_in_chunk: int
    kind: str  # "sentence" | "item" | "row"
    first_of_document: bool = True  # no retrieved passage of its document starts earlier


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
    q_entities = list(
        dict.fromkeys(w for n in question_names(question, passages_text) for w in name_words(n))
    )
    q_set = set(q_words)
    # what the retrieved passages' titles and headings already say: a number found there
    # ("2025" of "Public Holidays Policy and 2025 Calendar") restates the topic, it is not a
    # new figure a unit adds
    headings = (
        set().union(*(tokens(_unnumbered(c.context)) for c in candidates)) if candidates else set()
    )
    # a capitalised word the passages also write in lower case is a common noun set in title
    # case ("see the Public Holidays policy" beside "the public holidays of"), not a name
    known = q_set | {w for w in WORD.findall(passages_text) if w.islower()}
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
    for i, (c, own_words, stems, context) in enumerate(
        zip(candidates, unit_words, unit_stems, context_stems, strict=True)
    ):
        weighted = sum(idf[t] * (1.0 if t in stems else 0.5 if t in context else 0.0) for t in idf)
        own = sum(idf[t] for t in idf if t in stems)
        stem_list = [stem(w) for w in own_words]
        bigrams = set(zip(stem_list, stem_list[1:], strict=False))
        found_numbers = numbers(own_words)
        unit_ranges = ranges(c.text) if q_numbers else []
        with_context = set(own_words) | set(tokens(c.context))
        new_name = any(w[:1].isupper() and w.lower() not in known for w in WORD.findall(c.text)[1:])
        new_number = bool(found_numbers - q_numbers - headings)
        ends_colon = c.text.rstrip("*_ ").endswith(":")
        features[i] = (
            weighted / total,
            own / total,
            sum(t in stems for t in q_stems) / max(1, len(q_stems)),
            len(q_bigrams & bigrams) / len(q_bigrams) if q_bigrams else 0.0,
            0.0,  # lexical_gap, filled below
            float(bool(q_numbers)),
            sum(holds(q, found_numbers, unit_ranges) for q in q_numbers) / len(q_numbers)
            if q_numbers
            else 0.0,
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
            log(1 + len(own_words)),
            log(1 + len(q_words)),
            float(c.first_of_document),
        )
        properties = (
            True,
            new_number,
            new_name,
            c.kind == "row",
            c.kind == "item",
            ends_colon,
            bool(_ADDRESS.search(c.text)),
            bool(_MONEY.search(c.text)),
            bool(_PERCENT.search(c.text)),
        )
        crosses.append(
            [o * UNIT_PROPERTIES + k for o in openings for k, on in enumerate(properties) if on]
        )
    if n:
        features[:, 4] = features[:, 0] - features[:, 0].max()
    return features, crosses


def dense_features(
    names: Sequence[str],
    cheap: np.ndarray,
    cosine: np.ndarray | None = None,
    cross: np.ndarray | None = None,
) -> np.ndarray:
    """(n, len(names)) columns of `DENSE_NAMES` for n units: `cosine` (n,) their cosines with
    the question, `cross` (n,) the cross-encoder's logits; either may be None when no name
    needs it."""
    columns = []
    for name in names:
        values = cosine if name.startswith("cosine") else cross
        assert values is not None, f"dense feature {name} needs its scores"
        v = np.asarray(values, dtype=np.float32).reshape(-1)
        columns.append(v * cheap[:, 2] if name.endswith("_x_share") else v)
    return np.stack(columns, axis=1)
