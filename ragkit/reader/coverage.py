"""Asked-about names, codes and numbers that none of the retrieved passages mention.

"What is the home office allowance in the Singapore office?" over passages about Dublin and
Manchester must not be answered with Dublin's figure. A name or code the question asks about
(a capitalised word past the start of a sentence or clause, or a word with a digit:
"Singapore", "MR07", "L9", "2019") that appears in none of the retrieved passages, their
titles, headings or file names means the documents do not cover the question as asked,
whatever the best sentence is: an answer then ends "The documents don't mention Singapore."

Capitalisation only marks a name where it is rare: in German every noun is capitalised, so
when more than `MAX_CAPITALISED_SHARE` of a question's non-initial words are capitalised, or
more than `MAX_NAME_RUN_SHARE` of them start a run of capitalised words ("Bastille Day" is one
name), only words with digits count. Measured on held-out answerable questions with their
gold passage (`tests/bench/bench_reader.py`): see the README's asking section.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragkit.reader.features import (
    MAX_CAPITALISED_SHARE,
    MAX_NAME_RUN_SHARE,
    asked_names,
    stem,
    tokens,
)
from ragkit.types import Hit

__all__ = ["MAX_CAPITALISED_SHARE", "MAX_NAME_RUN_SHARE", "asked_names", "uncovered"]


def uncovered(question: str, hits: Sequence[Hit]) -> list[str]:
    """The asked names and codes found in none of the hits (text, title, headings, source)."""
    seen: set[str] = set()
    for h in hits:
        seen.update(tokens(f"{h.chunk.source} {h.chunk.context} {h.chunk.text}"))
    # an abbreviation written with stops or without is one name: "D.C." is "DC", "U.K." "UK"
    seen |= {w.replace(".", "") for w in seen if "." in w and not any(c.isdigit() for c in w)}
    stems = {stem(w) for w in seen}
    missing = []
    for name in asked_names(question):
        word = name.lower().removesuffix("'s").removesuffix("’s")
        word = word if any(c.isdigit() for c in word) else word.replace(".", "")
        if word not in seen and (any(c.isdigit() for c in word) or stem(word) not in stems):
            missing.append(name.removesuffix("'s").removesuffix("’s"))
    return missing
