"""The one text analyser: words, stopwords and stems, for BM25 and for lexical scoring.

    "Employees' 3.5 days of leave" -> words ["employees'", "3.5", "days", "of", "leave"]
                                   -> terms ["employe", "3.5", "day", "leav"]   (english)

- Words are runs of letters and digits, lower-cased, that may hold an inner ".", ",", "'" or
  "’" ("3.5", "1,500", "don't", "e.g"), so amounts and decimals stay one token.
- Stopwords are NLTK's lists, which come from the Snowball project (`stopwords/*.txt`), one
  per language.
- Stems are Snowball's (PyStemmer, C): the same algorithm family for every language it
  covers, so a Portuguese document is not stemmed with English rules.

Each surface word is looked up once per analyser (a dict), so analysing a corpus costs the
regex plus one dict lookup per token. Measured on SciFact test with BM25 alone (nDCG@10 with
the document's best chunk): see tests/bench/bench_retrieval.py.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib import resources

from ragkit.errors import ConfigError

WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
DEFAULT_LANGUAGE = "english"


def words(text: str) -> list[str]:
    """The lower-cased words of `text`, in order (see the module docstring for what a word is)."""
    return WORD.findall(text.lower())


@cache
def stopwords(language: str = DEFAULT_LANGUAGE) -> frozenset[str]:
    """The stopword list of a Snowball language name ("english", "portuguese", ...)."""
    try:
        text = resources.files("ragkit.text").joinpath(f"stopwords/{language}.txt").read_text()
    except FileNotFoundError:
        return frozenset()  # a language with a stemmer but no list: keep every word
    return frozenset(line for line in text.split("\n") if line and not line.startswith("#"))


def languages() -> list[str]:
    """Languages the analyser stems (PyStemmer's Snowball algorithms)."""
    import Stemmer

    return sorted(Stemmer.algorithms())


class Analyser:
    """Text -> index terms for one language: words, minus stopwords, Snowball-stemmed."""

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        import Stemmer

        if language not in Stemmer.algorithms():
            raise ConfigError(
                f"no stemmer for language '{language}': use one of {', '.join(languages())}"
            )
        self.language = language
        self.stopwords = stopwords(language)
        self._stem = Stemmer.Stemmer(language).stemWord
        self._terms: dict[str, str | None] = {}  # surface word -> stem, None for a stopword
        self._lock = threading.Lock()

    def term(self, word: str) -> str | None:
        """The index term of one lower-cased word; None for a stopword."""
        found = self._terms.get(word, "")
        if found != "":
            return found
        term = None if word in self.stopwords else self._stem(word)
        with self._lock:  # PyStemmer objects are not thread-safe
            self._terms[word] = term
        return term

    def fresh_term(self, word: str) -> str | None:
        """`term` without the word cache, neither read nor grown: the same work for a word the
        index holds (even only in chunks the asker cannot read) as for one it never saw, and
        no memory kept per distinct word an asker sends (BM25 queries use it)."""
        if word in self.stopwords:
            return None
        with self._lock:
            return self._stem(word)

    def terms(self, text: str) -> list[str]:
        """Index terms of `text` in order, repeats kept (BM25 counts them)."""
        return [t for t in map(self.term, words(text)) if t is not None]

    def content_terms(self, text: str) -> list[str]:
        """Index terms of `text` in order of first appearance, without repeats."""
        return list(dict.fromkeys(self.terms(text)))


@cache
def analyser(language: str = DEFAULT_LANGUAGE) -> Analyser:
    """The shared analyser of a language (its word cache serves every caller)."""
    return Analyser(language)
