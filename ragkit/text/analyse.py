"""The one text analyser: words, stopwords and stems, for BM25 and for lexical scoring.

    "Employees' 3.5 days of leave" -> words ["employees'", "3.5", "days", "of", "leave"]
                                   -> terms ["employe", "3.5", "day", "leav"]   (english)

- Words are runs of letters and digits, lower-cased, that may hold an inner ".", ",", "'" or
  "’" ("3.5", "1,500", "don't", "e.g"), so amounts and decimals stay one token.
- Stopwords are NLTK's lists, which come from the Snowball project (`stopwords/*.txt`), one
  per language.
- Chinese and Japanese are written without spaces, so a run of Han characters or kana is
  cut into overlapping character bigrams ("午餐补贴" -> "午餐", "餐补", "补贴"; a lone character
  stays one word), the standard baseline for CJK retrieval without a dictionary.
- Stems are Snowball's (PyStemmer, C): the same algorithm family for every language it
  covers, so a Portuguese document is not stemmed with English rules. `analyser_for` maps
  the ISO 639-1 code stored on a chunk ("pt") to its analyser; a language Snowball does not
  cover (Chinese, Japanese, Korean...) gets words without stems or stopwords.

Each surface word is looked up once per analyser (a dict), so analysing a corpus costs the
regex plus one dict lookup per token. Measured on SciFact test with BM25 alone (nDCG@10 with
the document's best chunk): see tests/bench/bench_retrieval.py.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib import resources
from typing import Any

from ragkit.errors import ConfigError

WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*")
# Hiragana, katakana, CJK ideographs (basic, extension A, compatibility).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
DEFAULT_LANGUAGE = "english"
PLAIN = "plain"  # no stems, no stopwords: languages Snowball does not cover
# ISO 639-1 -> Snowball algorithm name, for the codes lingua reports that PyStemmer covers.
SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "nb": "norwegian", "nn": "norwegian", "no": "norwegian", "fa": "persian", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho",
    "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip


def words(text: str) -> list[str]:
    """The lower-cased words of `text`, in order (see the module docstring for what a word is)."""
    found = WORD.findall(text.lower())
    if not _CJK.search(text):
        return found
    return [piece for word in found for piece in _cjk_pieces(word)]


def _cjk_pieces(word: str) -> list[str]:
    """A word with its CJK runs cut into overlapping bigrams; other parts stay whole."""
    pieces: list[str] = []
    cursor = 0
    for run in _CJK.finditer(word):
        if run.start() > cursor:
            pieces.append(word[cursor : run.start()])
        chars = run.group()
        pieces += [chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)]
        cursor = run.end()
    if cursor < len(word):
        pieces.append(word[cursor:])
    return pieces


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

        if language != PLAIN and language not in Stemmer.algorithms():
            raise ConfigError(
                f"no stemmer for language '{language}': use one of {', '.join(languages())}"
            )
        self.language = language
        self.stopwords = stopwords(language) if language != PLAIN else frozenset()
        self._stem = Stemmer.Stemmer(language).stemWord if language != PLAIN else str
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


def analyser_for(code: str | None) -> Analyser:
    """The analyser of an ISO 639-1 code as stored on chunks ("pt", "pt-BR"): its Snowball
    language, English when the code is None (unknown, or an index older than languages), and
    the plain analyser (no stems, no stopwords) for a language Snowball does not cover."""
    if not code:
        return analyser(DEFAULT_LANGUAGE)
    return analyser(SNOWBALL.get(code.split("-", 1)[0].lower(), PLAIN))


def lucene_idf(n_docs: Any, df: Any) -> Any:
    """BM25's Lucene IDF, always positive: ln(1 + (N - df + 0.5) / (df + 0.5)).

    Scalars or numpy arrays (element-wise); the one formula for BM25 and the reader's lexical
    scores."""
    import numpy as np

    return np.log1p((n_docs - df + 0.5) / (df + 0.5))
