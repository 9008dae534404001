"""Calendar words: weekday, month and day-period names, from CLDR locale data via Babel.

"Can I take Monday off for Easter?" or "Which holidays are in December?" name no place,
team or document a passage must mention: "Monday" and "December" are capitalised because
English capitalises calendar words, not because they are names. The reader's asked names
(`ragkit.reader.names`) leave out a run of capitalised words that is all calendar words.

The words come from the Unicode CLDR data Babel ships (no word list of our own, issue #11):
for each of CALENDAR_LOCALES, the day and month names in their "wide" width, format and
stand-alone forms ("Monday", "segunda-feira", "Dezember"), and the day periods "AM" and "PM".
Abbreviated names ("Aug.", "Dez.", "seg.") count only when the question writes them with
their stop: without it "Jan", "Sam", "Dom", "Out" or "Mar" are first names and words as
often as months. The "short" and "narrow" widths ("Mo", "M", "MA", "DO") are left out: two
upper-case letters are far more often a code or a place ("MA", "DO") than a weekday. Full
names that are also first names ("May", "June", "April", "August") are read as months
(README, weaknesses). Loaded once, on first use (Babel's locale data is read lazily, so
`import ragkit` stays fast).
"""

from __future__ import annotations

import re
from functools import lru_cache

# The languages ragkit's users write (README: English and Portuguese) and the other
# Western European languages the reader is measured on (xquad es/de) or commonly meets.
CALENDAR_LOCALES = ("en", "pt", "es", "de", "fr", "it", "nl")
# CLDR's day-period keys whose names are calendar words: "AM", "PM" ("8 AM"). The others
# ("noon", "meio-dia", "tarde", "sera") are lower case in running text, and capitalised they
# are first names ("Sera", "Dia") far more often than times of day.
DAY_PERIODS = ("am", "pm")


def _clean(name: str) -> str:
    return name.strip().rstrip(".").replace("\u202f", "").replace("\xa0", "")


def _forms(names: set[str]) -> frozenset[str]:
    """Each name as CLDR writes it and with its first letter capitalised ("dezembro" ->
    also "Dezembro"), without a final stop, each hyphenated part too ("segunda-feira" ->
    "segunda", "feira")."""
    words: set[str] = set()
    for name in map(_clean, names):
        for form in (name, *name.split("-")):
            if len(form) > 1:
                words.update((form, form[0].upper() + form[1:]))
    return frozenset(words)


def _names(width: str) -> set[str]:
    """The one-word day and month names of CALENDAR_LOCALES in one CLDR width, format and
    stand-alone forms, and the DAY_PERIODS."""
    from babel import Locale

    found: set[str] = set()
    for code in CALENDAR_LOCALES:
        locale = Locale.parse(code)
        for table in (locale.days, locale.months):
            for context in table:
                found.update(table[context].get(width, {}).values())
        for context in locale.day_periods:
            for period_width in ("wide", "abbreviated"):
                periods = locale.day_periods[context].get(period_width, {})
                found.update(periods[key] for key in DAY_PERIODS if key in periods)
    return {n for n in found if " " not in n.strip()}


@lru_cache(maxsize=1)
def calendar_words() -> frozenset[str]:
    """Every full ("wide") day and month name of CALENDAR_LOCALES ("Monday", "segunda-feira",
    "Dezember") and "AM"/"PM", in the forms `_forms` gives. Case matters: "MAY" in capitals
    is not matched."""
    return _forms(_names("wide"))


@lru_cache(maxsize=1)
def abbreviations() -> frozenset[str]:
    """The abbreviated day and month names ("Aug", "Dez", "seg") that are not also full
    names: a calendar word only when written with its stop ("Aug."), since without one they
    are as often first names ("Jan", "Sam", "Dom") or words ("Out", "Mat")."""
    return _forms(_names("abbreviated")) - calendar_words()


@lru_cache(maxsize=1)
def _month_numbers() -> dict[str, int]:
    """Lower-cased full ("wide") month name of any of CALENDAR_LOCALES -> its number (1-12):
    "december", "dezembro", "dezember" -> 12."""
    from babel import Locale

    found: dict[str, int] = {}
    for code in CALENDAR_LOCALES:
        months = Locale.parse(code).months
        for context in months:
            for number, name in months[context].get("wide", {}).items():
                if " " not in _clean(name):
                    found[_clean(name).lower()] = int(number)
    return found


def month_number(word: str) -> int | None:
    """The month a full month name stands for, in any of CALENDAR_LOCALES ("December",
    "dezembro" -> 12), or None: what a day number is written beside in a date ("27
    December", "27 de dezembro", "December 27"). Case does not matter."""
    return _month_numbers().get(word.lower())


def is_calendar_name(name: str, text: str = "") -> bool:
    """Whether every word of `name` (a run of capitalised words as a question writes it,
    "Monday", "Easter Monday") is a calendar word: "Monday" is, "Easter Monday" is not; an
    abbreviation ("Aug") only where `text` (the question) writes it with a stop ("Aug.")."""
    words = name.split()
    known, short = calendar_words(), abbreviations()
    return bool(words) and all(
        w.rstrip(".") in known
        or (w.rstrip(".") in short and re.search(rf"(?<!\w){re.escape(w.rstrip('.'))}\.", text))
        for w in words
    )
