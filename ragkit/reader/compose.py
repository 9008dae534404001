"""Answer composition for the extractive generator: which units answer, and how they read.

Given the scored candidate units of a question (`Scored`, best first, from
`ragkit.generators.extractive.ExtractiveGenerator.rank`), `choose` picks the units of the
answer (the best unit, a runner-up that scores nearly as well or complements it, the list or
table it introduces or belongs to, an FAQ's reply), `pieces` writes them out with inline
citation markers, `citations` quotes them, and `coverage_lines` says which asked names the
answer does not cover. Moved here from the generator's module unchanged (house style: small
modules); the generator's methods call these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragkit.reader.candidates import passages_text, top_passages, unit_text
from ragkit.reader.coverage import fact_sentence, instead, join_names, not_about
from ragkit.reader.faq import faq_question, faq_reply
from ragkit.reader.lists import (
    INTRO_SENTENCES,
    LONG_LIST,
    asked_item,
    continues_lead,
    ends_colon,
    key_value_run,
    list_after,
    list_part,
    run_of_items,
    same_run,
    section_asked,
    shorten,
)
from ragkit.reader.names import asked_names
from ragkit.reader.plain import plain
from ragkit.reader.tables import best_rows, figure_row, related_table, same_table
from ragkit.text.analyse import analyser_for, words
from ragkit.text.segment import BULLET, Unit, ends_sentence, segment
from ragkit.types import Chunk, Citation, Hit

# (question, a unit's text) -> whether the unit is an instruction the question did not ask
# about (`ragkit.generators.planted.is_planted`): passed in, the reader never imports the
# generators
Planted = Callable[[str, str], bool]

SECOND_UNIT_RATIO = 0.9  # a second unit joins the answer when it scores >= this x the best
# ... or >= this x the best when it holds a question word the best lacks (chosen on the
# handbook validation split: tests/bench/bench_reader.py --split validation)
COMPLEMENT_RATIO = 0.3  # validation: 0.57 at 0.1-0.3, 0.53 at 0.5-0.7, 0.51 without
# the best unit and the runner-up are items of one list, the runner-up scoring >= this x the
# best, and the question reads like the list's introduction (`_asks_for_the_list`): the
# answer is the whole list (the same share as COMPLEMENT_RATIO; measured on the handbook
# train and validation splits: without the introduction's condition, 0.3 made a third of
# the answers to fact and yes/no questions whole lists, 45 -> 55 words on average)
LIST_RATIO = 0.3
CONTESTED_RATIO = 0.3  # ... or >= this x the best when the dense score alone ranks it first
# (handbook validation, trained reader: gold 0.56 at 0.3, 0.54 at 0.5, 0.54 without; pt 0.39,
# 0.33, 0.28; answers 49.5 words on average against 48.2 without)


@dataclass
class Scored:
    """A candidate unit of the answer and its scores (`ExtractiveGenerator.rank`)."""

    unit: Unit
    text: str  # what is scored: the unit, under its table header for a row
    lexical: float  # IDF-weighted share of the question's content words the unit covers
    share: float  # the same share, unweighted
    cue: float  # 1.0 when the unit holds what the question type asks for
    prior: float  # 1 / rank of the passage
    # cosine of question and unit (0 until embedded); for a selector whose stage 2 reads the
    # cross-encoder: its logit for the pair (`ragkit.reader.cross`)
    dense: float = 0.0
    score: float = 0.0
    passage: float = 0.0  # trained reader: the best cosine of question and a top passage


def choose(
    question: str,
    ranked: list[Scored],
    hits: Sequence[Hit],
    *,
    trained: bool,
    max_passages: int,
    max_units: int,
    embed: Callable[[list[str]], np.ndarray],
    planted: Planted,
    names: Sequence[str] | None = None,
) -> tuple[list[Unit], int, list[int]]:
    """The units of the answer in reading order, how many list items or table rows were left
    out, and the passages (hit indices) of the tables whose rows were left out (empty: the
    last unit's passage holds them).

    `ranked`: the scored candidates, best first (non-empty). `trained`: False for the
    heuristic reader (the benchmark's baseline keeps its own choice). `max_passages`: top
    passages whose units may join; `max_units`: units of the answer besides a list or a
    table's rows; `embed`: texts -> unit-length vectors, (n, dim), for a table's best rows;
    `planted`: whether a unit's text is an instruction the question did not ask about (such a
    unit never joins an answer); `names`: the question's asked names ("Dublin",
    "Manchester": tables whose header names them are read together,
    `tables.related_table`) when the caller has them, else read here.
    """
    if not trained:
        names = []
    elif names is None:
        names = asked_names(question, passages_text(hits))
    best = ranked[0]
    section = section_asked(question, hits, top_passages(hits, max_passages)) if trained else None
    if section is not None:
        return (*section_list(question, hits, section, ranked, planted), [])
    reply: list[Unit] = []
    left_rows: list[Unit] = []  # matching table rows left out (`best_rows`)
    whole_table = False  # the rows are the whole table the question names by its columns
    passages = [  # the top passages' units, for answers drawn from several units
        joinable_units(question, hits, i, None, planted) for i in top_passages(hits, max_passages)
    ]
    if trained and faq_question(best.unit, hits):
        # an FAQ's question line restates the question: its reply answers (`faq`)
        # (none in the passages: the question itself, which scores best, is quoted; the
        # best unit that asks nothing is often off the point)
        reply = faq_reply(best.unit, passages, hits)
    chosen = reply or [best.unit]
    text = hits[best.unit.hit].chunk.text
    units = joinable_units(question, hits, best.unit.hit, best.unit, planted)
    position = units.index(best.unit) if best.unit in units else -1
    body = text[best.unit.start : best.unit.end].rstrip("*_ ")
    items: list[Unit] = []
    list_at = list_after(units, position, text)
    if reply:
        pass  # the FAQ's reply, as it stands
    elif trained and best.unit.kind == "row":
        # the rows of its table that match the question best, not the first ones
        chosen, left_rows, whole_table, _ = best_rows(
            question, best.unit, passages, hits, embed, names
        )
    elif trained and continues_lead(text, units, position):
        # an item that continues its list's lead ("you receive:" / "full pay for ...,
        # then") is half a sentence: the lead and the whole list are the answer
        chosen, items = _whole_list(text, units, position, best.unit)
    elif body.endswith(":"):
        # "...must meet the following rules:" is answered by the list that follows it
        items = run_of_items(units, position + 1)
    elif list_at is not None:
        # so is a paragraph a bullet list directly follows, colon or not ("The grounds
        # are as follows"): the paragraph from the best sentence on, then the list
        chosen.extend(units[position + 1 : list_at])
        items = run_of_items(units, list_at)
    elif best.unit.kind != "sentence" and _second_in_same_list(
        ranked, units, position, _list_ratio(trained, text, units, position, ranked)
    ):
        # two items of one list (for the heuristic reader, two rows of one table too: the
        # trained one scores a row's table above) answer best: the question asks for
        # the list, so give all of it, under the sentence that introduces it
        chosen, items = _whole_list(text, units, position, best.unit, paragraph=trained)
    elif best.unit.kind == "sentence" and len(body.split()) < 6 and 0 <= position < len(units) - 1:
        chosen.append(units[position + 1])  # a fragment ("Band L4") reads with what follows
    more = len(left_rows)
    if items:
        more = shorten_items(question, items, ranked, hits)
        chosen.extend(u for u in items if u not in chosen)
    seen = {_normalise(text[u.start : u.end]) for u in chosen}
    lacking = terms_lacking(question, best, hits)
    # the unit the question reads most like (the dense score alone), when the selector's
    # priors (retrieval rank, position) put another first: a near-tie in retrieval must not
    # hide the headline fact behind a qualifying one ("25 days" under "carry up to 5 days").
    # The trained readers only ("cross" ranks with the same stages): the heuristic one (the
    # benchmark's baseline) adds the cosine into its score itself.
    closest = max(ranked, key=lambda s: s.dense) if trained else None
    # the best rows of a table are one unit of the answer: a sentence may still join them
    limit = max_units + (len(chosen) - 1 if best.unit.kind == "row" else 0)
    # a list answer is the list alone, and so is a whole table
    for other in [] if items or whole_table else ranked[1:]:
        if len(chosen) >= limit:
            break
        if trained and faq_question(other.unit, hits):
            continue  # a question restates, it never answers
        if (
            trained
            and best.unit.kind == "row"
            and related_table(other.unit, best.unit, hits, names)
        ):
            continue  # its tables' best rows are chosen above
        close = other.score >= SECOND_UNIT_RATIO * best.score
        contested = other is closest and other.score >= CONTESTED_RATIO * best.score
        # a rule and its exception: the runner-up holds a word of the question the best
        # unit lacks ("weekend overtime" under "overtime is paid at 1.5 times")
        complements = other.score >= COMPLEMENT_RATIO * best.score and bool(
            lacking & unit_terms(other, hits)
        )
        if not (close or complements or contested):
            continue
        quote = _normalise(hits[other.unit.hit].chunk.text[other.unit.start : other.unit.end])
        if other.unit not in chosen and quote not in seen:
            seen.add(quote)
            chosen.append(other.unit)
            led = _led_list(question, hits, other.unit, planted) if trained and not items else []
            if led:
                # a sentence ending in ":" that joins is answered by its list, as the best
                # one is ("If your video freezes, try:"): the list comes whole, and an
                # answer with a list is the list alone
                items = led
                more = shorten_items(question, items, ranked, hits)
                chosen.extend(u for u in items if u not in chosen)
                break
            if trained and other.unit.kind == "row" and not items:
                # a row that joins brings the rows of its tables that match as well (every
                # "December" row of each office's holiday table), as one unit of the answer
                rows, left, _, outside = best_rows(
                    question, other.unit, passages, hits, embed, names
                )
                if other.unit in outside:  # its bracket is another case than the asker's
                    chosen.remove(other.unit)
                rows = [u for u in rows if u not in chosen and u != other.unit]
                chosen.extend(rows)
                limit += len(rows)
                left_rows.extend(u for u in left if u not in chosen and u not in left_rows)
                more = len(left_rows)
    figure = figure_row(question, best.unit, passages, hits) if trained and not items else None
    if figure is not None and figure not in chosen:
        chosen.append(figure)  # the figure the best sentence points to ("at the rates above")
    if trained and best.unit.kind == "item" and not items and position >= 0:
        # the paragraph that introduces the best item's list joined it (it holds words of
        # the question the item lacks): the list is the answer, as when the paragraph
        # scores best (`list_after`), never the introduction and one item of it
        first = position
        while first > 0 and same_run(units[first - 1], best.unit):
            first -= 1
        if first > 0 and units[first - 1] in chosen and list_after(units, first - 1, text) == first:
            items = [u for u in run_of_items(units, first) if same_run(u, best.unit)]
            more = shorten_items(question, items, ranked, hits)
            chosen.extend(u for u in items if u not in chosen)
    # reading order inside a passage; passages in the order of their best unit
    first_seen = {u.hit: n for n, u in reversed(list(enumerate(chosen)))}
    ordered = sorted(chosen, key=lambda u: (first_seen[u.hit], u.start))
    more_at = list(dict.fromkeys(u.hit for u in left_rows)) if left_rows and not items else []
    return ordered, more, more_at


def joinable_units(
    question: str, hits: Sequence[Hit], hit: int, keep: Unit | None, planted: Planted
) -> list[Unit]:
    """The units of a passage that may join an answer (its list, the sentence after a
    fragment): never a planted instruction the question did not ask about."""
    return [
        u
        for u in segment(hits[hit].chunk.text, hit)
        if u == keep or not planted(question, unit_text(u, hits))
    ]


def section_list(
    question: str, hits: Sequence[Hit], section: int, ranked: list[Scored], planted: Planted
) -> tuple[list[Unit], int]:
    """The list or table of the section the question names (`section_asked`), under the
    sentence that introduces it when that ends with a colon; the best unit alone when
    planted-instruction filtering leaves no list there."""
    units = joinable_units(question, hits, section, None, planted)
    run = list_part(units)
    if run is None:
        return [ranked[0].unit], 0
    start, end = run
    text = hits[section].chunk.text
    lead = units[start - 1] if start > 0 else None
    chosen = [lead] if lead is not None and ends_colon(text, lead) else []
    items = list(units[start:end])
    more = shorten_items(question, items, ranked, hits)
    return chosen + items, more


def shorten_items(
    question: str, items: list[Unit], ranked: list[Scored], hits: Sequence[Hit]
) -> int:
    """`lists.shorten` around the item the question asks about (`lists.asked_item`)."""
    if len(items) <= LONG_LIST:
        return 0
    texts = [unit_text(u, hits) for u in items]
    scores = {s.unit: s.score for s in ranked}
    language = hits[items[0].hit].chunk.language
    return shorten(items, asked_item(question, items, texts, scores, language))


def unit_terms(scored: Scored, hits: Sequence[Hit]) -> set[str]:
    """The terms of a scored unit's text, analysed in its passage's language."""
    return set(analyser_for(hits[scored.unit.hit].chunk.language).terms(scored.text))


def terms_lacking(question: str, best: Scored, hits: Sequence[Hit]) -> set[str]:
    """The question's content terms (its passage's language) that the best unit lacks."""
    asked = analyser_for(hits[best.unit.hit].chunk.language).content_terms(question)
    return set(asked) - unit_terms(best, hits)


def pieces(
    chosen: list[Unit], hits: Sequence[Hit], more: int = 0, more_at: Sequence[int] = ()
) -> list[str]:
    """The answer's text, unit by unit: sentences of one passage run on (a new line after
    a source line that ends unfinished, and before a note line: an unfinished line of its
    own, "US staff: expect it on your next payslip"), list items and table rows one per
    line (items as "- item" when there are several), a row under its table's header line
    (never the `|---|` line; each table's rows under their own), Markdown emphasis removed;
    `more` items or rows left out are said last, "+N more in SOURCE, SECTION", where
    `more_at` (hit indices) or else the last unit's passage holds them."""
    pieces: list[str] = []
    previous: Unit | None = None
    n_items = sum(u.kind == "item" for u in chosen)
    for unit in chosen:
        body = hits[unit.hit].chunk.text[unit.start : unit.end]
        body = re.sub(r"[ \t]*\n[ \t]*(?=\S)", _rejoin(unit), body)
        if unit.kind == "item" and n_items > 1:
            body = f"- {body}"
        shown_header = previous is not None and same_table(unit, previous, hits)
        if unit.header and not shown_header:
            body = f"{unit.header.splitlines()[0]}\n{body}"
        if previous is None:
            separator = ""
        elif previous.hit == unit.hit and previous.kind == unit.kind == "sentence":
            # run on, unless the source breaks the line after an unfinished one (lines
            # of a note: "...within 1 month of approval" / "Non-US teammates: ...")
            text = hits[unit.hit].chunk.text
            broken = "\n" in text[previous.end : unit.start]
            unfinished = not ends_sentence(text, previous) or _note_line(text, unit)
            separator = "\n" if broken and unfinished else " "
        else:
            separator = "\n"
        pieces.append(separator + plain(body))
        previous = unit
    # Inline markers: "[n]" (n = the passage's 1-based position, the citations' number)
    # closes each run of units quoted from one passage: "...25 days of leave [1]."
    for index, unit in enumerate(chosen):
        if index + 1 == len(chosen) or chosen[index + 1].hit != unit.hit:
            pieces[index] = with_marker(pieces[index], unit.hit + 1)
    if more and chosen:
        where = "; ".join(_place(hits[i].chunk) for i in (more_at or [chosen[-1].hit]))
        rows = (" row" if more == 1 else " rows") if chosen[-1].kind == "row" else ""
        pieces.append(f"\n+{more} more{rows} in {where}")
    return pieces


def _place(chunk: Chunk) -> str:
    """Where a passage is: "SOURCE, page N, SECTION"."""
    where = f"{chunk.source}" + (f", page {chunk.page}" if chunk.page else "")
    return where + (f", {chunk.section}" if chunk.section else "")


def citations(chosen: list[Unit], hits: Sequence[Hit]) -> tuple[Citation, ...]:
    """One citation per run of chosen units that are adjacent in one chunk (one quote each,
    Markdown emphasis removed), in the order of `chosen`."""
    citations: list[Citation] = []
    spans: list[tuple[int, int, int]] = []
    for unit in chosen:  # merge units that are adjacent in the same chunk into one quote
        text = hits[unit.hit].chunk.text
        gap = text[spans[-1][2] : unit.start].strip() if spans else ""
        if spans and spans[-1][0] == unit.hit and (not gap or BULLET.fullmatch(f"{gap} ")):
            spans[-1] = (unit.hit, spans[-1][1], unit.end)
        else:
            spans.append((unit.hit, unit.start, unit.end))
    for hit, start, end in spans:
        chunk = hits[hit].chunk
        quote = plain(chunk.text[start:end])
        citations.append(Citation.of(chunk, quote))
    return tuple(citations)


def with_marker(text: str, number: int) -> str:
    """`text` with " [number]" before its closing punctuation: "25 days." -> "25 days [1]."."""
    body = text.rstrip()
    stop = len(body.rstrip(".!?;:"))
    return f"{body[:stop]} [{number}]{body[stop:]}{text[len(body) :]}"


def _note_line(text: str, unit: Unit) -> bool:
    """Whether the unit is a whole source line of its own that ends unfinished (a note under
    a reply, "Staff elsewhere: add it to your next invoice"), not a wrapped sentence."""
    line_end = text.find("\n", unit.end)
    whole_line = (unit.start == 0 or text[unit.start - 1] == "\n") and (
        line_end < 0 or not text[unit.end : line_end].strip()
    )
    return whole_line and "\n" not in text[unit.start : unit.end] and not ends_sentence(text, unit)


def _second_in_same_list(
    ranked: Sequence[Scored], units: Sequence[Unit], position: int, ratio: float
) -> bool:
    """Whether the runner-up unit, scoring at least `ratio` x the best, is another item of
    the best unit's list (row of its table)."""
    best = ranked[0].unit
    if position < 0 or len(ranked) < 2 or not same_run(ranked[1].unit, best):
        return False
    if ranked[1].score < ratio * ranked[0].score:
        return False
    runner = ranked[1].unit
    if runner.hit != best.hit or runner not in units:
        return False
    lo, hi = sorted((position, units.index(runner)))
    return all(same_run(u, best) for u in units[lo : hi + 1])


def _led_list(question: str, hits: Sequence[Hit], unit: Unit, planted: Planted) -> list[Unit]:
    """The list items `unit` introduces: when it is a sentence ending in ":" that a list
    directly follows, the run of items after it; else none."""
    if unit.kind != "sentence" or not ends_colon(hits[unit.hit].chunk.text, unit):
        return []
    units = joinable_units(question, hits, unit.hit, unit, planted)
    position = units.index(unit)
    if position + 1 >= len(units) or units[position + 1].kind != "item":
        return []
    return run_of_items(units, position + 1)


def _list_ratio(
    trained: bool, text: str, units: Sequence[Unit], position: int, ranked: Sequence[Scored]
) -> float:
    """The share of the best unit's score at which another item of its list makes the answer
    the whole list (`_second_in_same_list`): for the trained readers `LIST_RATIO` when the
    question reads more like the sentence that introduces the list than like its best item
    (`_asks_for_the_list`) and the items are not "key: value" facts (`lists.key_value_run`:
    a question about one of them wants that one); otherwise, and for the heuristic reader
    (the benchmark's baseline), only a near tie (`SECOND_UNIT_RATIO`) means the list."""
    if not trained or key_value_run(text, units, position):
        return SECOND_UNIT_RATIO
    return LIST_RATIO if _asks_for_the_list(ranked, units, position) else SECOND_UNIT_RATIO


def _asks_for_the_list(ranked: Sequence[Scored], units: Sequence[Unit], position: int) -> bool:
    """Whether a sentence introducing the best item's list (one of the INTRO_SENTENCES + 1
    sentences right before it: "There are four types of leave for veterans:", or the lead
    and a note under it) is a candidate whose cosine with the question (the dense score) is
    at least the best item's: the question names what the list is a list of, not what one
    item says."""
    first = position
    while first > 0 and same_run(units[first - 1], units[position]):
        first -= 1
    intro = set()
    for unit in reversed(units[max(0, first - INTRO_SENTENCES - 1) : first]):
        if unit.kind != "sentence":
            break
        intro.add(unit)
    return any(s.unit in intro and s.dense >= ranked[0].dense for s in ranked[1:])


def coverage_lines(
    names: Sequence[str],
    missing: Sequence[str],
    hits: Sequence[Hit],
    ranked: Sequence[Scored],
    chosen: Sequence[Unit],
    metadata: dict[str, Any],
    question: str = "",
) -> list[str]:
    """The lines after an answer that say which asked names it does not cover (recorded in
    `metadata` too): an asked code, labelled number or year whose sibling the quoted units
    (and their headings) hold instead ("The documents cover FY25, not FY26." when no passage
    mentions FY26, else "This answer is about FY25, not FY26."; a year is judged on the
    headings and the sentence of the quoted units the question's words point at,
    `coverage.instead`); names no passage mentions
    ("The documents don't mention Singapore."); names the quoted passages lack while another
    passage is about them (`not_about`: "The quoted passage doesn't mention Chicago.")."""
    at = list(dict.fromkeys(u.hit for u in chosen))
    said = "\n".join([*(hits[i].chunk.context for i in at), *(unit_text(u, hits) for u in chosen)])
    headings = "\n".join(hits[i].chunk.context for i in at)
    # the fact: the sentence of the quoted units that the question's words point at (an
    # asked year is judged on it)
    quoted = "\n".join(unit_text(u, hits) for u in chosen)
    fact = fact_sentence(question, quoted) if question else ""
    passages = "\n".join(hits[i].chunk.text for i in at)
    swapped = instead(names, said, passages, headings, fact)
    lines = []
    for name, values in swapped:
        where = "The documents cover" if name in missing else "This answer is about"
        lines.append(f"\n{where} {join_names(values, 'and')}, not {name}.")
    if swapped:
        metadata["covered_instead"] = {name: values for name, values in swapped}
    done = {name for name, _ in swapped}
    if rest := [n for n in missing if n not in done]:
        lines.append(f"\nThe documents don't mention {join_names(rest)}.")
    others = [h for i, h in enumerate(hits) if i not in at]
    other_units = [s.text for s in ranked if s.unit.hit not in at]
    candidates = [n for n in names if n not in missing and n not in done]
    aside = not_about(candidates, [hits[i] for i in at], others, other_units)
    if aside:
        metadata["uncovered_by_answer"] = aside
        verb, noun = ("doesn't", "passage") if len(at) == 1 else ("don't", "passages")
        lines.append(f"\nThe quoted {noun} {verb} mention {join_names(aside)}.")
    return lines


def _rejoin(unit: Unit) -> str:
    """What a line break inside a unit becomes when quoted: a space, or for a row a newline."""
    # hard-wrapped sentence lines read as one line; table and header lines keep their breaks
    return "\n" if unit.kind == "row" else " "


def _normalise(text: str) -> str:
    """The text's words joined by single spaces: two units that quote the same words match."""
    return " ".join(words(text))


def _whole_list(
    text: str, units: Sequence[Unit], position: int, best: Unit, *, paragraph: bool = False
) -> tuple[list[Unit], list[Unit]]:
    """The list (or table) holding `best` (at `position` of `units`): its lead when that ends
    with a colon (with `paragraph`, also the paragraph the list directly follows,
    `list_after`: "... for the topics below."), and every item of the same run, from the
    run's first item on."""
    first = position
    while first > 0 and same_run(units[first - 1], best):
        first -= 1
    lead = units[first - 1] if first > 0 else None
    introduces = lead is not None and (
        ends_colon(text, lead) or (paragraph and list_after(units, first - 1, text) == first)
    )
    chosen = [lead] if lead is not None and introduces else []
    return chosen, [u for u in run_of_items(units, first) if same_run(u, best)]
