"""Which language a text is written in: lingua-language-detector, in low accuracy mode.

Used for each document at ingest (the result is stored on its chunks as an ISO 639-1 code)
and for each question, so both sides of BM25 are analysed with the same language's rules.

Why lingua, and why its low accuracy mode: lingua is a maintained library that covers 75
languages with no model download (the n-gram tables ship in the wheel). Its high accuracy
mode loads up to 5-gram tables for every language: measured here 10 s and 0.9 GB on the
first call (31 s and 1.2 GB preloaded), while low accuracy mode (trigrams only) costs 0.5 s
and 70 MB on the first call and about 1 ms per 1,000 characters after that. Documents are
long, where both modes agree; for short questions the candidate set is narrowed to the
languages the index holds, which is what makes a 5-word question reliable. The library is
imported on first use, so `import ragkit` does not pay for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from functools import lru_cache
from typing import Any

SAMPLE_CHARS = 4000  # a document's language is told from its first 4,000 characters
MIN_CONFIDENCE = 0.5  # lingua's relative confidence of the best language, 0..1
# A document with fewer Latin-script letters than this gets no guess (measured: a 56-character
# English index page of the Sourcegraph handbook came out as Latin, making a one-language index
# two). Other scripts say more in fewer letters. Questions are short: they are told among the
# index's languages instead, with no minimum.
DOCUMENT_MIN_LETTERS = 100


def detect_language(
    text: str,
    among: Collection[str] | None = None,
    *,
    min_confidence: float = MIN_CONFIDENCE,
    min_latin_letters: int = 1,
) -> str | None:
    """ISO 639-1 code ("en", "pt", "zh") of `text`'s language, or None when unsure.

    `among` restricts the answer to those codes (the languages an index holds); one code is
    returned as is, without running the detector. Unknown codes in `among` are ignored.
    None when the text has fewer than `min_latin_letters` letters, all Latin-script (no letter
    at all: a table of figures; documents pass DOCUMENT_MIN_LETTERS), or the best language's
    confidence is below `min_confidence`.
    """
    codes = tuple(sorted({c.lower() for c in among or () if c}))
    if len(codes) == 1:
        return codes[0]
    sample = text[:SAMPLE_CHARS]
    letters = [ch for ch in sample if ch.isalpha()]
    if len(letters) < max(min_latin_letters, 1) and all(ch <= "\u024f" for ch in letters):
        return None

    confidences = language_confidences(sample, codes)
    best = max(confidences, key=confidences.__getitem__, default=None)
    return best if best is not None and confidences[best] >= min_confidence else None


def supported_codes() -> frozenset[str]:
    """ISO 639-1 codes lingua can tell apart."""
    from lingua import Language

    return frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())


@lru_cache(maxsize=8)
def _detector(codes: tuple[str, ...]) -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if codes:
        known = [getattr(IsoCode639_1, c.upper()) for c in codes if c in supported_codes()]
        if len(known) < 2:
            return None
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*known)
    else:
        builder = LanguageDetectorBuilder.from_all_languages()
    return builder.with_low_accuracy_mode().build()


def base_language(code: str | None) -> str | None:
    """'pt-BR' -> 'pt', 'EN' -> 'en': declared tags reduced to the ISO 639-1 code we store."""
    if not code:
        return None
    return code.replace("_", "-").split("-", 1)[0].strip().lower() or None


def question_language(question: str, languages: Iterable[str | None]) -> str | None:
    """The language to analyse a question in, given the languages of the chunks it is asked
    against (one entry per chunk, None for unknown; or a Counter of them).

    One language there: that one, with no detection (an English-only index never loads
    lingua). Several: the most probable one, lingua's relative confidence for the question
    times the language's share of the chunks (Bayes' rule with the index as the prior), so a
    short English question about "in vivo" cells is not read as Latin because an index of
    9,913 English abstracts holds 7 detected as Latin (measured on SciFact: reading questions
    by lingua alone cost BM25 0.08 nDCG@10). None when no chunk has a language.
    """
    raw = languages if isinstance(languages, Counter) else Counter(languages)
    counts: Counter[str] = Counter({code: n for code, n in raw.items() if code})
    if not counts:
        return None
    if len(counts) == 1:
        return next(iter(counts))
    confidences = language_confidences(question, counts)
    total = sum(counts.values())
    return max(
        counts, key=lambda code: (confidences.get(code, 0.0) * counts[code] / total, counts[code])
    )


def language_confidences(text: str, among: Collection[str]) -> dict[str, float]:
    """lingua's relative confidence per ISO 639-1 code in `among` (they sum to 1), or {}."""
    codes = tuple(sorted({c.lower() for c in among if c}))
    detector = _detector(codes)
    if detector is None:
        return {}
    values = detector.compute_language_confidence_values(text[:SAMPLE_CHARS])
    return {str(v.language.iso_code_639_1.name).lower(): float(v.value) for v in values}
