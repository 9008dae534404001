"""The extractive generator: answer by quoting the passages' best sentences, or abstain.

No generator weights: the answer is one to three units (sentences, list items or table rows)
of the retrieved chunks, or a whole list, each cited, Markdown emphasis removed.

By default (`reader="trained"`) units are scored by the trained answer selector in
`ragkit.reader` (language-independent features, two logistic stages, a question-level
answerability model whose probability is the support; tests/bench/bench_reader.py);
`reader="cross"` adds the cross-encoder's logit of the chosen unit to that support
(`ragkit.reader.cross`; measured: fewer false refusals, same ranking, slower; README). The
heuristic reader it replaced is kept as the benchmark's baseline (`reader="heuristic"`); its
algorithm, per question:

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

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
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
from ragkit.reader.coverage import instead, join_names, not_about, uncovered
from ragkit.reader.cross import load_cross
from ragkit.reader.faq import faq_question, faq_reply
from ragkit.reader.features import cheap_features, dense_features
from ragkit.reader.lists import (
    LONG_LIST,
    asked_item,
    continues_lead,
    ends_colon,
    list_after,
    list_part,
    run_of_items,
    same_run,
    section_asked,
    shorten,
)
from ragkit.reader.names import asked_and_stated
from ragkit.reader.plain import plain
from ragkit.reader.selector import CROSS_SELECTOR, Selector, load_selector
from ragkit.reader.tables import best_rows, same_table
from ragkit.text.analyse import analyser_for, lucene_idf, words
from ragkit.text.language import question_language
from ragkit.text.segment import BULLET, Unit, ends_sentence, segment
from ragkit.types import REFUSAL, Answer, Citation, Hit

READERS = ("trained", "cross", "heuristic")
# Weights of the unit score, tuned for answer-sentence selection on the calibration half of
# squad2-cs224n-dev (tests/bench/bench_extractive.py); the rank prior is set by hand.
W_DENSE, W_LEXICAL, W_CUE, W_RANK = 0.5, 0.5, 0.15, 0.05
SECOND_UNIT_RATIO = 0.9  # a second unit joins the answer when it scores >= this x the best
# ... or >= this x the best when it holds a question word the best lacks (chosen on the
# handbook validation split: tests/bench/bench_reader.py --split validation)
COMPLEMENT_RATIO = 0.3  # validation: 0.57 at 0.1-0.3, 0.53 at 0.5-0.7, 0.51 without
CONTESTED_RATIO = 0.3  # ... or >= this x the best when the dense score alone ranks it first
# (handbook validation, trained reader: gold 0.56 at 0.3, 0.54 at 0.5, 0.54 without; pt 0.39,
# 0.33, 0.28; answers 49.5 words on average against 48.2 without)


# --- scoring ------------------------------------------------------------------------------


@dataclass
class Scored:
    unit: Unit
    text: str  # what is scored: the unit, under its table header for a row
    lexical: float  # IDF-weighted share of the question's content words the unit covers
    share: float  # the same share, unweighted
    cue: float  # 1.0 when the unit holds what the question type asks for
    prior: float  # 1 / rank of the passage
    # cosine of question and unit (0 until embedded); for a selector whose stage 2 reads the
    # cross-encoder: its logit for the pair (`ragkit.reader.cross`)
    dense: float = 0.0
    score: float = 0.0
    passage: float = 0.0  # trained reader: the best cosine of question and a top passage


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
        reader: str = "trained",
    ) -> None:
        """`reader`: "trained" scores units with the trained selector (`ragkit.reader`);
        "cross" with the same kind of selector whose refusal support also reads the
        cross-encoder's logit for the chosen unit (`ragkit.reader.cross`; not the default:
        it refuses more near misses but answers fewer validation questions, see the README);
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
        """The trained selector of this reader: `selector.json`, or for "cross"
        `selector-cross.json` (its support reads the cross-encoder)."""
        return load_selector(CROSS_SELECTOR if self.reader == "cross" else None)

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

    def warm_up(self) -> None:
        warm = getattr(self.embedder, "warm_up", None)
        if warm is not None:
            warm()
        selector = self.selector if self.reader != "heuristic" else None
        if selector is not None and (selector.uses_cross or selector.support_cross):
            load_cross()  # the merged cross-encoder: built once, before the first question

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
        ranked = self.rank(question, hits)
        best = ranked[0] if ranked else None
        # the trained readers say which asked names the passages (or the quoted ones) lack;
        # computed once here, and read by the refusal support too
        names_said = self.reader != "heuristic" and best is not None
        # names of a sentence that states the asker's case ("I'm in Germany.") are said after
        # the answer when no passage mentions them, but are no reason to refuse
        names, stated = asked_and_stated(question, passages_text(hits)) if names_said else ([], [])
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
            support = selector.support(
                probabilities, best_dense, best.passage, question, hits, best.unit.hit, missing
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
        chosen, more = self._choose(question, ranked, hits)
        pieces = self._pieces(chosen, hits, more)
        if names_said:  # the fact first, then which part of the question it does not cover
            pieces.extend(
                _coverage_lines(
                    [*names, *stated], [*missing, *stated_missing], hits, ranked, chosen, metadata
                )
            )
        citations = self._citations(chosen, hits)
        metadata["latency_ms"] = round(1000 * (time.perf_counter() - began), 2)
        return Answer("".join(pieces), False, citations, hits, metadata), pieces

    # --- steps ------------------------------------------------------------------------------

    def rank(self, question: str, hits: Sequence[Hit]) -> list[Scored]:
        """The candidate units, embedded and scored, best first."""
        if self.reader != "heuristic":
            return self._rank_trained(question, hits)
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

    def _rank_trained(self, question: str, hits: Sequence[Hit]) -> list[Scored]:
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
        if embedded or passages:
            vectors = self._cache.embed(
                self.embedder.embed, [question, *embedded, *(t for _, t in passages)]
            )
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

    def _choose(
        self, question: str, ranked: list[Scored], hits: Sequence[Hit]
    ) -> tuple[list[Unit], int]:
        """The units of the answer in reading order, and how many list items were left out."""
        best = ranked[0]
        trained = self.reader != "heuristic"  # the baseline keeps its own choice
        section = (
            section_asked(question, hits, top_passages(hits, self.max_passages))
            if trained
            else None
        )
        if section is not None:
            return self._section_list(question, hits, section, ranked)
        reply: list[Unit] = []
        more_rows = 0  # matching table rows left out (`best_rows`)
        passages = [  # the top passages' units, for answers drawn from several units
            self._joinable_units(question, hits, i, None)
            for i in top_passages(hits, self.max_passages)
        ]
        if trained and faq_question(best.unit, hits):
            # an FAQ's question line restates the question: its reply answers (`faq`)
            # (none in the passages: the question itself, which scores best, is quoted; the
            # best unit that asks nothing is often off the point)
            reply = faq_reply(best.unit, passages, hits)
        chosen = reply or [best.unit]
        text = hits[best.unit.hit].chunk.text
        units = self._joinable_units(question, hits, best.unit.hit, best.unit)
        position = units.index(best.unit) if best.unit in units else -1
        body = text[best.unit.start : best.unit.end].rstrip("*_ ")
        items: list[Unit] = []
        list_at = list_after(units, position, text)
        if reply:
            pass  # the FAQ's reply, as it stands
        elif trained and best.unit.kind == "row":
            # the rows of its table that match the question best, not the first ones
            embed = lambda texts: self._cache.embed(self.embedder.embed, texts)  # noqa: E731
            chosen, more_rows = best_rows(question, best.unit, passages, hits, embed)
        elif trained and continues_lead(text, units, position):
            # an item that continues its list's lead ("you receive:" / "full pay for ...,
            # then") is half a sentence: the lead and the whole list are the answer
            first = position
            while first > 0 and same_run(units[first - 1], best.unit):
                first -= 1
            lead = units[first - 1] if first > 0 else None
            chosen = [lead] if lead is not None and ends_colon(text, lead) else []
            items = [u for u in run_of_items(units, first) if same_run(u, best.unit)]
        elif body.endswith(":"):
            # "...must meet the following rules:" is answered by the list that follows it
            items = run_of_items(units, position + 1)
        elif list_at is not None:
            # so is a paragraph a bullet list directly follows, colon or not ("The grounds
            # are as follows"): the paragraph from the best sentence on, then the list
            chosen.extend(units[position + 1 : list_at])
            items = run_of_items(units, list_at)
        elif best.unit.kind != "sentence" and _second_in_same_list(ranked, units, position):
            # two items of one list (for the heuristic reader, two rows of one table too: the
            # trained one scores a row's table above) answer best: the question asks for
            # the list, so give all of it, under the sentence that introduces it
            first = position
            while first > 0 and same_run(units[first - 1], best.unit):
                first -= 1
            lead = units[first - 1] if first > 0 else None
            chosen = [lead] if lead is not None and ends_colon(text, lead) else []
            items = [u for u in run_of_items(units, first) if same_run(u, best.unit)]
        elif (
            best.unit.kind == "sentence"
            and len(body.split()) < 6
            and 0 <= position < len(units) - 1
        ):
            chosen.append(units[position + 1])  # a fragment ("Band L4") reads with what follows
        more = more_rows
        if items:
            more = self._shorten(question, items, ranked, hits)
            chosen.extend(u for u in items if u not in chosen)
        seen = {_normalise(text[u.start : u.end]) for u in chosen}
        lacking = self._terms_lacking(question, best, hits)
        # the unit the question reads most like (the dense score alone), when the selector's
        # priors (retrieval rank, position) put another first: a near-tie in retrieval must not
        # hide the headline fact behind a qualifying one ("25 days" under "carry up to 5 days").
        # The trained readers only ("cross" ranks with the same stages): the heuristic one (the
        # benchmark's baseline) adds the cosine into its score itself.
        closest = max(ranked, key=lambda s: s.dense) if self.reader != "heuristic" else None
        # the best rows of a table are one unit of the answer: a sentence may still join them
        limit = self.max_units + (len(chosen) - 1 if best.unit.kind == "row" else 0)
        for other in [] if items else ranked[1:]:  # a list answer is the list alone
            if len(chosen) >= limit:
                break
            if trained and faq_question(other.unit, hits):
                continue  # a question restates, it never answers
            if trained and best.unit.kind == "row" and same_table(other.unit, best.unit, hits):
                continue  # its table's best rows are chosen above
            close = other.score >= SECOND_UNIT_RATIO * best.score
            contested = other is closest and other.score >= CONTESTED_RATIO * best.score
            # a rule and its exception: the runner-up holds a word of the question the best
            # unit lacks ("weekend overtime" under "overtime is paid at 1.5 times")
            complements = other.score >= COMPLEMENT_RATIO * best.score and bool(
                lacking & self._unit_terms(other, hits)
            )
            if not (close or complements or contested):
                continue
            quote = _normalise(hits[other.unit.hit].chunk.text[other.unit.start : other.unit.end])
            if other.unit not in chosen and quote not in seen:
                seen.add(quote)
                chosen.append(other.unit)
        if trained and best.unit.kind == "item" and not items and position >= 0:
            # the paragraph that introduces the best item's list joined it (it holds words of
            # the question the item lacks): the list is the answer, as when the paragraph
            # scores best (`list_after`), never the introduction and one item of it
            first = position
            while first > 0 and same_run(units[first - 1], best.unit):
                first -= 1
            if (
                first > 0
                and units[first - 1] in chosen
                and list_after(units, first - 1, text) == first
            ):
                items = [u for u in run_of_items(units, first) if same_run(u, best.unit)]
                more = self._shorten(question, items, ranked, hits)
                chosen.extend(u for u in items if u not in chosen)
        # reading order inside a passage; passages in the order of their best unit
        first_seen = {u.hit: n for n, u in reversed(list(enumerate(chosen)))}
        return sorted(chosen, key=lambda u: (first_seen[u.hit], u.start)), more

    @staticmethod
    def _joinable_units(
        question: str, hits: Sequence[Hit], hit: int, keep: Unit | None
    ) -> list[Unit]:
        """The units of a passage that may join an answer (its list, the sentence after a
        fragment): never a planted instruction the question did not ask about."""
        return [
            u
            for u in segment(hits[hit].chunk.text, hit)
            if u == keep or not is_planted(question, unit_text(u, hits))
        ]

    def _section_list(
        self, question: str, hits: Sequence[Hit], section: int, ranked: list[Scored]
    ) -> tuple[list[Unit], int]:
        """The list or table of the section the question names (`section_asked`), under the
        sentence that introduces it when that ends with a colon; the best unit alone when
        planted-instruction filtering leaves no list there."""
        units = self._joinable_units(question, hits, section, None)
        run = list_part(units)
        if run is None:
            return [ranked[0].unit], 0
        start, end = run
        text = hits[section].chunk.text
        lead = units[start - 1] if start > 0 else None
        chosen = [lead] if lead is not None and ends_colon(text, lead) else []
        items = list(units[start:end])
        more = self._shorten(question, items, ranked, hits)
        return chosen + items, more

    @staticmethod
    def _shorten(
        question: str, items: list[Unit], ranked: list[Scored], hits: Sequence[Hit]
    ) -> int:
        """`lists.shorten` around the item the question asks about (`lists.asked_item`)."""
        if len(items) <= LONG_LIST:
            return 0
        texts = [unit_text(u, hits) for u in items]
        scores = {s.unit: s.score for s in ranked}
        language = hits[items[0].hit].chunk.language
        return shorten(items, asked_item(question, items, texts, scores, language))

    @staticmethod
    def _unit_terms(scored: Scored, hits: Sequence[Hit]) -> set[str]:
        return set(analyser_for(hits[scored.unit.hit].chunk.language).terms(scored.text))

    def _terms_lacking(self, question: str, best: Scored, hits: Sequence[Hit]) -> set[str]:
        """The question's content terms (its passage's language) that the best unit lacks."""
        asked = analyser_for(hits[best.unit.hit].chunk.language).content_terms(question)
        return set(asked) - self._unit_terms(best, hits)

    def _pieces(self, chosen: list[Unit], hits: Sequence[Hit], more: int = 0) -> list[str]:
        """The answer's text, unit by unit: sentences of one passage run on (a new line after
        a source line that ends unfinished, and before a note line: an unfinished line of its
        own, "US staff: expect it on your next payslip"), list items and table rows one per
        line (items as "- item" when there are several), a row under its table's header line
        (never the `|---|` line), Markdown emphasis removed."""
        pieces: list[str] = []
        previous: Unit | None = None
        n_items = sum(u.kind == "item" for u in chosen)
        for unit in chosen:
            body = hits[unit.hit].chunk.text[unit.start : unit.end]
            body = re.sub(r"[ \t]*\n[ \t]*(?=\S)", _rejoin(unit), body)
            if unit.kind == "item" and n_items > 1:
                body = f"- {body}"
            shown_header = previous is not None and previous.header == unit.header
            if unit.header and not shown_header:
                body = f"{unit.header.splitlines()[0]}\n{body}"
            if previous is None:
                separator = ""
            elif previous.hit == unit.hit and previous.kind == unit.kind == "sentence":
                # run on, unless the source breaks the line after an unfinished one (lines
                # of a note: "...within 1 month of approval" / "Non-US teammates: ...")
                text = hits[unit.hit].chunk.text
                broken = "\n" in text[previous.end : unit.start]
                unfinished = not ends_sentence(text, previous) or _note_line(text, unit)
                separator = "\n" if broken and unfinished else " "
            else:
                separator = "\n"
            pieces.append(separator + plain(body))
            previous = unit
        # Inline markers: "[n]" (n = the passage's 1-based position, the citations' number)
        # closes each run of units quoted from one passage: "...25 days of leave [1]."
        for index, unit in enumerate(chosen):
            if index + 1 == len(chosen) or chosen[index + 1].hit != unit.hit:
                pieces[index] = with_marker(pieces[index], unit.hit + 1)
        if more and chosen:
            last = hits[chosen[-1].hit].chunk
            where = f"{last.source}" + (f", page {last.page}" if last.page else "")
            where += f", {last.section}" if last.section else ""
            rows = (" row" if more == 1 else " rows") if chosen[-1].kind == "row" else ""
            pieces.append(f"\n+{more} more{rows} in {where}")
        return pieces

    @staticmethod
    def _citations(chosen: list[Unit], hits: Sequence[Hit]) -> tuple[Citation, ...]:
        citations: list[Citation] = []
        spans: list[tuple[int, int, int]] = []
        for unit in chosen:  # merge units that are adjacent in the same chunk into one quote
            text = hits[unit.hit].chunk.text
            gap = text[spans[-1][2] : unit.start].strip() if spans else ""
            if spans and spans[-1][0] == unit.hit and (not gap or BULLET.fullmatch(f"{gap} ")):
                spans[-1] = (unit.hit, spans[-1][1], unit.end)
            else:
                spans.append((unit.hit, unit.start, unit.end))
        for hit, start, end in spans:
            chunk = hits[hit].chunk
            quote = plain(chunk.text[start:end])
            citations.append(Citation.of(chunk, quote))
        return tuple(citations)


def with_marker(text: str, number: int) -> str:
    """`text` with " [number]" before its closing punctuation: "25 days." -> "25 days [1]."."""
    body = text.rstrip()
    stop = len(body.rstrip(".!?;:"))
    return f"{body[:stop]} [{number}]{body[stop:]}{text[len(body) :]}"


def _note_line(text: str, unit: Unit) -> bool:
    """Whether the unit is a whole source line of its own that ends unfinished (a note under
    a reply, "Staff elsewhere: add it to your next invoice"), not a wrapped sentence."""
    line_end = text.find("\n", unit.end)
    whole_line = (unit.start == 0 or text[unit.start - 1] == "\n") and (
        line_end < 0 or not text[unit.end : line_end].strip()
    )
    return whole_line and "\n" not in text[unit.start : unit.end] and not ends_sentence(text, unit)


def _second_in_same_list(ranked: Sequence[Scored], units: Sequence[Unit], position: int) -> bool:
    """Whether the runner-up unit, scoring nearly as well (`SECOND_UNIT_RATIO`), is another
    item of the best unit's list (row of its table)."""
    best = ranked[0].unit
    if position < 0 or len(ranked) < 2 or not same_run(ranked[1].unit, best):
        return False
    if ranked[1].score < SECOND_UNIT_RATIO * ranked[0].score:
        return False
    runner = ranked[1].unit
    if runner.hit != best.hit or runner not in units:
        return False
    lo, hi = sorted((position, units.index(runner)))
    return all(same_run(u, best) for u in units[lo : hi + 1])


def _coverage_lines(
    names: Sequence[str],
    missing: Sequence[str],
    hits: Sequence[Hit],
    ranked: Sequence[Scored],
    chosen: Sequence[Unit],
    metadata: dict[str, Any],
) -> list[str]:
    """The lines after an answer that say which asked names it does not cover (recorded in
    `metadata` too): an asked code or labelled number whose sibling the quoted units (and
    their headings) hold instead ("The documents cover FY25, not FY26." when no passage
    mentions FY26, else "This answer is about FY25, not FY26."); names no passage mentions
    ("The documents don't mention Singapore."); names the quoted passages lack while another
    passage is about them (`not_about`: "The quoted passage doesn't mention Chicago.")."""
    at = list(dict.fromkeys(u.hit for u in chosen))
    said = "\n".join([*(hits[i].chunk.context for i in at), *(unit_text(u, hits) for u in chosen)])
    headings = "\n".join(hits[i].chunk.context for i in at)
    swapped = instead(names, said, "\n".join(hits[i].chunk.text for i in at), headings)
    lines = []
    for name, values in swapped:
        where = "The documents cover" if name in missing else "This answer is about"
        lines.append(f"\n{where} {join_names(values, 'and')}, not {name}.")
    if swapped:
        metadata["covered_instead"] = {name: values for name, values in swapped}
    done = {name for name, _ in swapped}
    if rest := [n for n in missing if n not in done]:
        lines.append(f"\nThe documents don't mention {join_names(rest)}.")
    others = [h for i, h in enumerate(hits) if i not in at]
    other_units = [s.text for s in ranked if s.unit.hit not in at]
    candidates = [n for n in names if n not in missing and n not in done]
    aside = not_about(candidates, [hits[i] for i in at], others, other_units)
    if aside:
        metadata["uncovered_by_answer"] = aside
        verb, noun = ("doesn't", "passage") if len(at) == 1 else ("don't", "passages")
        lines.append(f"\nThe quoted {noun} {verb} mention {join_names(aside)}.")
    return lines


def _rejoin(unit: Unit) -> str:
    # hard-wrapped sentence lines read as one line; table and header lines keep their breaks
    return "\n" if unit.kind == "row" else " "


def _normalise(text: str) -> str:
    return " ".join(words(text))
