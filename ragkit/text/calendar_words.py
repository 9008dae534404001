"""Calendar words: weekday, month and day-period names, from CLDR locale data via Babel.

"Can I take Monday off for Easter?" or "Which holidays are in December?" name no place,
team or document a passage must mention: "Monday" and "December" are capitalised because
English capitalises calendar words, not because they are names. The reader's asked names
(`ragkit.reader.names`) leave out a run of capitalised words that is all calendar words.

The words come from the Unicode CLDR data Babel ships (no word list of our own, issue #11):
for each of CALENDAR_LOCALES, the day and month names in their "wide" and "abbreviated"
widths, format and stand-alone forms ("Monday", "Mon", "segunda-feira", "seg.",
"Dezember", "Dez."), and the one-word day periods ("AM", "PM", "midnight", "meia-noite").
The "short" and "narrow" widths ("Mo", "M", "MA", "DO") are left out: two upper-case letters
are far more often a code or a place ("MA", "DO") than a weekday. Loaded once, on first use
(Babel's locale data is read lazily, so `import ragkit` stays fast).
"""

from __future__ import annotations

from functools import lru_cache

# The languages ragkit's users write (README: English and Portuguese) and the other
# Western European languages the reader is measured on (xquad es/de) or commonly meets.
CALENDAR_LOCALES = ("en", "pt", "es", "de", "fr", "it", "nl")
WIDTHS = ("wide", "abbreviated")


@lru_cache(maxsize=1)
def calendar_words() -> frozenset[str]:
    """Every calendar word of CALENDAR_LOCALES, as CLDR writes it and with its first letter
    capitalised ("dezembro" -> also "Dezembro"), without a final stop ("Dez." -> "Dez"),
    each hyphenated part too ("segunda-feira" -> "segunda", "feira"). Case matters:
    "MAR" or "MAY" in capitals is not matched."""
    from babel import Locale

    found: set[str] = set()
    for code in CALENDAR_LOCALES:
        locale = Locale.parse(code)
        for table in (locale.days, locale.months, locale.day_periods):
            for context in table:
                for width in WIDTHS:
                    names = table[context].get(width, {})
                    found.update(n for n in names.values() if " " not in n.strip())
    words: set[str] = set()
    for name in found:
        name = name.strip().rstrip(".").replace("\u202f", "").replace("\xa0", "")
        for form in (name, *name.split("-")):
            if len(form) > 1:
                words.update((form, form[0].upper() + form[1:]))
    return frozenset(words)


def is_calendar_name(name: str) -> bool:
    """Whether every word of `name` (a run of capitalised words as a question writes it,
    "Monday", "Easter Monday") is a calendar word: "Monday" is, "Easter Monday" is not."""
    words = name.split()
    known = calendar_words()
    return bool(words) and all(w.rstrip(".") in known for w in words)
