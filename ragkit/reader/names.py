"""The names, codes, years and labelled numbers a question asks about, and which of its
sentences ask and which state the asker's case (`ragkit.reader.coverage` says whether the
passages mention them). By structure, in any language that writes names with capitals: a
run of capitalised words past the start of a sentence or clause, a code with a digit, a year,
a capitalised word with the number it labels; no word lists."""

from __future__ import annotations

import re
from functools import cache

from ragkit.text.analyse import WORD, languages, stopwords
from ragkit.text.calendar_words import is_calendar_name, month_number
from ragkit.text.segment import CLOSING, QUESTION_MARKS, split_sentences

# A capital after these starts a sentence or clause, not a name ("...to that, How long...");
# a comma or stop inside a number ("$3,000", "3.5") ends nothing.
CLAUSE_END = re.compile(r"[.!?¿¡,;:](?:\s+|$)|[()\[\]\"“”]\s*")
YEAR = re.compile(r"(?:1[89]|2[01])\d\d")
# a number with a lower-case ending is an ordinal or a number with its unit ("4th", "2nd",
# "10am", "5º"), not a code ("FY25", "MR07", "M7" open with a letter or are upper case)
_NUMBER_WITH_ENDING = re.compile(r"\d+([^\W\d_]{1,3})")
# a possessive or clitic ending ("Dublin's", "DM'd"): not part of the name
_CLITIC = re.compile(r"['’][^\W\d_]{1,2}$")
# what opens a piece of text as a sentence does: a line, a table cell, a heading part
STRUCTURE = re.compile(r"\n|\||\s>\s")
# Capitalised words mark names unless more than MAX_CAPITALISED_SHARE of a question's
# non-initial words are capitalised, or more than MAX_NAME_RUN_SHARE of them start a run of
# capitalised words (German capitalises every noun). Chosen on the training halves (squad2
# train articles, xquad de/es train articles; answerable questions, their gold paragraph): no
# more false "not mentioned" alarms than the single 0.3 word share had (84/1440, de 25/479, es
# 13/479 against 85, 49, 13), while "Is Bastille Day a public holiday in the Paris office?"
# (3 of 9 words capitalised, in 2 runs) keeps its names.
MAX_CAPITALISED_SHARE = 0.35
MAX_NAME_RUN_SHARE = 0.25
# ... or whatever the question, when the passages it is asked of capitalise at most this share
# of their words (German passages: 0.26 at the 1st percentile of xquad-de paragraphs; English
# handbook top-5 passages 0.17 at the 95th): see `capital_share`, chosen on training halves
MAX_PASSAGE_CAPITALS = 0.2
# A question that title-cases more than this share of its non-initial words ("How Many
# Vacation Days Do Part-Time Employees Get?"), or has no lower-case letter at all, is written
# in title case or capitals: its capitals say nothing of names, whatever the passages, so only
# codes, years and labels count. Upper-case words are not counted ("What's Sourcegraph's UK
# VAT number?" names its acronyms)
TITLE_CASE_SHARE = 0.5
MIN_PASSAGE_WORDS = 40
# a day number is at most this long ("27"), and a word between it and its month ("27 de
# dezembro", "27 of December") at most CONNECTOR_CHARS lower-case letters
DAY_DIGITS, CONNECTOR_CHARS = 2, 3


def day_first_date(words: list[str], at: int) -> int:
    """How many words from `at` form a day-first date ("27 December", "27 de dezembro": a
    day number, at most one short lower-case connecting word, a month name from CLDR,
    `month_number`); 0 when they form none."""
    day = words[at]
    if not (day.isdigit() and len(day) <= DAY_DIGITS and 1 <= int(day) <= 31):
        return 0
    if at + 1 < len(words) and month_number(words[at + 1]):
        return 2
    after = words[at + 1 : at + 3]
    if len(after) == 2 and after[0].islower() and len(after[0]) <= CONNECTOR_CHARS:
        return 3 if month_number(after[1]) else 0
    return 0


def _has_lower_ending(word: str) -> bool:
    ending = _NUMBER_WITH_ENDING.fullmatch(word)
    return ending is not None and ending.group(1).islower()


def capital_share(text: str) -> tuple[int, int]:
    """(capitalised, all) words of `text` that open no sentence, clause, line, table cell or
    heading part, digits aside: how often this text capitalises a word for itself."""
    capitalised = counted = 0
    for line in STRUCTURE.split(text):
        for clause in CLAUSE_END.split(line):
            for word in WORD.findall(clause)[1:]:
                if not any(c.isdigit() for c in word):
                    counted += 1
                    capitalised += word[:1].isupper() and len(word) > 1
    return capitalised, counted


def _capitals_are_rare(passages: str) -> bool:
    """Whether the passages capitalise few words (a language that capitalises names, not
    nouns): at most MAX_PASSAGE_CAPITALS of at least MIN_PASSAGE_WORDS counted words."""
    capitalised, counted = capital_share(passages)
    return counted >= MIN_PASSAGE_WORDS and capitalised <= MAX_PASSAGE_CAPITALS * counted


@cache
def function_words() -> frozenset[str]:
    """Every word of the Snowball stopword lists ragkit ships (pronouns, determiners,
    auxiliaries and their forms: "i", "my", "the", "eu", "estou", "tengo"), any language."""
    return frozenset().union(*(stopwords(language) for language in languages()))


def is_request(sentence: str) -> bool:
    """Whether a sentence without a question mark is a request ("List the public holidays of
    the Singapore office.", "Liste os feriados de Singapura.") rather than a statement of the
    asker's case ("I'm in Germany.", "A client sent me a gift card.", "Estou em Lisboa."):
    a request opens with its verb, a statement with its subject or an auxiliary, which are
    function words (the Snowball stopword lists). So: its first word (before an apostrophe,
    "I'm" -> "i") is a function word in no language, and no number. A statement in a language
    that drops its pronouns, opened by a verb the lists do not hold ("Moro na Alemanha."), reads
    as a request (README, weaknesses). An opening clause ending in a comma is a greeting or
    an address ("Hi, I'm Maria ...", "Por favor, liste ..."): the first word after it counts,
    and a capitalised one there is a name, the subject ("Hello, Maria here from Dublin.")."""
    opening = re.match(r"[^,;:]*,\s+(?=\w)", sentence)
    words = WORD.findall(sentence[opening.end() :] if opening else sentence)
    if not words or (opening and words[0][:1].isupper()):
        return False
    first = re.split(r"['’]", words[0])[0].lower()
    return not any(c.isdigit() for c in first) and first not in function_words()


def question_parts(question: str) -> tuple[str, str]:
    """(the sentences that ask, the sentences that state the asker's case): "I joined in
    2023. Does the new pay apply to me?" asks the second and states the first. By the
    question mark, in any language, and a request beside the question asks too ("List the
    public holidays of the Singapore office. Are they paid?": `is_request`); a question
    with no sentence ending in one, or with only such sentences, is all asking."""
    pieces = [question[a:b] for a, b in split_sentences(question)]
    marked = [p for p in pieces if p.rstrip(CLOSING).endswith(QUESTION_MARKS)]
    if not marked:
        return question, ""
    asking = [p for p in pieces if p in marked or is_request(p)]
    if not asking or len(asking) == len(pieces):
        return question, ""
    return " ".join(asking), " ".join(p for p in pieces if p not in asking)


def _in(name: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text) is not None


def asked_names(question: str, passages: str = "") -> list[str]:
    """The names the question asks about (`question_names`), those of a sentence that only
    states the asker's case before or after the question left out (`stated_names`): "I'm in
    Germany. Why did I get a different kind of stock option?" asks about no name, as "$30"
    in "A client sent me a $30 gift card. Can I keep it?" is no asked figure."""
    return asked_and_stated(question, passages)[0]


def stated_names(question: str, passages: str = "") -> list[str]:
    """The names only a sentence that states the asker's case holds ("Germany" in "I'm in
    Germany. Why did I get ...?"): said after an answer when no passage mentions them, never
    a reason to refuse."""
    return asked_and_stated(question, passages)[1]


def asked_and_stated(question: str, passages: str = "") -> tuple[list[str], list[str]]:
    """(`asked_names`, `stated_names`) of the question, its names read once."""
    names = question_names(question, passages)
    asking, stated = question_parts(question)
    if not stated:
        return names, []
    return [n for n in names if _in(n, asking)], [n for n in names if not _in(n, asking)]


def question_names(question: str, passages: str = "") -> list[str]:
    """The question's names, codes and years, as written, in order, without repeats: codes
    (words with a digit and a letter: "MR07", "FY25"), years ("2019"), runs of words
    capitalised past the start of a sentence or clause ("Singapore", "Bastille Day": a run is
    one name), and a capitalised word with the number it labels ("Level 2", "Room 4"). A run
    that is all calendar words ("Monday", "December": `ragkit.text.calendar_words`, CLDR
    data) is no name. Other
    numbers ("$30", "3,000") describe the asker's case, not something the documents must
    name; so does a number with a lower-case ending ("4th", "10am"); neither does a one-letter
    pronoun with a clitic ("I'm", "I'd").

    Capitalisation only marks a name where it is rare: German capitalises every noun. It
    counts when the `passages` the question is asked of (hundreds of words: all retrieved
    text) capitalise at most MAX_PASSAGE_CAPITALS of their words; without passages, or over
    passages that capitalise more, when at most MAX_CAPITALISED_SHARE of the question's
    non-initial words are capitalised and at most MAX_NAME_RUN_SHARE start a run (a short
    question naming two places, "Meal allowance for Dublin and Manchester?", fails that
    question-only test: its few words cannot tell names from German nouns). Otherwise only
    codes, years and labelled numbers count; so also in a question written in title case or
    capitals (more than TITLE_CASE_SHARE of its non-initial words title-cased, or no lower-case
    letter)."""
    coded: list[tuple[int, str]] = []  # (position, name): codes, years, labels
    runs: list[tuple[int, str]] = []  # (position, run of capitalised words)
    later = n_capitalised = n_title = position = 0
    for clause in CLAUSE_END.split(question):
        raw = WORD.findall(clause)
        later += max(0, len(raw) - 1)
        run: list[str] = []
        skip = 0
        for n, word in enumerate(raw):
            position += 1
            if skip:  # the rest of a day-first date
                skip -= 1
                continue
            if date := day_first_date(raw, n):
                # "27 December", "27 de dezembro": a date, as "December 27" is a labelled
                # number ("Friday 27 December": the weekday is no label of the day)
                if run:
                    runs.append((position - len(run), " ".join(run)))
                    run = []
                coded.append((position, " ".join(raw[n : n + date])))
                skip = date - 1
                continue
            if any(c.isdigit() for c in word):
                label = run[-1] if run and word.isdigit() and not YEAR.fullmatch(word) else None
                if label is not None:  # "Level 2": the label and its number are one name
                    run.pop()
                    coded.append((position - 1, f"{label} {word}"))
                elif YEAR.fullmatch(word) or (
                    any(c.isalpha() for c in word) and not _has_lower_ending(word)
                ):
                    coded.append((position, word))
                if run:
                    runs.append((position - len(run), " ".join(run)))
                run = []
            elif n > 0 and word[:1].isupper() and len(re.split(r"['’]", word)[0]) > 1:
                run.append(word)
                n_capitalised += 1
                n_title += any(c.islower() for c in word)
                if _CLITIC.search(word):  # "Sourcegraph's UK VAT": a possessive ends a name
                    runs.append((position + 1 - len(run), " ".join(run)))
                    run = []
            else:
                if run:
                    runs.append((position - len(run), " ".join(run)))
                run = []
        if run:
            runs.append((position + 1 - len(run), " ".join(run)))
    by_question = (
        later
        and len(runs) / later <= MAX_NAME_RUN_SHARE
        and n_capitalised / later <= MAX_CAPITALISED_SHARE
    )
    title_case = not any(c.islower() for c in question) or (
        later and n_title / later > TITLE_CASE_SHARE
    )
    if not title_case and (by_question or _capitals_are_rare(passages)):
        names = coded + runs
    else:
        names = coded
    # "Dublin's setup allowance" asks about Dublin; "Monday" or "December" alone is a
    # calendar word capitalised by the language, not a name (a labelled date, "December
    # 25", and a run with a name, "Easter Monday", stay)
    found = (_CLITIC.sub("", name) for _, name in sorted(names))
    return list(dict.fromkeys(n for n in found if not is_calendar_name(n, question)))
