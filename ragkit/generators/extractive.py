"""The extractive generator: answer by quoting the passages' best sentences, or abstain.

No generator weights: the answer is one to three units (sentences, list items or table rows)
of the retrieved chunks, or a whole list, each cited, Markdown emphasis removed.

By default (`reader="unit"`) units are scored by a trained answer selector in
`ragkit.reader` (language-independent features, two logistic stages, a question-level
answerability model whose probability is the support; tests/bench/bench_reader.py) whose
second stage reads the units' cosines from the unit encoder, a LoRA adapter of the bundled
model for question -> answer-unit matching (`ragkit.reader.unit_encoder`; README);
`reader="trained"` is the same kind of selector over the embedder's own cosines (the default
before the unit encoder); `reader="cross"` adds the cross-encoder's logit of the chosen unit
to that one's support (`ragkit.reader.cross`; measured: fewer false refusals, same ranking,
slower; README). The heuristic reader they replaced is kept as the benchmark's baseline
(`reader="heuristic"`); its algorithm, per question:

1. Segment the top `max_passages` chunks into units (`ragkit.text.segment`). Paragraph
   text is split into sentences (abbreviations such as "e.g." and "No. 5", decimals such as
   "3.5 days" and hard-wrapped PDF lines are handled); a list item is one unit; a table row is
   one unit that carries the table's header row, so "| L4 | 68,000–82,000 EUR |" is shown
   under "| Level | Band |".
2. Score every unit cheaply: IDF-weighted coverage of the question's content words (stems,
   stopwords removed, IDF over the units of this passage set, heading words at half weight),
   a question-type cue ("how many" wants a number, "when" a date, "who" a name or role,
   "can I" a may/must/not; both in `ragkit.generators.cues`), and the passage's retrieval rank.
3. Embed the question and only the `max_candidates` best units in one batch (the embedding
   model is the expensive step), each under its chunk's title and heading path as the index
   embeds chunks ("Sick Leave > Pay\nUp to 10 days." says what the 10 days are), and add
   the cosine similarity to the score. Vectors are cached by text.
4. Support = how well the best unit answers (see `ragkit.generators.abstention`); below the
   threshold, abstain. Otherwise answer with the best unit, plus a second unit when it scores
   nearly as well (`SECOND_UNIT_RATIO`), plus the list the best unit introduces ("...the
   following rules:") or, for a fragment of under six words, the unit after it.

Measured by tests/bench/bench_extractive.py: on XQuAD (gold paragraph) the answer contains a
gold span for 0.89 of the questions answered; the weights below were tuned on SQuAD 2.0.

Passages are only ever quoted: text inside them is data. A sentence that instructs the reader
(send a password, click a link, ignore the rules) is never the answer to a question that did
not ask about it (`ragkit.generators.planted`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ragkit.generators.abstention import default_threshold, support_score
from ragkit.generators.cues import cue_match, question_cue
from ragkit.generators.planted import is_planted
from ragkit.index.embedding import DEFAULT_MODEL, Embedder, load_embedder
from ragkit.index.vector_cache import VectorCache
from ragkit.reader.candidates import (
    build_candidates,
    passage_cosine,
    passage_texts_to_embed,
    passages_text,
    top_passages,
    unit_text,
)

# the answer's composition; the ratios and `with_marker` are re-exported, as before the move
from ragkit.reader.compose import COMPLEMENT_RATIO as COMPLEMENT_RATIO
from ragkit.reader.compose import CONTESTED_RATIO as CONTESTED_RATIO
from ragkit.reader.compose import SECOND_UNIT_RATIO as SECOND_UNIT_RATIO
from ragkit.reader.compose import Scored, choose, citations, coverage_lines, pieces
from ragkit.reader.compose import with_marker as with_marker
from ragkit.reader.coverage import uncovered
from ragkit.reader.cross import load_cross
from ragkit.reader.features import cheap_features, dense_features
from ragkit.reader.names import asked_and_stated, asked_names
from ragkit.reader.selector import CROSS_SELECTOR, UNIT_SELECTOR, Selector, load_selector
from ragkit.reader.tables import table_candidates
from ragkit.reader.unit_encoder import UnitEncoder, unit_encoder_for
from ragkit.text.analyse import analyser_for, lucene_idf, words
from ragkit.text.language import question_language
from ragkit.text.segment import Unit, segment
from ragkit.types import REFUSAL, Answer, Citation, Hit

log = logging.getLogger(__name__)

READERS = ("trained", "cross", "unit", "heuristic")
# Weights of the unit score, tuned for answer-sentence selection on the calibration half of
# squad2-cs224n-dev (tests/bench/bench_extractive.py); the rank prior is set by hand.
W_DENSE, W_LEXICAL, W_CUE, W_RANK = 0.5, 0.5, 0.15, 0.05

# --- scoring ------------------------------------------------------------------------------


def lexical_scores(
    question_terms: Sequence[str], unit_terms: Sequence[set[str]], context_terms: Sequence[set[str]]
) -> tuple[list[float], list[float]]:
    """Per unit: the IDF-weighted and the plain share of the question's content words it covers.

    IDF is over the units given (BM25's smoothing, always positive), so a question word found
    in one sentence of ten weighs far more than one found in all of them: good for telling the
    sentences of one passage set apart. The plain share does not depend on the other units, so
    it can be compared across questions (the support score uses it). A word found only in the
    unit's heading path counts half in both.
    """
    n = len(unit_terms)
    idf = {t: float(lucene_idf(n, sum(t in u for u in unit_terms))) for t in question_terms}
    total = sum(idf.values()) or 1.0
    weighted, plain = [], []
    for terms, context in zip(unit_terms, context_terms, strict=True):
        found = {t: 1.0 if t in terms else 0.5 if t in context else 0.0 for t in question_terms}
        weighted.append(sum(idf[t] * f for t, f in found.items()) / total)
        plain.append(sum(found.values()) / max(1, len(found)))
    return weighted, plain


# --- the generator ------------------------------------------------------------------------


class ExtractiveGenerator:
    """Quote the passages' best sentences with citations; abstain when support is weak."""

    name = "extractive"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        model: str = DEFAULT_MODEL,
        threshold: float | None = None,
        max_passages: int | None = None,
        # Units re-ranked by the embedding model. None: the trained selector's own settings
        # (chosen on its validation split, stored in selector.json); 3 for the heuristic reader
        # (3 rather than 4 kept its warm answer on 10k SciFact chunks at p95 48 ms, not 58).
        max_candidates: int | None = None,
        max_units: int = 2,
        cache_size: int = 4096,
        embed_context: bool = True,
        reader: str = "unit",
    ) -> None:
        """`reader`: "unit" (the default) scores units with the trained selector fitted on
        the unit encoder's cosines (`selector-unit.json`, `ragkit.reader.unit_encoder`; it
        answered and refused better on the handbook validation split, see the README);
        "trained" with the trained selector over the embedder's own cosines (`ragkit.reader`,
        `selector.json`); "cross" with that kind of selector whose refusal support also reads
        the cross-encoder's logit for the chosen unit (`ragkit.reader.cross`; not the default:
        it is slower, see the README);
        "heuristic" with the hand-set weights and English cue lists it replaced (kept as the
        benchmark's baseline)."""
        if reader not in READERS:
            raise ValueError(f"reader {reader!r} is not one of {', '.join(map(repr, READERS))}")
        self.reader = reader
        assert (max_passages or 1) >= 1 and (max_candidates or 1) >= 1 and 1 <= max_units <= 3
        self._embedder = embedder
        self.model = model
        self._threshold = threshold
        self._max_passages = max_passages
        self._max_candidates = max_candidates
        self.max_units = max_units
        self.embed_context = embed_context
        self._cache = VectorCache(cache_size)
        self._unit_cache = VectorCache(cache_size)  # the unit encoder's vectors
        self._unit_encoder: UnitEncoder | None = None
        self.unit_encoder_reason: str | None = None  # why the unit encoder is not used

    @property
    def threshold(self) -> float:
        """The support below which it abstains: given, or calibrated for the embedding model."""
        if self._threshold is None:
            if self.reader != "heuristic":
                self._threshold = self.selector.threshold(self.embedder.model_id)
            else:
                self._threshold = default_threshold(self.embedder.model_id)
        return self._threshold

    @property
    def selector(self) -> Selector:
        """The trained selector of this reader: `selector.json`, for "cross"
        `selector-cross.json` (its support reads the cross-encoder), for "unit"
        `selector-unit.json` (fitted on the unit encoder's cosines); "unit" without its
        encoder (another embedder, `unit_encoder_reason`) reads `selector.json`, fitted on
        the embedder's own cosines, as its stage 2 weights assume."""
        if self.reader == "unit" and self.unit_encoder is None:
            return load_selector(None)
        paths = {"cross": CROSS_SELECTOR, "unit": UNIT_SELECTOR}
        return load_selector(paths.get(self.reader))

    @property
    def max_passages(self) -> int:
        """Top passages whose units are candidates: given, or the reader's setting."""
        if self._max_passages is None:
            self._max_passages = self._setting("max_passages")
        return self._max_passages

    @property
    def max_candidates(self) -> int:
        """Candidate units embedded and scored with their cosine: given, or the reader's."""
        if self._max_candidates is None:
            self._max_candidates = self._setting("max_candidates")
        return self._max_candidates

    def _setting(self, name: str) -> int:
        if self.reader != "heuristic":
            return int(self.selector.settings.get(name, 3))
        return 3

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.model)
        return self._embedder

    @property
    def unit_encoder(self) -> UnitEncoder | None:
        """The adapted encoder of the units' cosines (`ragkit.reader.unit_encoder`), loaded
        on first use; None, with `unit_encoder_reason` saying why, for an embedder other
        than the bundled model (the adapter is trained on it): that embedder's own cosine."""
        if self._unit_encoder is None and self.unit_encoder_reason is None:
            found, reason = unit_encoder_for(self.embedder)
            self._unit_encoder, self.unit_encoder_reason = found, (reason or None)
            if found is None:
                log.info("reader: cosines from the embedder, not the unit encoder: %s", reason)
        return self._unit_encoder

    def warm_up(self) -> None:
        warm = getattr(self.embedder, "warm_up", None)
        if warm is not None:
            warm()
        selector = self.selector if self.reader != "heuristic" else None
        if selector is not None and (selector.uses_cross or selector.support_cross):
            load_cross()  # the merged cross-encoder: built once, before the first question
        if selector is not None and selector.uses_unit_encoder and self.unit_encoder is not None:
            # the merged unit encoder, in torch for many questions, as the embedder's bulk one
            self.unit_encoder.warm_up(getattr(self.embedder, "backend", None))

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        return self._answer(question, hits)[0]

    def stream_answer(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """The answer's units one by one (a refusal in one piece), then the Answer."""
        answer, pieces = self._answer(question, hits)
        yield from pieces
        yield answer

    def _answer(self, question: str, hits: Sequence[Hit]) -> tuple[Answer, list[str]]:
        began = time.perf_counter()
        hits = tuple(hits)
        trained = self.reader != "heuristic"
        # the trained readers' asked names, read once here: ranking reads a table whose cells
        # name them, composing reads tables whose headers name them together, the refusal
        # support and the coverage lines read which the passages lack. Names of a sentence
        # that states the asker's case ("I'm in Germany.") are said after the answer when no
        # passage mentions them, but are no reason to refuse
        names, stated = asked_and_stated(question, passages_text(hits)) if trained else ([], [])
        ranked = self.rank(question, hits, names)
        best = ranked[0] if ranked else None
        names_said = trained and best is not None
        missing = uncovered(question, hits, names)
        stated_missing = uncovered(question, hits, stated)
        if best is None:
            support = 0.0
        elif self.reader != "heuristic":
            selector = self.selector
            if selector.support_cross:  # the cross-encoder reads the chosen unit only
                context = hits[best.unit.hit].chunk.context
                text = f"{context}\n{best.text}" if self.embed_context else best.text
                best_dense = float(load_cross().logits(question, [text])[0])
            else:
                best_dense = max(s.dense for s in ranked)  # cross-encoder logit, or cosine
            probabilities = [s.score for s in ranked]
            gap = (
                self._unit_alone_gap(question, best) if selector.answerability.unit_alone else None
            )
            support = selector.support(
                probabilities,
                best_dense,
                best.passage,
                question,
                hits,
                best.unit.hit,
                missing,
                best.text,
                gap,
            )
        else:
            support = support_score(best.dense, best.share)
        metadata: dict[str, Any] = {
            "generator": self.name,
            "reader": self.reader,
            "support": round(support, 4),
            "threshold": self.threshold,
        }
        if missing or stated_missing:
            metadata["uncovered"] = [*missing, *stated_missing]
        if best is None or support < self.threshold:
            # the refusal itself stays the plain sentence: echoing an asked name ("project
            # Zebrafinch") would read as if the documents held it; metadata says which
            metadata["latency_ms"] = round(1000 * (time.perf_counter() - began), 2)
            return Answer(REFUSAL, True, (), hits, metadata), [REFUSAL]
        chosen, more, more_at = self._choose(question, ranked, hits, names)
        pieces = self._pieces(chosen, hits, more, more_at)
        if names_said:  # the fact first, then which part of the question it does not cover
            pieces.extend(
                coverage_lines(
                    [*names, *stated],
                    [*missing, *stated_missing],
                    hits,
                    ranked,
                    chosen,
                    metadata,
                    question,
                )
            )
        citations = self._citations(chosen, hits)
        metadata["latency_ms"] = round(1000 * (time.perf_counter() - began), 2)
        return Answer("".join(pieces), False, citations, hits, metadata), pieces

    # --- steps ------------------------------------------------------------------------------

    def rank(
        self, question: str, hits: Sequence[Hit], names: Sequence[str] | None = None
    ) -> list[Scored]:
        """The candidate units, embedded and scored, best first. `names`: the question's
        asked names (`ragkit.reader.names.asked_names`) when the caller has them."""
        if self.reader != "heuristic":
            if names is None:
                names = asked_names(question, passages_text(hits))
            return self._rank_trained(question, hits, names)
        order = top_passages(hits, self.max_passages)
        units = [u for i in order for u in segment(hits[i].chunk.text, i)]
        units = [u for u in units if not is_planted(question, unit_text(u, hits))]
        if not units:
            return []
        # Each text in its own language: the question's (detected among the passages'
        # languages), each passage's as stored on its chunk.
        language = question_language(question, (hits[i].chunk.language for i in order))
        q_terms = analyser_for(language).content_terms(question)
        q_words = frozenset(words(question))
        cue = question_cue(question)
        texts = [unit_text(u, hits) for u in units]
        unit_terms = [
            set(analyser_for(hits[u.hit].chunk.language).content_terms(t))
            for u, t in zip(units, texts, strict=True)
        ]
        contexts = {
            i: set(analyser_for(hits[i].chunk.language).content_terms(hits[i].chunk.context))
            for i in order
        }
        lexical, share = lexical_scores(q_terms, unit_terms, [contexts[u.hit] for u in units])
        rank_of = {hit: position for position, hit in enumerate(order, start=1)}
        scored = [
            Scored(u, t, lex, sh, float(cue_match(cue, t, q_words)), 1.0 / rank_of[u.hit])
            for u, t, lex, sh in zip(units, texts, lexical, share, strict=True)
        ]
        for s in scored:
            s.score = W_LEXICAL * s.lexical + W_CUE * s.cue + W_RANK * s.prior
        # stable: ties keep reading order, so the earlier of two equal sentences wins
        scored.sort(key=lambda s: -s.score)
        candidates = scored[: self.max_candidates]
        if self.embed_context:  # as the index embeds chunks: under their title and headings
            embedded = [f"{hits[s.unit.hit].chunk.context}\n{s.text}" for s in candidates]
        else:
            embedded = [s.text for s in candidates]
        vectors = self._cache.embed(self.embedder.embed, [question, *embedded])
        dense = vectors[1:] @ vectors[0]  # (n_candidates,) cosines of unit-length vectors
        for s, cosine in zip(candidates, dense, strict=True):
            s.dense = float(cosine)
            s.score += W_DENSE * s.dense
        candidates.sort(key=lambda s: -s.score)
        return candidates

    def _rank_trained(
        self, question: str, hits: Sequence[Hit], names: Sequence[str]
    ) -> list[Scored]:
        """Stage 1 (cheap features) over every unit, stage 2 (with the cosine and/or the
        cross-encoder's logit) over the best `max_candidates`; a unit's score is the
        selector's P(it answers)."""
        selector = self.selector
        units, candidates = build_candidates(hits, self.max_passages)
        keep_units = [not is_planted(question, c.text) for c in candidates]
        units = [u for u, k in zip(units, keep_units, strict=True) if k]
        candidates = [c for c, k in zip(candidates, keep_units, strict=True) if k]
        if not units:
            return []
        cheap, crosses = cheap_features(question, candidates, passages_text(hits))
        first = selector.cheap_scores(cheap, crosses)
        keep = np.argsort(-first, kind="stable")[: self.max_candidates]
        added = table_candidates(question, units, candidates, first, keep.tolist(), hits, names)
        keep = np.array([*keep, *added], dtype=int)
        # each kept unit under its chunk's title and headings: as the index embeds chunks,
        # and as the cross-encoder was trained
        if self.embed_context:
            texts = [f"{candidates[i].context}\n{candidates[i].text}" for i in keep]
        else:
            texts = [candidates[i].text for i in keep]
        cross = load_cross().logits(question, texts) if selector.uses_cross else None
        # the question's cosine with the kept units (when the selector reads it) and with the
        # top passages: the dense retriever's own score, else (BM25-only retrieval,
        # hand-built hits) embedded here
        embedded = texts if selector.uses_cosine else []
        passages = passage_texts_to_embed(hits, self.max_passages)
        cosine, computed = None, {}
        units_encoder = self.unit_encoder if embedded and selector.uses_unit_encoder else None
        if units_encoder is not None:  # the units' cosines from the adapted encoder
            unit_vectors = self._unit_cache.embed(units_encoder.embed, [question, *embedded])
            cosine = unit_vectors[1:] @ unit_vectors[0]  # (n_keep,)
            embedded = []
        if embedded or passages:
            vectors = self._cache.embed(
                self.embedder.embed, [question, *embedded, *(t for _, t in passages)]
            )
            if cosine is None:
                cosine = vectors[1 : 1 + len(embedded)] @ vectors[0]  # (n_keep,) or (0,)
            computed = {
                i: float(v @ vectors[0])
                for (i, _), v in zip(passages, vectors[1 + len(embedded) :], strict=True)
            }
        passage = passage_cosine(hits, self.max_passages, computed)
        kept = cheap[keep]
        dense = dense_features(selector.dense, kept, cosine, cross)
        p = selector.probabilities(kept, dense, [crosses[i] for i in keep])
        best_dense = cross if cross is not None else cosine
        assert best_dense is not None
        scored = [
            Scored(
                units[i],
                candidates[i].text,
                float(cheap[i, 0]),
                float(cheap[i, 2]),
                0.0,
                float(cheap[i, 12]),
                float(cos),
                float(prob),
                passage,
            )
            for i, cos, prob in zip(keep, best_dense, p, strict=True)
        ]
        scored.sort(key=lambda s: -s.score)
        return scored

    def _unit_alone_gap(self, question: str, best: Scored) -> float:
        """The chosen unit's cosine with the question from its own text minus its cosine under
        its title and headings (`Scored.dense`, what stage 2 read), by stage 2's encoder (the
        unit encoder when the selector reads it): one more short text embedded, the question's
        vector is cached. A near miss often matches the question's topic through its headings
        and not by itself; the support reads this when its selector was fitted with it
        (`ragkit.reader.selector.UNIT_ALONE_NAMES`)."""
        if not self.embed_context:  # stage 2 read the unit alone: no headings to take away
            return 0.0
        encoder = self.unit_encoder if self.selector.uses_unit_encoder else None
        if encoder is not None:
            vectors = self._unit_cache.embed(encoder.embed, [question, best.text])
        else:
            vectors = self._cache.embed(self.embedder.embed, [question, best.text])
        return float(vectors[1] @ vectors[0]) - best.dense

    def _choose(
        self,
        question: str,
        ranked: list[Scored],
        hits: Sequence[Hit],
        names: Sequence[str] | None = None,
    ) -> tuple[list[Unit], int, list[int]]:
        """The units of the answer in reading order, how many list items or rows were left
        out, and where (`ragkit.reader.compose.choose`)."""
        return choose(
            question,
            ranked,
            hits,
            trained=self.reader != "heuristic",  # the baseline keeps its own choice
            max_passages=self.max_passages,
            max_units=self.max_units,
            embed=lambda texts: self._cache.embed(self.embedder.embed, texts),
            planted=is_planted,
            names=names,
        )

    @staticmethod
    def _pieces(
        chosen: list[Unit], hits: Sequence[Hit], more: int = 0, more_at: Sequence[int] = ()
    ) -> list[str]:
        """The answer's text, unit by unit (`ragkit.reader.compose.pieces`)."""
        return pieces(chosen, hits, more, more_at)

    @staticmethod
    def _citations(chosen: list[Unit], hits: Sequence[Hit]) -> tuple[Citation, ...]:
        """One quote per run of adjacent chosen units (`ragkit.reader.compose.citations`)."""
        return citations(chosen, hits)
