"""Evaluation metrics as pure functions: retrieval, answers, abstention, groundedness.

Retrieval metrics take BEIR/TREC shapes:

    qrels: {query_id: {doc_id: relevance}}    run: {query_id: {doc_id: score}}

Each is the mean over the queries in `qrels` (a query missing from the run scores 0). A
query's ranking is its docs by descending score, ties by doc id. A doc is relevant when its
relevance is > 0. nDCG uses linear gains and a log2(rank + 1) discount, as pytrec_eval and
BEIR do; the ideal ranking is built from the judged docs alone.

Answer metrics follow the official SQuAD v2.0 evaluation script (`normalize_answer`,
`compute_exact`, `compute_f1`, max over the gold answers, an unanswerable question's gold is
the empty string). v1.1's script differs only when a normalised answer is empty (v1.1 scores
F1 0 there, v2.0 scores 1 when both are empty), which v1.1 data never has.
"""

from __future__ import annotations

import collections
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ragkit.eval.items import Gold, MatchMode, chunk_matches, doc_matches
from ragkit.reader.plain import plain
from ragkit.text.analyse import stopwords
from ragkit.types import Hit

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]
QueryMetric = Callable[[Mapping[str, int], Mapping[str, float], int], float]

# ---------------------------------------------------------------------------- retrieval


def ranking(scores: Mapping[str, float]) -> list[str]:
    """Doc ids best first: by descending score, ties by doc id."""
    return sorted(scores, key=lambda doc: (-scores[doc], doc))


def query_hit(judged: Mapping[str, int], scores: Mapping[str, float], k: int) -> float:
    """1.0 when a relevant doc is in the top k, else 0.0."""
    return float(any(judged.get(doc, 0) > 0 for doc in ranking(scores)[:k]))


def query_recall(judged: Mapping[str, int], scores: Mapping[str, float], k: int) -> float:
    """Share of the relevant docs that are in the top k (0.0 when nothing is relevant)."""
    relevant = {doc for doc, rel in judged.items() if rel > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking(scores)[:k])) / len(relevant)


def query_rr(judged: Mapping[str, int], scores: Mapping[str, float], k: int = 10) -> float:
    """Reciprocal rank of the first relevant doc within the top k (0.0 when none)."""
    for rank, doc in enumerate(ranking(scores)[:k], start=1):
        if judged.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def query_ndcg(judged: Mapping[str, int], scores: Mapping[str, float], k: int = 10) -> float:
    """DCG of the top k over the DCG of the ideal top k (0.0 when nothing is relevant)."""
    dcg = sum(
        judged.get(doc, 0) / math.log2(rank + 1)
        for rank, doc in enumerate(ranking(scores)[:k], start=1)
    )
    ideal = sorted((rel for rel in judged.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0


def first_relevant_rank(judged: Mapping[str, int], scores: Mapping[str, float]) -> int | None:
    """1-based rank of the first relevant doc, or None when no relevant doc was retrieved."""
    for rank, doc in enumerate(ranking(scores), start=1):
        if judged.get(doc, 0) > 0:
            return rank
    return None


def _mean_over(qrels: Qrels, run: Run, metric: QueryMetric, k: int) -> float:
    if not qrels:
        return 0.0
    return sum(metric(judged, run.get(qid, {}), k) for qid, judged in qrels.items()) / len(qrels)


def hit_at_k(qrels: Qrels, run: Run, k: int = 5) -> float:
    """Share of queries with at least one relevant doc in the top k."""
    return _mean_over(qrels, run, query_hit, k)


def recall_at_k(qrels: Qrels, run: Run, k: int = 5) -> float:
    """Mean share of each query's relevant docs found in its top k."""
    return _mean_over(qrels, run, query_recall, k)


def mrr_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant doc within the top k."""
    return _mean_over(qrels, run, query_rr, k)


def ndcg_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean nDCG@k (BEIR's headline metric at k=10)."""
    return _mean_over(qrels, run, query_ndcg, k)


# ---------------------------------------------------------------- from chunk hits to BEIR shapes


def hits_to_run(
    hits: Sequence[Hit], gold: Sequence[Gold], mode: MatchMode, *, pages: bool
) -> dict[str, float]:
    """Chunk hits folded to documents (or pages) named as the dataset names them.

    A document's score is 1 / rank of its first chunk, so the document ranking is the order
    in which the retriever first returned each one.
    """
    run: dict[str, float] = {}
    for rank, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        docs = [g.doc for g in gold if doc_matches(g.doc, chunk.source, mode)] or [chunk.source]
        keys = docs
        if pages and chunk.page is not None:
            span = range(chunk.page, (chunk.page_end or chunk.page) + 1)
            keys = [Gold(doc, page).key for doc in docs for page in span]
        for key in dict.fromkeys(keys):
            run.setdefault(key, 1.0 / rank)
    return run


def retrieval_record(
    gold: Sequence[Gold], ranked: Sequence[Hit], context: Sequence[Hit], mode: MatchMode, k: int
) -> dict[str, Any]:
    """Doc-level metrics, and page-level ones over the gold that names pages."""
    levels = {"doc": (False, list(gold))}
    paged = [g for g in gold if g.page is not None]
    if paged:
        levels["page"] = (True, paged)
    out: dict[str, Any] = {}
    for level, (pages, golds) in levels.items():
        qrels: dict[str, int] = {}
        for g in golds:
            key = g.key if pages else g.doc
            qrels[key] = max(qrels.get(key, 0), g.relevance)
        ranking = hits_to_run(ranked, golds, mode, pages=pages)
        seen = hits_to_run(context, golds, mode, pages=pages)
        gold_rank = next(
            (
                r
                for r, h in enumerate(ranked, 1)
                if any(_hit_is_gold(g, h, mode, pages) for g in golds)
            ),
            None,
        )
        out[level] = {
            f"hit@{k}": query_hit(qrels, seen, k),
            f"recall@{k}": query_recall(qrels, seen, k),
            "mrr@10": query_rr(qrels, ranking, 10),
            "ndcg@10": query_ndcg(qrels, ranking, 10),
            "gold_rank": gold_rank,  # chunk rank of the first gold chunk, None when not retrieved
        }
    return out


def _hit_is_gold(gold: Gold, hit: Hit, mode: MatchMode, pages: bool) -> bool:
    return chunk_matches(gold if pages else Gold(gold.doc), hit.chunk, mode)


# ---------------------------------------------------------------------------- answers (SQuAD)

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, drop punctuation, articles and extra whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def squad_tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def exact_match(gold: str, prediction: str) -> int:
    return int(normalize_answer(gold) == normalize_answer(prediction))


def token_f1(gold: str, prediction: str) -> float:
    gold_tokens, pred_tokens = squad_tokens(gold), squad_tokens(prediction)
    if not gold_tokens or not pred_tokens:
        return float(gold_tokens == pred_tokens)  # no-answer: right only when both are empty
    common = collections.Counter(gold_tokens) & collections.Counter(pred_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_golds(answers: Iterable[str]) -> list[str]:
    """The gold answers the script compares against: non-empty ones, else [""] (no answer)."""
    golds = [a for a in answers if normalize_answer(a)]
    return golds or [""]


def max_exact(answers: Iterable[str], prediction: str) -> int:
    return max(exact_match(gold, prediction) for gold in squad_golds(answers))


def max_f1(answers: Iterable[str], prediction: str) -> float:
    return max(token_f1(gold, prediction) for gold in squad_golds(answers))


def answer_contained(answers: Iterable[str], prediction: str) -> bool:
    """Whether some non-empty gold answer, normalised, occurs in the normalised prediction."""
    padded = f" {normalize_answer(prediction)} "
    return any(f" {gold} " in padded for gold in map(normalize_answer, answers) if gold)


# ---------------------------------------------------------------------------- containment

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
_DASHES = re.compile(r"[\u2010-\u2015]")


def _fold(text: str) -> str:
    """Case-folded, curly quotes and dashes straightened, whitespace collapsed."""
    return " ".join(_DASHES.sub("-", text.translate(_QUOTES)).casefold().split())


def contains_share(text: str, needles: Sequence[str]) -> float:
    """Share of `needles` found in `text` (case and whitespace insensitive); 1.0 when none."""
    if not needles:
        return 1.0
    folded = _fold(text)
    return sum(_fold(needle) in folded for needle in needles) / len(needles)


def contains_all(text: str, needles: Sequence[str]) -> bool:
    return contains_share(text, needles) == 1.0


# ---------------------------------------------------------------------------- abstention


def abstention_rates(outcomes: Iterable[tuple[bool, bool]]) -> dict[str, float | int | None]:
    """From (answerable, abstained) pairs: correct refusals and false refusals, with counts.

    correct_refusal = abstained / unanswerable questions; false_refusal = abstained /
    answerable questions; None when there are no questions of that kind.
    """
    answerable = unanswerable = refused_unanswerable = refused_answerable = 0
    for is_answerable, abstained in outcomes:
        if is_answerable:
            answerable += 1
            refused_answerable += bool(abstained)
        else:
            unanswerable += 1
            refused_unanswerable += bool(abstained)
    return {
        "correct_refusal": refused_unanswerable / unanswerable if unanswerable else None,
        "false_refusal": refused_answerable / answerable if answerable else None,
        "n_unanswerable": unanswerable,
        "n_answerable": answerable,
    }


# ---------------------------------------------------------------------------- grounding


# Function words carry no claim; everything else (numbers included) is content. The list is
# the analyser's (NLTK/Snowball), the same one BM25 and the extractive reader use.
def content_tokens(text: str) -> list[str]:
    """SQuAD-normalised tokens of `text` minus stopwords."""
    stop = stopwords()
    return [token for token in squad_tokens(text) if token not in stop]


def groundedness(answer: str, cited_passages: Sequence[str]) -> float | None:
    """Share of the answer's content tokens that occur in the cited passages.

    None when the answer has no content tokens (nothing to support). An answer that cites
    nothing has no support: 0.0.
    """
    tokens = content_tokens(answer)
    if not tokens:
        return None
    support = set()
    for passage in cited_passages:
        support.update(squad_tokens(passage))
    return sum(token in support for token in tokens) / len(tokens)


def citation_valid(quote: str, chunk_text: str | None) -> bool:
    """A citation is valid when its quote is a non-empty verbatim substring of the cited chunk,
    Markdown emphasis aside (quotes are shown without it: `ragkit.reader.plain`)."""
    if not quote or chunk_text is None:
        return False
    return quote in chunk_text or plain(quote) in plain(chunk_text)


def mean(values: Iterable[float | int | bool | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
