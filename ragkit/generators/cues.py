"""The words of a question and a passage, and what kind of answer the question asks for.

Two cheap signals the extractive generator scores every candidate unit with, before the
embedding model sees only the best few:

- content terms come from the one analyser (`ragkit.text.analyse`: stopwords out, Snowball
  stems), so "leaves", "leaving" and "leave" meet; the overlap of a unit's terms with the
  question's is the lexical score;
- question cues: "how many" wants a number, "when" a date, "who" a name or role, "where" a
  place, "can I" a rule (may / must / not); `cue_match` tells whether a unit holds one beyond
  the question's own words.

Plain word lists and regular expressions, English only, no model: kept apart from the
generator so they can be tested by hand and shared by the benchmarks.
"""

from __future__ import annotations

import re
from typing import Literal

from ragkit.text.analyse import WORD, words


def word_set(words: str) -> frozenset[str]:
    """A frozen set of the whitespace-separated words of a word list written as one string."""
    return frozenset(words.split())


_NUMBER_WORDS = word_set(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
    ninety hundred thousand million billion trillion half quarter third dozen once twice
    several"""
)
_MONTHS = word_set(
    """january february march april june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
    saturday sunday weekend"""
)
_TIME_WORDS = word_set(
    """century centuries decade decades year years month months week weeks day days hour hours
    minute minutes annually monthly weekly daily ago until before after during"""
)
_MODALS = word_set(
    """may must can cannot can't not never only allowed permitted required require requires
    should prohibited entitled eligible need needs no approval approve approved"""
)
_ROLES = word_set(
    """manager managers head team director officer department partner committee board lead
    desk hr people finance ceo cfo president founder king queen"""
)

Cue = Literal["number", "date", "person", "place", "rule"] | None


def question_cue(question: str) -> Cue:
    """What kind of unit answers the question: "how many" -> a number, "when" -> a date..."""
    q = question.lower()
    if re.search(r"\bhow (many|much|long|old|far|often|big|large|high|tall|fast)\b", q):
        return "number"
    if re.search(r"\bwhat (percentage|percent|proportion|number|amount|rate|fraction|size)\b", q):
        return "number"
    if re.search(r"\b(when|what (year|date|time|day|month|century|decade|period))\b", q):
        return "date"
    if re.search(r"\b(who|whom|whose|which (person|team|company|organi[sz]ation|group))\b", q):
        return "person"
    if re.search(r"^\s*where\b|\bwhere (is|are|was|were|do|does|did|can|should)\b", q):
        return "place"
    first = q.split()[0] if q.split() else ""
    rule_words = ("allowed", "permitted", "entitled", "eligible", "required", "need to", "have to")
    if first in {"can", "may", "am", "is", "are", "do", "does", "should", "must", "could"} or any(
        w in q for w in rule_words
    ):
        return "rule"
    return None


def cue_match(cue: Cue, text: str, question_words: frozenset[str]) -> bool:
    """Whether `text` holds something of the kind the question asks for, beyond its own words."""
    if cue is None:
        return False
    new = [w for w in words(text) if w not in question_words]
    if cue == "number":
        return any(any(c.isdigit() for c in w) or w in _NUMBER_WORDS for w in new)
    if cue == "date":
        return (
            any(
                re.fullmatch(r"1\d{3}s?|20\d{2}s?|\d{1,2}(st|nd|rd|th)", w) or w in _MONTHS
                for w in new
            )
            or re.search(r"\b\d{1,2} May\b|\bMay \d", text) is not None  # not the verb "may"
            or (any(w in _TIME_WORDS for w in new) and any(c.isdigit() for c in text))
        )
    if cue == "rule":
        return any(w in _MODALS for w in words(text))
    raw = WORD.findall(text)
    capitals = [w for w in raw[1:] if w[:1].isupper() and w.lower() not in question_words]
    if cue == "person":
        return bool(capitals) or any(w in _ROLES for w in new)
    return bool(capitals)  # place
