"""BM25 over the chunks of an index, as a sparse (chunk x term) matrix of Lucene scores.

Terms come from the one text analyser (`ragkit.text.analyse`: words, NLTK/Snowball stopwords,
Snowball stems), in each chunk's own language (`Chunk.language`: a Portuguese chunk is stemmed
with Portuguese rules; Chinese/Japanese text is cut into character bigrams). A question is
analysed in its own language, detected among the languages the index holds
(`ragkit.text.language.question_language`; an index of one language needs no detection).
All languages share one term vocabulary: a name or a figure matches across languages. What
is indexed is `Chunk.embedding_text` (title and heading path, then the text), as for the
dense side.

Scoring is the Lucene variant of BM25 (as in Lucene and bm25s):
`idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))` times `tf / (tf + k1 * (1 - b + b * len / avgdl))`,
precomputed per (chunk, term) into a CSC matrix, so a query's scores are the sum of its terms'
columns (a query term given twice counts twice). Building the matrix is vectorised numpy/scipy:
tens of milliseconds for 10,000 chunks on top of analysing the text.

Access groups: N, df and avgdl are corpus statistics, so scores computed over every chunk
would move when a hidden chunk is added, and a score could hint at it. Each set of readable
chunks (a "view") therefore gets its own matrix over those chunks only, built on first use
(tens of ms for 10,000 chunks) and kept in a small LRU cache.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from ragkit.cache import LRUCache
from ragkit.text.analyse import Analyser, analyser, analyser_for, lucene_idf, words
from ragkit.text.language import question_language

_VIEWS_KEPT = 8


class Vocabulary:
    """Word -> term id through an analyser; stopwords, and unknown terms when not growing, -1.

    Term ids are shared by every language; the word -> id cache is kept per analyser, since
    one surface word stems differently in two languages."""

    def __init__(self, text_analyser: Analyser | None = None) -> None:
        self.analyser = text_analyser or analyser()  # the default for `lookup`
        self.term_ids: dict[str, int] = {}  # stemmed term -> id
        # analyser language -> {surface word -> term id, or -1 for a stopword}
        self._word_ids: dict[str, dict[str, int]] = {}

    def lookup(
        self, words: Sequence[str], *, grow: bool, text_analyser: Analyser | None = None
    ) -> np.ndarray:
        """Term id per lower-cased word, shape (len(words),); new terms are added when `grow`."""
        using = text_analyser or self.analyser
        word_ids = self._word_ids.setdefault(using.language, {})
        for word in set(words).difference(word_ids):
            term = using.term(word)
            if term is None:
                word_ids[word] = -1
                continue
            term_id = self.term_ids.get(term)
            if term_id is None:
                if not grow:
                    continue  # not cached: an unknown word stays unknown
                term_id = self.term_ids[term] = len(self.term_ids)
            word_ids[word] = term_id
        if grow:  # every word is known now: map in C
            return np.fromiter(map(word_ids.__getitem__, words), np.int64, len(words))
        get = word_ids.get
        return np.fromiter((get(w, -1) for w in words), np.int64, len(words))


class BM25Index:
    """BM25 over a fixed list of texts; `search` honours a mask of readable rows."""

    def __init__(
        self,
        texts: Sequence[str],
        *,
        languages: Sequence[str | None] | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        text_analyser: Analyser | None = None,
    ) -> None:
        """`languages`: one ISO 639-1 code (or None) per text; None for all: English.
        `text_analyser`: one analyser for every text and query instead (benchmarks compare
        stemmers through it)."""
        import scipy.sparse as sp

        self.k1, self.b = k1, b
        self.fixed_analyser = text_analyser
        self.vocabulary = Vocabulary(text_analyser)
        self.languages: list[str | None] = list(languages or [None] * len(texts))
        if len(self.languages) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(self.languages)} languages")
        self.language_counts = Counter(self.languages)
        per_text = [words(text) for text in texts]
        ids_per_text: list[np.ndarray] = [np.zeros(0, np.int64)] * len(texts)
        for language in sorted(set(self.languages), key=str):  # one analyser per language
            rows_of = [i for i, code in enumerate(self.languages) if code == language]
            flat = list(chain.from_iterable(per_text[i] for i in rows_of))
            using = self.fixed_analyser or analyser_for(language)
            ids = self.vocabulary.lookup(flat, grow=True, text_analyser=using)
            cuts = np.cumsum([len(per_text[i]) for i in rows_of])[:-1]
            for row, row_ids in zip(rows_of, np.split(ids, cuts), strict=True):
                ids_per_text[row] = row_ids
        term_ids = np.concatenate(ids_per_text) if texts else np.zeros(0, np.int64)
        rows = np.repeat(np.arange(len(texts)), [len(w) for w in per_text])
        keep = term_ids >= 0
        # (chunks, terms) term counts; the constructor sums duplicate (row, term) pairs.
        self.counts = sp.csr_matrix(
            (np.ones(int(keep.sum()), np.float32), (rows[keep], term_ids[keep])),
            shape=(len(texts), max(len(self.vocabulary.term_ids), 1)),
        )
        self._views: LRUCache[bytes, tuple[np.ndarray, Any, np.ndarray]] = LRUCache(_VIEWS_KEPT)
        self._languages: LRUCache[bytes, Counter[str | None]] = LRUCache(_VIEWS_KEPT)

    def __len__(self) -> int:
        return self.counts.shape[0]

    def scores(
        self, query: str, allowed: np.ndarray | None = None, *, language: str | None = None
    ) -> np.ndarray:
        """BM25 score of every chunk, shape (len(self),); 0 for unreadable or unmatched ones.

        A query word found only in chunks the asker cannot read is dropped exactly like a
        word the index never saw, by the same steps (see `_query_terms`), so neither the
        scores nor the time taken say that a hidden chunk holds it. `language` (ISO 639-1) is
        how to analyse the query; by default it is detected among the languages of the chunks
        the asker can read (`question_language`), so hidden chunks do not sway it either.
        """
        out = np.zeros(len(self), dtype=np.float32)
        if not len(self):
            return out
        rows, matrix, present = self._view(allowed)
        query_analyser = self.fixed_analyser or analyser_for(
            language or question_language(query, self._view_languages(allowed, rows))
        )
        term_ids = self._query_terms(query, present, query_analyser)
        if len(term_ids) and len(rows):
            unique, repeats = np.unique(term_ids, return_counts=True)
            # (view chunks, query terms) @ (query terms,): a term asked twice counts twice
            out[rows] = matrix[:, unique] @ repeats.astype(np.float32)
        return out

    def _query_terms(
        self, query: str, present: np.ndarray, analyser: Analyser | None = None
    ) -> np.ndarray:
        """Term ids of the query's words that occur in the view, shape (<= words,).

        `present`: (terms + 1,) bool, True where the view holds the term; its last entry is
        False and stands for "no such term" (unknown words and stopwords). `analyser`: the
        query's language's (default: the vocabulary's).
        """
        analyser = analyser or self.vocabulary.analyser
        known = self.vocabulary.term_ids
        missing = len(present) - 1
        terms = [analyser.fresh_term(word) for word in words(query)]  # no per-word cache
        ids = np.fromiter(
            (missing if t is None else known.get(t, missing) for t in terms), np.int64, len(terms)
        )
        return ids[present[ids]]

    def _view_languages(self, allowed: np.ndarray | None, rows: np.ndarray) -> Counter[str | None]:
        """How many readable chunks each language has (one count for the whole index when
        every chunk is readable)."""
        if allowed is None or len(self.language_counts) == 1:
            return self.language_counts
        key = np.packbits(allowed).tobytes()
        return self._languages.get_or_set(key, lambda: Counter(self.languages[r] for r in rows))

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the k best readable chunks that share a term with the query."""
        return top_rows(self.scores(query, allowed), k)

    def _view(self, allowed: np.ndarray | None) -> tuple[np.ndarray, Any, np.ndarray]:
        """(readable rows, their score matrix, which terms they hold + a final False)."""
        key = b"" if allowed is None else np.packbits(allowed).tobytes()

        def build() -> tuple[np.ndarray, Any, np.ndarray]:
            rows = np.arange(len(self)) if allowed is None else np.flatnonzero(allowed)
            matrix = self._bm25(rows)
            present = np.append(np.diff(matrix.indptr) > 0, False)  # CSC: entries per term
            return rows, matrix, present

        return self._views.get_or_set(key, build)

    def _bm25(self, rows: np.ndarray) -> Any:
        """The (len(rows), terms) CSC matrix of Lucene BM25 scores over `rows` only."""
        import scipy.sparse as sp

        counts = self.counts[rows].tocsc()  # (view chunks, terms)
        n_docs, n_terms = counts.shape
        lengths = np.asarray(counts.sum(axis=1)).ravel()  # tokens per chunk, stopwords out
        avg_length = float(lengths.mean()) if n_docs else 1.0
        df = np.diff(counts.indptr)
        idf = lucene_idf(n_docs, df)
        term_of_entry = np.repeat(np.arange(n_terms), df)
        tf = counts.data
        norm = self.k1 * (1 - self.b + self.b * lengths[counts.indices] / max(avg_length, 1e-9))
        data = (idf[term_of_entry] * tf / (tf + norm)).astype(np.float32)

        return sp.csc_matrix((data, counts.indices, counts.indptr), shape=counts.shape)


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
