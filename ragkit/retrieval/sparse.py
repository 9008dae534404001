"""BM25 over the chunks of an index, built in memory when the index is loaded.

Tokens: lower-cased runs of two or more word characters (bm25s's default pattern), minus
the Lucene English stopwords that bm25s ships, stemmed with Snowball English when PyStemmer
is installed, else with Harman's S-stemmer (plural endings only). Every distinct word is
stemmed once per process. What is indexed is `Chunk.embedding_text` (title and heading path,
then the text), as for the dense side. Measured on SciFact train (809 queries), BM25 alone,
nDCG@10 with the document's best chunk:

                        embedding_text   text
    Snowball (PyStemmer)     0.688       0.665
    S-stemmer                0.677       0.651
    no stemming              0.657       0.633

Scoring is bm25s's Lucene variant: `idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))` times
`tf / (tf + k1 * (1 - b + b * len / avgdl))`, precomputed into a sparse (chunk x term) matrix
held by a `bm25s.BM25` object, which scores queries. bm25s's own `index()` loops in Python
per token (0.5 s for 10,000 abstracts, on top of tokenising); here the matrix is built with
vectorised numpy/scipy in tens of milliseconds, and a test checks it equals bm25s's. Loading
10,000 chunks costs about 0.5 s of CPU, nearly all of it the regex and the word lookups.

Access groups: N, df and avgdl are corpus statistics, so scores computed over every chunk
would move when a hidden chunk is added, and a score could hint at it. Each set of readable
chunks (a "view") therefore gets its own matrix over those chunks only, built on first use
(tens of ms for 10,000 chunks) and kept in a small LRU cache.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np

_WORD = re.compile(r"\w\w+")  # = bm25s's (?u)\b\w\w+\b: greedy runs end on boundaries
_VIEWS_KEPT = 8


@lru_cache(maxsize=1)
def stemmer_name() -> str:
    """'snowball' with PyStemmer installed, else 's-stemmer'."""
    try:
        import Stemmer  # noqa: F401  (PyStemmer)
    except ImportError:
        return "s-stemmer"
    return "snowball"


@lru_cache(maxsize=1)
def _stem_function() -> Callable[[str], str]:
    if stemmer_name() == "snowball":
        import Stemmer

        return Stemmer.Stemmer("english").stemWord
    return s_stem


def s_stem(word: str) -> str:
    """Harman's S-stemmer (1991): strips plural endings only, so it rarely conflates wrongly."""
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


class Vocabulary:
    """Word -> stemmed term id; stopwords, and unknown terms when not growing, map to -1."""

    def __init__(self) -> None:
        self.term_ids: dict[str, int] = {}  # stemmed term -> id
        self._word_ids: dict[str, int] = {}  # surface word -> term id, or -1 for a stopword
        self._stem = _stem_function()
        self._stop = _stopwords()

    def lookup(self, words: Sequence[str], *, grow: bool) -> np.ndarray:
        """Term id per lower-cased word, shape (len(words),); new terms are added when `grow`."""
        for word in set(words).difference(self._word_ids):
            if word in self._stop:
                self._word_ids[word] = -1
                continue
            term = self._stem(word)
            term_id = self.term_ids.get(term)
            if term_id is None:
                if not grow:
                    continue  # not cached: an unknown word stays unknown
                term_id = self.term_ids[term] = len(self.term_ids)
            self._word_ids[word] = term_id
        if grow:  # every word is known now: map in C
            return np.fromiter(map(self._word_ids.__getitem__, words), np.int64, len(words))
        get = self._word_ids.get
        return np.fromiter((get(w, -1) for w in words), np.int64, len(words))


def tokenize(text: str) -> list[str]:
    """The words BM25 sees, before stopwords and stemming."""
    return _WORD.findall(text.lower())


class BM25Index:
    """BM25 over a fixed list of texts; `search` honours a mask of readable rows."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        import scipy.sparse as sp

        self.k1, self.b = k1, b
        self.vocabulary = Vocabulary()
        words = [tokenize(text) for text in texts]
        term_ids = self.vocabulary.lookup(list(chain.from_iterable(words)), grow=True)
        rows = np.repeat(np.arange(len(texts)), [len(w) for w in words])
        keep = term_ids >= 0
        # (chunks, terms) term counts; the constructor sums duplicate (row, term) pairs.
        self.counts = sp.csr_matrix(
            (np.ones(int(keep.sum()), np.float32), (rows[keep], term_ids[keep])),
            shape=(len(texts), max(len(self.vocabulary.term_ids), 1)),
        )
        self._views: OrderedDict[bytes, tuple[np.ndarray, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.counts.shape[0]

    def scores(self, query: str, allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every chunk, shape (len(self),); 0 for unreadable or unmatched ones."""
        out = np.zeros(len(self), dtype=np.float32)
        term_ids = self.vocabulary.lookup(tokenize(query), grow=False)
        term_ids = term_ids[term_ids >= 0].tolist()
        if not term_ids or not len(self):
            return out
        rows, model = self._view(allowed)
        if len(rows):
            out[rows] = model.get_scores_from_ids(term_ids)
        return out

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best readable chunks that share a term with the query."""
        return top_rows(self.scores(query, allowed), k)

    def _view(self, allowed: np.ndarray | None) -> tuple[np.ndarray, Any]:
        key = b"" if allowed is None else np.packbits(allowed).tobytes()
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
            rows = np.arange(len(self)) if allowed is None else np.flatnonzero(allowed)
            view = (rows, self._bm25(rows))
            self._views[key] = view
            if len(self._views) > _VIEWS_KEPT:
                self._views.popitem(last=False)
            return view

    def _bm25(self, rows: np.ndarray) -> Any:
        """A bm25s.BM25 whose Lucene score matrix covers `rows` only."""
        import bm25s

        counts = self.counts[rows].tocsc()  # (view chunks, terms)
        n_docs, n_terms = counts.shape
        lengths = np.asarray(counts.sum(axis=1)).ravel()  # tokens per chunk, stopwords out
        avg_length = float(lengths.mean()) if n_docs else 1.0
        df = np.diff(counts.indptr)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        term_of_entry = np.repeat(np.arange(n_terms), df)
        tf = counts.data
        norm = self.k1 * (1 - self.b + self.b * lengths[counts.indices] / max(avg_length, 1e-9))
        data = (idf[term_of_entry] * tf / (tf + norm)).astype(np.float32)

        model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        # The same arrays `bm25s.BM25.load` restores from disk.
        model.scores = {
            "data": data,
            "indices": counts.indices.astype(np.int32),
            "indptr": counts.indptr.astype(np.int32),
            "num_docs": n_docs,
        }
        model.vocab_dict = dict(self.vocabulary.term_ids)
        model.nonoccurrence_array = None
        return model


def top_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k highest positive scores, best first, ties by index."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        threshold = scores[candidates[part]].min()
        candidates = candidates[scores[candidates] >= threshold]  # keep every tie at the edge
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    best = candidates[order]
    return best, scores[best]
