"""FAQ passages: a unit that asks a question is never the answer by itself.

Handbooks hold question-and-answer pairs ("Q: Is the stipend taxable?" / "A: Yes, like all
stipends it will be taxed."; "Q. Where can I view my level?" then the answer's items; a bold
question line, then its paragraph). The employee's question reads most like the FAQ's own
question, so the selector often scores that line best; quoted alone it restates the question.
The answer is what follows it: the units after the question up to the next question, at most
`MAX_ANSWER_UNITS` units and about `MAX_ANSWER_WORDS` words (an FAQ answer is short; a longer
run is a section of its own, and its first units are the direct reply).

Told by structure, in any language: a unit is a question when it ends with a question mark
("?", the full-width "？", the Arabic "؟"; "¿...?" ends with "?" too) or opens with a question
marker: the letter Q, then "." ":" or ")" ("Q:", "Q."). A numbered "Q1)", and P (pergunta,
pregunta) or F (Frage), mark questions only when the unit also ends with "?": "Q1: Goals are
set by 31 March." is a quarter's line, "F: 030 1234" a fax number.

The question line is dropped from the answer (the fact first, and fewer words), except when
the reply's first unit is short (under `SHORT_REPLY_WORDS` words: "A: Yes.", "A: Not at this
time."): such a reply means nothing without its question, so the question leads it. An answer
unit ("A: ...") that scores best is quoted without its question, as any other sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragkit.reader.candidates import unit_text
from ragkit.text.analyse import words
from ragkit.text.segment import BULLET, CLOSING, QUESTION_MARKS, Unit
from ragkit.types import Hit

MAX_ANSWER_UNITS = 5  # units of one FAQ answer quoted, at most
MAX_ANSWER_WORDS = 80  # ... and no unit is added once the answer holds this many words
SHORT_REPLY_WORDS = 6  # a first reply unit shorter than this needs its question as a lead

# "Q:", "Q.", "**Q:**": a question marker opens the unit
_Q_MARKER = re.compile(r"^[*_\s]*Q[*_]*\s*[.:)][*_]*\s")
# "P:", "F:" mark questions too (pergunta, pregunta, Frage) but also other things ("F: fax"),
# and "Q1:" ... "Q4:" open a quarter's line as often as a numbered question, so they count
# only when the unit also ends with a question mark
_OTHER_MARKER = re.compile(r"^[*_\s]*(?:[PF]\s?\d{0,3}|Q\s?\d{1,3})[*_]*\s*[.:)][*_]*\s")


def is_question(text: str) -> bool:
    """Whether a unit's text asks a question: it ends with a question mark (closing emphasis,
    quotes and brackets aside) or opens with a "Q:" / "Q." marker."""
    body = text.rstrip(CLOSING)
    return body.endswith(QUESTION_MARKS) or bool(_Q_MARKER.match(text))


def faq_question(unit: Unit, hits: Sequence[Hit]) -> bool:
    """Whether a unit is an FAQ's question: it opens with a "Q:" marker, or it asks
    (`is_question`) on a line of its own (nothing but a bullet or markup before it on its
    line, nothing after it). A question inside a paragraph ('Islamists have asked the
    question, "...?"', "Why does this matter? Because...") is prose, not an FAQ entry; so
    is a question item next to another question item of its list (a checklist: "- Has your
    manager approved the request?" / "- Is the desk on the approved list?"): nothing
    answers it, it is the fact."""
    text = unit_text(unit, hits)
    if _Q_MARKER.match(text):
        return True
    if not is_question(text):
        return False
    chunk = hits[unit.hit].chunk.text
    before = chunk[chunk.rfind("\n", 0, unit.start) + 1 : unit.start].strip().strip("*_#> ")
    line_end = chunk.find("\n", unit.end)
    after = chunk[unit.end : len(chunk) if line_end < 0 else line_end].strip(CLOSING)
    if after:
        return False
    if not before:
        return True
    return BULLET.fullmatch(f"{before} ") is not None and not _in_checklist(chunk, unit)


def _in_checklist(chunk: str, unit: Unit) -> bool:
    """Whether the list item `unit` has a question item of its list on the line before or
    after it (blank lines aside)."""
    line_start = chunk.rfind("\n", 0, unit.start) + 1
    before = chunk[:line_start].rstrip().rsplit("\n", 1)[-1]
    line_end = chunk.find("\n", unit.end)
    after = "" if line_end < 0 else chunk[line_end:].lstrip().split("\n", 1)[0]
    return any(_question_item(line.strip()) for line in (before, after))


def _question_item(line: str) -> bool:
    bullet = BULLET.match(line)
    return bullet is not None and line[bullet.end() :].rstrip(CLOSING).endswith(QUESTION_MARKS)


def reply_after(units: Sequence[Unit], position: int, hits: Sequence[Hit]) -> list[Unit]:
    """The units that answer the FAQ question `units[position]`: those after it, up to the
    next FAQ question (or the passage's end), at most MAX_ANSWER_UNITS and MAX_ANSWER_WORDS
    words (the first is always kept). Empty when the question is the passage's last unit, or
    another question follows it at once."""
    reply: list[Unit] = []
    n_words = 0
    for unit in units[position + 1 :]:
        full = len(reply) >= MAX_ANSWER_UNITS or n_words >= MAX_ANSWER_WORDS
        if full or faq_question(unit, hits):
            break
        reply.append(unit)
        n_words += len(words(unit_text(unit, hits)))
    return reply


def needs_question(reply: Sequence[Unit], hits: Sequence[Hit]) -> bool:
    """Whether the reply's first unit is too short to read without its question."""
    return bool(reply) and len(words(unit_text(reply[0], hits))) < SHORT_REPLY_WORDS


def same_question(a: str, b: str) -> bool:
    """Whether two question units ask the same thing, markers and markup aside: the same
    FAQ entry quoted in two chunks (a chunk that ends on the question, one that holds its
    answer, or the same page published twice)."""
    return _question_words(a) == _question_words(b) != []


def _question_words(text: str) -> list[str]:
    found = words(text)
    if _Q_MARKER.match(text) or _OTHER_MARKER.match(text):
        found = found[1:]  # the marker letter
        if found and found[0].isdigit():
            found = found[1:]
    return found


def faq_reply(best: Unit, passages: Sequence[Sequence[Unit]], hits: Sequence[Hit]) -> list[Unit]:
    """The answer to the FAQ question `best` (`faq_question`): its reply (`reply_after`) in
    the passage that holds it, else the reply to the same question (`same_question`) in
    another of `passages` (the top passages' units, in rank order), led by that question
    when the reply's first unit is short (`needs_question`). Empty when no passage holds a
    reply: the caller quotes the question itself (it scored best)."""
    asked = unit_text(best, hits)
    for units in sorted(passages, key=lambda p: not p or p[0].hit != best.hit):
        for position, unit in enumerate(units):
            if unit != best and not (
                faq_question(unit, hits) and same_question(unit_text(unit, hits), asked)
            ):
                continue
            reply = reply_after(units, position, hits)
            if reply:
                return [unit, *reply] if needs_question(reply, hits) else reply
    return []
