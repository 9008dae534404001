"""When the answer is a whole list or table, not the one unit that scores best.

Two kinds, told by structure rather than by wording, so they hold in any language:

- A question that names a section: every content word of the question is in one passage's
  title and headings, one at least in its own headings below the title, and that passage is
  mostly a list or table. "What
  are all the public holidays in the Dublin office?" over "1.1 Ireland (Dublin office)" and its
  table of ten rows asks for the table, not for the sentence that reads most like the
  question. A question with a word the headings lack ("How many public holidays do Dublin
  *employees* have?") asks for a fact inside it.
- A list whose items continue the sentence that introduces it: "Once you have passed
  probation, you receive:" then "full pay for up to 20 working days ..., then" and "half pay
  for a further 20 working days ...". Items that start in lower case, under a lead ending in
  ":", whose punctuation reads as clauses of one sentence and none shaped "key: value", are
  fragments of that one enumerated sentence, and read alone each says half of it. A list of
  "sick leave: 10 days a year" items is separate facts: one item answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragkit.text.analyse import analyser_for
from ragkit.text.segment import Unit, segment
from ragkit.types import Hit

MIN_TOPIC_TERMS = 2  # a one-word question names no section
INTRO_SENTENCES = 2  # sentences of a list's introducing paragraph after the best one, at most


def own_headings(hit: Hit) -> str:
    """The chunk's heading path below its document's title (an H1 repeating it dropped)."""
    headings = list(hit.chunk.headings)
    if headings and headings[0].strip().lower() == hit.chunk.title.strip().lower():
        headings = headings[1:]
    return " > ".join(headings)


def section_asked(question: str, hits: Sequence[Hit], passages: Sequence[int]) -> int | None:
    """The first of `passages` (hit indices, best first) that the question names, and whose
    text is mostly one list or table (`list_part`), or None. Named: every content term of the
    question (at least MIN_TOPIC_TERMS; its language's analyser) is in the passage's title or
    headings, and one at least is in its own headings only ("Dublin" of "1.1 Ireland (Dublin
    office)"): a question the document title alone covers ("What is the leave policy?") names
    the document, not one of its lists."""
    for i in passages:
        chunk = hits[i].chunk
        analyser = analyser_for(chunk.language)
        asked = set(analyser.content_terms(question))
        if len(asked) < MIN_TOPIC_TERMS or not asked <= set(analyser.terms(chunk.context)):
            continue
        if not asked & (
            set(analyser.terms(own_headings(hits[i]))) - set(analyser.terms(chunk.title))
        ):
            continue
        if list_part(segment(chunk.text, i)) is not None:
            return i
    return None


def list_part(units: Sequence[Unit]) -> tuple[int, int] | None:
    """(start, end) of the run of list items or table rows (`longest_run`) that makes up at
    least half of `units`, or None: a passage that is mostly prose answers with a unit."""
    run = longest_run(units)
    if run is None or 2 * (run[1] - run[0]) < len(units):
        return None
    return run


def longest_run(units: Sequence[Unit]) -> tuple[int, int] | None:
    """(start, end) indices of the longest run (the first of equal ones) of at least two list
    items, or of rows under one table header, in `units`; None when there is none. The
    longest, not the first: a two-item note list before a twenty-row table must not hide it."""
    best: tuple[int, int] | None = None
    at = 0
    while at < len(units):
        if units[at].kind == "sentence":
            at += 1
            continue
        end = at + 1
        while end < len(units) and same_run(units[end], units[at]):
            end += 1
        if end - at >= 2 and (best is None or end - at > best[1] - best[0]):
            best = (at, end)
        at = end
    return best


def same_run(unit: Unit, of: Unit) -> bool:
    """Both items of a list, or both rows under the same table header."""
    return unit.kind == of.kind and (unit.kind != "row" or unit.header == of.header)


def continues_lead(text: str, units: Sequence[Unit], position: int) -> bool:
    """Whether `units[position]` is a list item that continues the sentence introducing its
    list, told by structure and punctuation only:

    - the item starts with a lower-case letter (after any emphasis marks);
    - the sentence before the list ends with ":" ("you receive:");
    - the items read as clauses of that one sentence: every item before the last ends in
      "," or ";", or none of them ends a sentence (. ! ?) while the last one does;
    - no item has the "key: value" shape ("wedding leave: 2 days"): such a list is a table
      of separate facts, and one item answers alone."""
    if not 0 <= position < len(units) or units[position].kind != "item":
        return False
    if not _body(text, units[position])[:1].islower():
        return False
    first = position
    while first > 0 and units[first - 1].kind == "item":
        first -= 1
    if first == 0 or not _body(text, units[first - 1]).rstrip("*_ ").endswith(":"):
        return False
    end = position + 1
    while end < len(units) and units[end].kind == "item":
        end += 1
    bodies = [_body(text, u).rstrip("*_ ") for u in units[first:end]]
    if len(bodies) < 2 or any(_KEY_VALUE.match(b) for b in bodies):
        return False
    before, last = bodies[:-1], bodies[-1]
    if all(b.endswith((",", ";")) for b in before):
        return True
    return last.endswith((".", "!", "?")) and not any(
        b.endswith((".", "!", "?", ":")) for b in before
    )


def key_value_run(text: str, units: Sequence[Unit], position: int) -> bool:
    """Whether the list item `units[position]` belongs to a run of items of which one at
    least has the "key: value" shape ("wedding leave: 2 days"): separate facts, one per
    item, so one item answers a question about one of them."""
    if not 0 <= position < len(units) or units[position].kind != "item":
        return False
    first = position
    while first > 0 and units[first - 1].kind == "item":
        first -= 1
    run = run_of_items(units, first)
    return any(_KEY_VALUE.match(_body(text, u).rstrip("*_ ")) for u in run)


def _body(text: str, unit: Unit) -> str:
    return text[unit.start : unit.end].lstrip("*_ ")


# "key: value": a short label (at most four words, emphasis allowed) then a colon and more text
_KEY_VALUE = re.compile(r"^[*_]*[^\s:.,;]+(?:\s+[^\s:.,;]+){0,3}[*_]*\s*:[*_]*\s+\S")


# A list longer than LONG_LIST items is shown as SHOWN_ITEMS of them and a "+N more" line that
# cites where the rest is; a shorter list is always shown whole, never silently cut.
LONG_LIST, SHOWN_ITEMS = 15, 12


def shorten(items: list[Unit], focus: int = 0) -> int:
    """Cut a list longer than LONG_LIST to SHOWN_ITEMS items, in place, and return how many
    were left out (the answer says "+N more" and where the rest is). The kept items are the
    first ones, unless the item the question asks about (`focus`, an index into `items`) is
    past them: then a window around it, so the cut never drops the asked item."""
    if len(items) <= LONG_LIST:
        return 0
    first = 0 if focus < SHOWN_ITEMS else min(focus - SHOWN_ITEMS // 2, len(items) - SHOWN_ITEMS)
    more = len(items) - SHOWN_ITEMS
    items[:] = items[first : first + SHOWN_ITEMS]
    return more


def asked_item(
    question: str,
    items: Sequence[Unit],
    texts: Sequence[str],
    scores: dict[Unit, float],
    language: str | None,
) -> int:
    """The index of the item a question asks about: the one holding the largest share of
    the question's content terms, each weighted 1 / (1 + the items holding it) so a term of
    every item tells none apart; among equals the one the selector scored best (`scores`,
    the ranked units'), then the first. 0 when no item holds a term nor was scored."""
    analyser = analyser_for(language)
    asked = set(analyser.content_terms(question))
    held = [set(analyser.terms(t)) & asked for t in texts]
    weight = {t: 1.0 / (1 + sum(t in h for h in held)) for t in asked}
    keys = [
        (sum(weight[t] for t in h), scores.get(u, -1.0)) for h, u in zip(held, items, strict=True)
    ]
    best = max(range(len(items)), key=lambda n: (*keys[n], -n), default=0)
    return best if items and keys[best] > (0.0, -1.0) else 0


def run_of_items(units: Sequence[Unit], first: int) -> list[Unit]:
    """The list items (or table rows) from `units[first]` up to the next sentence."""
    run: list[Unit] = []
    for unit in units[max(0, first) :]:
        if unit.kind == "sentence":
            break
        run.append(unit)
    return run


def list_after(units: Sequence[Unit], position: int, text: str) -> int | None:
    """The index of the first item of a bullet or numbered list that directly follows the
    paragraph holding the sentence `units[position]` (at most `INTRO_SENTENCES` sentences on),
    or None. The paragraph before a list introduces it, with or without a colon ("The
    grounds are as follows", "Summary dismissal applies in these cases."): structure, not
    wording, so it holds in any language. A table is not: its rows answer on their own,
    under their header."""
    if not 0 <= position < len(units) or units[position].kind != "sentence":
        return None
    at = position + 1
    while at < len(units) and at - position <= INTRO_SENTENCES and units[at].kind == "sentence":
        if "\n\n" in text[units[at - 1].end : units[at].start]:
            return None  # a new paragraph: the best sentence's paragraph ends before any list
        at += 1
    if at < len(units) and units[at].kind == "item":
        return at
    return None


def ends_colon(text: str, unit: Unit) -> bool:
    """Whether the unit ends with a colon (emphasis aside): it introduces what follows."""
    return text[unit.start : unit.end].rstrip("*_ ").endswith(":")
