"""Answer-type evidence for the refusal support: does the question ask for a figure, and does
the chosen unit hold one?

"Is there a cap on how many donated hours I can receive?" answered with a sentence that
holds no number is a near miss: the documents talk about the topic, not the figure asked
for. `AnswerType` is P(the question's answer holds a number), a logistic model over hashed
question words (`question_buckets`: every word's stem, and the first words of the question's
last sentence by position), fitted by `scripts/train_reader.py` on its training questions,
labelled by whether a gold answer holds a number: no word list, so Spanish, German and
Portuguese questions get theirs from their own training data. `unit_has_number` says whether
a unit holds a number: a word with a digit, or a number written out ("three weeks", "seis
sessões", "one month"), read by text2num in the languages it knows (`stated_numbers`). The
answerability model (`ragkit.reader.selector`) reads the expectation and the expectation
times "the chosen unit holds no number the question lacks" (`answer_type_features`).

Measured and left out (train_reader v10, handbook train split grouped by document and the
validation split): a second model for amounts of money (a currency sign or code in the
gold) had 18 positive training questions and did not help.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ragkit.reader import features
from ragkit.reader.features import question_openings, stem, tokens
from ragkit.text.analyse import analyser_for, words

BUCKETS = 4096  # hashed question stems; the opening words take the range after these
N_FEATURES = BUCKETS + features.OPENING_WORDS * features.BUCKETS
ANSWER_TYPE_NAMES = (
    "expects_number",  # P(the answer holds a number), from the question's words
    "expects_number_unit_lacks",  # that, when the chosen unit holds no number the question lacks
)


def question_buckets(question: str) -> list[int]:
    """Active hashed features of a question, sorted: its word stems (any position), and its
    opening words by position (`ragkit.reader.features.question_openings`, after the stems)."""
    stems = {stem(w) for w in tokens(question)}
    found = {zlib.crc32(f"w:{s}".encode()) % BUCKETS for s in stems}
    found |= {BUCKETS + o for o in question_openings(question)}
    return sorted(found)


def has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def written_numbers(text: str, language: str | None, threshold: float = 3) -> str:
    """`text` with its numbers written in words as digits ("about three weeks" -> "about 3
    weeks"), by text2num's `alpha2digit`; a number below `threshold` standing alone stays a
    word (its default 3: "one" and "two", as in "one of the forms"). Unchanged in a language
    text2num does not read."""
    from text_to_num import alpha2digit

    code = _code(language)
    if code not in _TEXT2NUM_LANGUAGES:
        return text
    return str(alpha2digit(text, code, threshold=threshold))


def _code(language: str | None) -> str:
    return (language or "").split("-")[0].lower()


# the languages text_to_num 3 reads (its README)
_TEXT2NUM_LANGUAGES = frozenset({"en", "fr", "es", "pt", "de", "nl", "da", "it"})


def numbers_in(text: str, language: str | None, threshold: float = 3) -> set[str]:
    """The words of `text` that are numbers: with a digit, or written out (`written_numbers`,
    below `threshold` only within a larger number)."""
    found = {w for w in tokens(text) if has_digit(w)}
    return found | {w for w in tokens(written_numbers(text, language, threshold)) if has_digit(w)}


def stated_numbers(text: str, language: str | None) -> set[str]:
    """The numbers a unit or a question states, small ones too: "one month" and "two weeks'
    notice" hold 1 and 2 as "1 month" and "2 weeks'" do (text2num from 2 up, `numbers_in`),
    and a word standing alone that text2num reads as 1 does too, unless it is a stopword of
    the language (Snowball's lists: the article "uma", "un", "een", "ein" is also 1)."""
    found = numbers_in(text, language, threshold=2)
    code = _code(language)
    if code not in _TEXT2NUM_LANGUAGES:
        return found
    function_words = analyser_for(code).stopwords
    if any(w not in function_words and _reads_one(w, code) for w in words(text.lower())):
        found.add("1")
    return found


@lru_cache(maxsize=65536)
def _reads_one(word: str, code: str) -> bool:
    """Whether text2num reads `word`, standing alone, as 1 ("one", "um", "een")."""
    return not has_digit(word) and written_numbers(word, code, threshold=0) == "1"


def unit_has_number(unit: str, question: str, language: str | None = None) -> bool:
    """Whether a unit's text holds a number ("240", "$50", "2026-05-01", "three weeks", "one
    month" in `language`: `stated_numbers`) that the question does not hold."""
    return bool(stated_numbers(unit, language) - stated_numbers(question, language))


def gold_has_number(golds: Sequence[str], language: str | None = None) -> bool:
    """The training label: a gold answer string states a number (`stated_numbers`, as
    `unit_has_number` reads a unit: "duas", "two weeks" and "one month" count, the article
    "um" does not). Until train_reader v11 it was `numbers_in` (from 3 up), which labelled
    FaQuAD's "Quantos consultores...? dois" as no number: Portuguese "quantos" questions
    then expected a number at 0.05-0.27."""
    return any(stated_numbers(g, language) for g in golds)


@dataclass(frozen=True)
class AnswerType:
    """P(the answer holds a number) = sigmoid(sum of the question's active weights + bias)."""

    weights: np.ndarray  # (N_FEATURES,)
    bias: float

    def expects_number(self, question: str) -> float:
        z = float(self.weights[question_buckets(question)].sum()) + self.bias
        return 1.0 / (1.0 + float(np.exp(-z)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnswerType:
        """{"bias": b, "weights": [[index, weight], ...]} (non-zero weights only)."""
        weights = np.zeros(N_FEATURES, dtype=np.float64)
        for index, weight in data["weights"]:
            weights[int(index)] = weight
        return cls(weights, float(data["bias"]))


def answer_type_features(
    model: AnswerType, question: str, unit: str, language: str | None = None
) -> list[float]:
    """`ANSWER_TYPE_NAMES` of a question and its chosen unit's text (in `language`)."""
    expects = model.expects_number(question)
    return [expects, expects * (not unit_has_number(unit, question, language))]
