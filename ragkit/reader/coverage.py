"""Asked-about names, codes and numbers that none of the retrieved passages mention.

"What is the home office allowance in the Singapore office?" over passages about Dublin and
Manchester must not be answered with Dublin's figure. A name or code the question asks about
(`ragkit.reader.names.asked_names`: a run of capitalised words past the start of a
sentence or clause, a code with a digit, a year, a labelled number: "Singapore", "Bastille
Day", "MR07", "2019", "Level 2") that appears in none of the retrieved passages, their
titles, headings or file names means the documents do not cover the question as asked,
whatever the best sentence is: an answer then ends "The documents don't mention Singapore."

A name of several words is mentioned where all its words are in one passage ("Reagan
National" in "Reagan Washington National Airport"); a labelled number where it is written
("Level 2"), or where its label is but no enumeration leaves the number out; an abbreviation
where it is written with stops or without ("D.C.", "DC") or spelled out as the initials of a
run of capitalised words ("NYC": "New York City"); a word with a possessive or clitic where
its stem is ("GSA's" mentions GSA). All by structure, in any language that writes names with
capitals. After an answer, an asked value the quoted units hold a sibling of instead is said
as such (`instead`: "The documents cover FY25, not FY26."), and a name the quoted passages
lack while another passage is about it (`not_about`) as "The quoted passage doesn't mention
Chicago."

Capitalisation only marks a name where it is rare (German capitalises every noun): see
`asked_names`. Measured on held-out answerable questions with their gold passage
(`tests/bench/bench_reader.py`): see the README's asking section.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property, lru_cache

from ragkit.reader.candidates import passages_text
from ragkit.reader.features import name_words, stem, tokens
from ragkit.reader.names import (
    CLAUSE_END,
    CONNECTOR_CHARS,
    DAY_DIGITS,
    MAX_CAPITALISED_SHARE,
    MAX_NAME_RUN_SHARE,
    STRUCTURE,
    YEAR,
    asked_names,
    function_words,
)
from ragkit.text.analyse import WORD
from ragkit.text.calendar_words import month_number
from ragkit.text.segment import split_sentences
from ragkit.types import Hit

__all__ = [
    "MAX_CAPITALISED_SHARE",
    "MAX_NAME_RUN_SHARE",
    "asked_names",
    "hit_text",
    "instead",
    "join_names",
    "mentioned",
    "not_about",
    "siblings",
    "uncovered",
]

_APOSTROPHE = re.compile(r"['’]")
# a date written in digits only ("27/12/2025", "2025-12-27")
_DIGIT_DATE = re.compile(r"(?<!\d)\d{1,4}[/-]\d{1,2}[/-]\d{1,4}(?!\d)")
# a connecting word between the capitalised words an abbreviation spells ("District of
# Columbia", "Ministério da Saúde"): short and lower case, by shape, in any language
_CONNECTOR = 3
# passages kept built (`_passage`): one answer's hits and quoted texts, a few times over
PASSAGE_CACHE = 64


def hit_text(hit: Hit) -> str:
    """What a passage says: its file name, title and heading path, and text, each on a line
    of its own (a heading is no part of the text's first sentence)."""
    return f"{hit.chunk.source}\n{hit.chunk.context}\n{hit.chunk.text}"


def _word_forms(word: str) -> set[str]:
    """The forms a passage word matches an asked word by: itself, without its stops when it
    is an abbreviation ("d.c" -> "dc"), and the parts around an apostrophe ("gsa's" -> "gsa",
    "d'irlande" -> "irlande")."""
    forms = {word}
    if "." in word and not any(c.isdigit() for c in word):
        forms.add(word.replace(".", ""))
    if _APOSTROPHE.search(word):
        forms.update(part for part in _APOSTROPHE.split(word) if part)
    return forms


def _matches(asked: str, forms: set[str], stems: set[str]) -> bool:
    """An asked word against a passage word's forms: equal, or (no digit) the same stem."""
    if asked in forms:
        return True
    return not any(c.isdigit() for c in asked) and stem(asked) in stems


class _Passage:
    """A passage's words, each with its forms, and (computed on first need: most asked names
    are settled by a word form) their stems and the passage's abbreviations by initials."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.forms = [_word_forms(w) for w in tokens(text)]
        self.all_forms: set[str] = set().union(*self.forms) if self.forms else set()

    @cached_property
    def stems(self) -> list[set[str]]:
        return [{stem(f) for f in forms} for forms in self.forms]

    @cached_property
    def all_stems(self) -> set[str]:
        return {stem(f) for f in self.all_forms}

    @cached_property
    def initials(self) -> set[str]:
        return _initials(self.text)

    def holds(self, name: str) -> bool:
        asked = _asked_words(name)
        if not asked:
            return True
        # every word of a name somewhere in one passage: "Reagan National" in "Reagan
        # Washington National Airport"
        if all(a in self.all_forms for a in asked):
            return True
        if len(asked) == 1 and len(asked[0]) > 1 and asked[0] in self.initials:
            return True  # "NYC" in "New York City"
        return all(_matches(a, self.all_forms, self.all_stems) for a in asked)

    def label_values(self, label: str) -> set[str] | None:
        """The numbers written after `label` here ("Level 5" -> "5"); None without the label."""
        if not _matches(label, self.all_forms, self.all_stems):
            return None
        values: set[str] = set()
        stems = self.stems
        for i in range(len(self.forms) - 1):
            if _matches(label, self.forms[i], stems[i]):
                values.update(f for f in self.forms[i + 1] if f.isdigit())
        return values


@lru_cache(maxsize=PASSAGE_CACHE)
def _passage(text: str) -> _Passage:
    """The `_Passage` of `text`, built once: an answer asks of the same hits for its asked
    names, stated names, the quoted passages' aside and siblings."""
    return _Passage(text)


def _written(name: str, text: str) -> bool:
    """Whether a labelled number stands in `text` as asked ("Level 2")."""
    label, number = _asked_words(name)
    values = _passage(text).label_values(label)
    return values is not None and number in values


def _left_out(number: int, values: set[int]) -> bool:
    """Whether an enumeration of `values` leaves `number` out: two or more values that run
    (near) consecutively, at most one gap ("Level 5, Level 4 and Level 3", "Room 1 and Room
    3"), with `number` outside them. Values spread wider are bounds, not a list: "EUR 60 per
    day and EUR 300 per trip" may cover EUR 40, "November 1 ... November 15" bounds a window
    that November 20 is asked against, not an enumeration that leaves it out."""
    if len(values) < 2 or max(values) - min(values) + 1 > len(values) + 1:
        return False
    return not min(values) <= number <= max(values)


def _asked_words(name: str) -> list[str]:
    """An asked name's words as a passage word's forms are matched: without stops in an
    abbreviation, without a possessive or clitic."""
    asked = [w if any(c.isdigit() for c in w) else w.replace(".", "") for w in name_words(name)]
    return [w for w in (_APOSTROPHE.split(w)[0] for w in asked) if w]


def _is_label(asked: Sequence[str]) -> bool:
    return len(asked) == 2 and asked[1].isdigit() and not any(c.isdigit() for c in asked[0])


def _initials(text: str) -> set[str]:
    """The lower-cased initials of every whole run of two or more capitalised words in `text`
    (short lower-case connecting words skipped, never at a run's end): "New York City" ->
    "nyc", "District of Columbia" -> "dc". A run that opens a line, heading part, sentence or
    clause counts whole only when it is all of it (a heading, "New York City"); otherwise its
    first word is capitalised by its place, not as part of a name ("See Facilities for a
    permit" spells no "SF")."""
    found: set[str] = set()
    for piece in STRUCTURE.split(text):
        for clause in CLAUSE_END.split(piece):
            raw = WORD.findall(clause)
            run: list[str] = []
            start = pending = 0  # where the run starts; connecting words since its last word
            for n, word in enumerate([*raw, ""]):
                if word[:1].isupper() and word[:1].isalpha():
                    if not run:
                        start = n
                    run.append(word[0].lower())
                    pending = 0
                    continue
                if run and word.islower() and len(word) <= _CONNECTOR and pending == 0:
                    pending += 1
                    continue
                if run and start == 0 and n - pending < len(raw):
                    run = run[1:]  # opens the clause without being all of it
                if len(run) >= 2:
                    found.add("".join(run))
                run, pending = [], 0
    return found


def mentioned(names: Sequence[str], texts: Sequence[str]) -> list[str]:
    """The `names` that at least one of `texts` mentions (see the module docstring)."""
    if not names:
        return []
    passages = [_passage(t) for t in texts]
    return [n for n in names if _held(n, passages)]


def _held(name: str, passages: Sequence[_Passage]) -> bool:
    asked = _asked_words(name)
    if _is_date(asked):
        return _date_held(int(asked[0]), month_number(asked[-1]) or 0, passages)
    if not _is_label(asked):
        return any(p.holds(name) for p in passages)
    # a labelled number ("Level 2") is mentioned where it is written, or where its label is
    # but no enumeration leaves the number out: passages on "Level 5, Level 4 and Level 3"
    # do not mention Level 2; one on "September 1" may well cover September 15 (a bound)
    found = [v for v in (p.label_values(asked[0]) for p in passages) if v is not None]
    values = set().union(*found) if found else set()
    return bool(found) and (
        asked[1] in values or not _left_out(int(asked[1]), {int(v) for v in values})
    )


def _is_date(asked: Sequence[str]) -> bool:
    """A day-first date's words ("27 december", "27 de dezembro": `names.day_first_date`)."""
    return len(asked) in (2, 3) and asked[0].isdigit() and month_number(asked[-1]) is not None


def _is_day(word: str) -> bool:
    return word.isdigit() and len(word) <= DAY_DIGITS and 1 <= int(word) <= 31


def _is_connector(word: str) -> bool:
    return word.isalpha() and word.islower() and len(word) <= CONNECTOR_CHARS


def _days(words: Sequence[str], month: int) -> set[int]:
    """The day numbers written beside the month numbered `month` in `words` (as `WORD`
    splits them, without commas), in any of the calendar languages: after it ("December
    27"), or before it with at most one short lower-case connecting word ("27 December", "27
    de dezembro"), and every day of a list ending so ("24, 25 and 26 December", "24, 25 e 26
    de dezembro")."""
    days: set[int] = set()
    for i, word in enumerate(words):
        if month_number(word) != month:
            continue
        if i + 1 < len(words) and _is_day(words[i + 1]):
            days.add(int(words[i + 1]))
        j = i - 1
        if j >= 1 and _is_connector(words[j]) and _is_day(words[j - 1]):
            j -= 1
        while j >= 0 and _is_day(words[j]):
            days.add(int(words[j]))
            j -= 1
            if j >= 1 and _is_connector(words[j]) and _is_day(words[j - 1]):
                j -= 1
    return days


def _date_held(day: int, month: int, passages: Sequence[_Passage]) -> bool:
    """Whether the passages cover an asked date: they write that day beside its month, or
    days of that month that bound it rather than enumerate around it (`_left_out`: "24, 25
    and 26 December" leave out 27 December; "1 and 31 December" may bound it), or dates in
    digits only (the month is then unknown). A month no passage names, in a passage without
    dates in digits, is not covered."""
    days: set[int] = set()
    named = False
    for passage in passages:
        words = WORD.findall(passage.text)
        named = named or any(month_number(w) == month for w in words)
        days |= _days(words, month)
    if day in days:
        return True
    if not named:
        return any(_DIGIT_DATE.search(p.text) for p in passages)
    return not _left_out(day, days)


def uncovered(question: str, hits: Sequence[Hit], names: Sequence[str] | None = None) -> list[str]:
    """The asked names and codes found in none of the hits (text, title, headings, source).
    `names`: the question's asked names when the caller has them (else `asked_names` of the
    question over all the hits' text)."""
    if names is None:
        names = asked_names(question, passages_text(hits))
    if not names:
        return []
    texts = [hit_text(h) for h in hits]
    held = set(mentioned(names, texts))
    return [n for n in dict.fromkeys(names) if n not in held]


def _shape(word: str) -> str:
    return re.sub(r"\d", "9", re.sub(r"[^\W\d_]", "a", word.lower()))


def siblings(name: str, text: str, passage: str = "", headings: str = "") -> list[str]:
    """Values in `text` (what an answer says) of the asked value's shape but not it, as
    written: for a code, codes of the same letter-and-digit pattern ("FY25" for "FY26",
    "QX41" for "MR07"); for a labelled number, when `text` holds the label with another
    number, the label's numbers in `passage` (the quoted passages; `text` when empty) if they
    enumerate values that leave the asked one out ("Level 5, Level 4 and Level 3" for "Level
    2"; not "September 1" for "September 15", a bound that may cover it); for a year, the
    year that ends the nearest heading of a quoted passage's heading path (`headings`, one
    path a line: "Pay Review 2025", the period a section is about; not an ancestor's edition
    year, "Employee Handbook 2023 > Annual leave"; a year in a sentence is often a bound,
    "after May 2021", that may cover the asked one). Empty for names and plain numbers."""
    asked = _asked_words(name)
    if len(asked) == 1 and YEAR.fullmatch(asked[0]):
        return _section_years(headings, asked[0])
    if len(asked) == 1 and _is_code(asked[0]):
        shape = _shape(asked[0])
        found = [
            w
            for w in WORD.findall(text)
            if _is_code(w) and _shape(w) == shape and w.lower() != asked[0]
        ]
        return list(dict.fromkeys(found))
    if not _is_label(asked) or not _labelled(asked, text):
        return []
    enumerated = _labelled(asked, f"{passage}\n{text}")
    if not _left_out(int(asked[1]), {int(b) for _, b in enumerated}):
        return []
    return list(dict.fromkeys(f"{a} {b}" for a, b in enumerated))


def _section_years(headings: str, asked: str) -> list[str]:
    """The years other than `asked` that end the nearest heading of a heading path (one path
    a line, parts split by " > "): "Pay > Pay Review 2025" is a section about 2025; an
    ancestor's year is an edition or a document's date ("Employee Handbook 2023 > Annual
    leave"), not what the section is about."""
    years = []
    for path in headings.splitlines():
        last = WORD.findall(path.split(" > ")[-1])
        if last and YEAR.fullmatch(last[-1]) and last[-1] != asked:
            years.append(last[-1])
    return list(dict.fromkeys(years))


def _labelled(asked: Sequence[str], text: str) -> list[tuple[str, str]]:
    """(label, number) pairs in `text` with the asked label and another number."""
    raw = WORD.findall(text)
    label = stem(asked[0])
    return [
        (a, b)
        for a, b in zip(raw, raw[1:], strict=False)
        if stem(a.lower()) == label and b.isdigit() and b != asked[1]
    ]


def _is_code(word: str) -> bool:
    return any(c.isdigit() for c in word) and any(c.isalpha() for c in word)


def not_about(
    names: Sequence[str], quoted: Sequence[Hit], others: Sequence[Hit], other_units: Sequence[str]
) -> list[str]:
    """Asked `names` the quoted passages do not mention while another retrieved passage is
    about them: names them in its file name, title or heading path ("Chicago > Parking"), or
    in one of its units the reader ranked as a candidate answer (the FY26 row of a dates
    table). A passing mention in the body of a passage the answer does not draw on ("...the
    NYC, Chicago, or D.C. buildings") is not enough: the answer would point at a passage
    that does not answer."""
    held = set(mentioned(names, [hit_text(h) for h in quoted]))
    absent = [n for n in names if n not in held]
    about = [f"{h.chunk.source} {h.chunk.context}" for h in others] + list(other_units)
    return mentioned(absent, about)


def instead(
    names: Sequence[str], said: str, passages: str = "", headings: str = "", fact: str = ""
) -> list[tuple[str, list[str]]]:
    """(asked value, the values of its shape the answer covers instead) for each asked code,
    labelled number or year that `said` (the answer's units and their headings) does not
    mention while it holds a sibling (`siblings`; `passages`: the quoted passages' text,
    `headings`: their titles and heading paths): "FY26" over a row for "FY25" -> ("FY26",
    ["FY25"]). An asked year is judged on `fact` (when given: the sentence of the answer
    that the question points at, `fact_sentence`) and the headings, not on the rest
    of the answer: "When is the 2026 enrolment window?" answered "The
    window runs from 3 to 21 November 2025. Changes take effect on 1 January 2026." under
    "Benefits Guide 2025" is about 2025 (`period_years`), whatever the next sentence dates."""
    held = set(mentioned(names, [said]))
    # a labelled number is held where it is written ("Level 4" does not hold Level 2,
    # though it bounds no enumeration)
    held -= {n for n in held if _is_label(_asked_words(n)) and not _written(n, said)}
    if fact:
        years = [n for n in names if _is_year(n)]
        held -= set(years) - set(mentioned(years, [f"{headings}\n{fact}"]))
    found = [
        (n, _year_siblings(n, fact, headings))
        if fact and _is_year(n)
        else (n, siblings(n, said, passages, headings))
        for n in names
        if n not in held
    ]
    return [(n, s) for n, s in found if s]


def fact_sentence(question: str, quoted: str) -> str:
    """The sentence of `quoted` (an answer's units, a line each) that shares most of the
    question's content words (stems; the first on a tie): where an answer of several
    sentences states what was asked ("The window runs from 3 to 21 November 2025." before
    "Changes made in it take effect on 1 January 2026." for "When is the 2026 enrolment
    window?"). Function words are the Snowball lists' of every language
    (`ragkit.reader.names`)."""
    sentences = [
        line[a:b] for line in quoted.splitlines() for a, b in split_sentences(line) if b > a
    ]
    if len(sentences) < 2:
        return quoted
    asked = {stem(w) for w in tokens(question) if w not in function_words()}
    return max(sentences, key=lambda s: len(asked & {stem(w) for w in tokens(s)}))


def _is_year(name: str) -> bool:
    asked = _asked_words(name)
    return len(asked) == 1 and YEAR.fullmatch(asked[0]) is not None


def _year_siblings(asked: str, fact: str, headings: str) -> list[str]:
    """The years an answer is about instead of the asked one: the nearest heading's
    (`_section_years`) and the fact's `period_years`, in that order."""
    years = _section_years(headings, asked) + period_years(fact, headings, asked)
    return list(dict.fromkeys(years))


def period_years(fact: str, headings: str, asked: str) -> list[str]:
    """The years other than `asked` that `fact` (a unit) states and its heading path names
    too, at any level: the period its document or section is about ("3 to 21 November 2025"
    under "Benefits Guide 2025"). Either alone says less: a year in a sentence is often a
    bound ("after May 2021") that may cover the asked one, and an ancestor heading's year
    may be an edition ("Employee Handbook 2023 > Annual leave") still in force; a fact dated
    in its document's year is about that year."""
    named = {w for path in headings.splitlines() for w in WORD.findall(path) if YEAR.fullmatch(w)}
    stated = [w for w in WORD.findall(fact) if YEAR.fullmatch(w) and w != asked]
    return list(dict.fromkeys(w for w in stated if w in named))


def join_names(names: Sequence[str], conjunction: str = "or") -> str:
    """ "A", "A or B", "A, B or C" (the conjunction as given)."""
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]
