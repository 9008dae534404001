"""Metric code checked on hand-computed values and against the official SQuAD definitions."""

from __future__ import annotations

import collections
import json
import math
import random
import re
import string
from pathlib import Path

import pytest

from ragkit.eval import metrics as m
from ragkit.eval.bootstrap import paired_bootstrap
from ragkit.eval.items import Gold
from ragkit.index.records import Chunk
from ragkit.types import Hit

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# ---------------------------------------------------------------------------- retrieval

# Three docs ranked d1 > d2 > d3; d1 and d3 are relevant (relevance 1).
#   DCG@10  = 1/log2(2) + 0/log2(3) + 1/log2(4) = 1 + 0 + 0.5           = 1.5
#   IDCG@10 = 1/log2(2) + 1/log2(3)             = 1 + 0.6309298          = 1.6309298
#   nDCG@10 = 1.5 / 1.6309298                                            = 0.9197208
QRELS = {"q1": {"d1": 1, "d3": 1}}
RUN = {"q1": {"d1": 0.9, "d2": 0.8, "d3": 0.7}}


def test_ndcg_on_a_three_doc_example_worked_by_hand():
    assert m.ndcg_at_k(QRELS, RUN, 10) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert m.ndcg_at_k(QRELS, RUN, 10) == pytest.approx(0.9197208, abs=1e-6)
    # k=1: DCG = 1, IDCG = 1.
    assert m.ndcg_at_k(QRELS, RUN, 1) == 1.0


def test_graded_ndcg():
    # Ranked d2 > d3 > d1 with d1 = 2, d3 = 1:
    #   DCG  = 0 + 1/log2(3) + 2/log2(4) = 0.6309298 + 1 = 1.6309298
    #   IDCG = 2/log2(2) + 1/log2(3)     = 2 + 0.6309298 = 2.6309298  ->  0.6199...
    qrels = {"q": {"d1": 2, "d3": 1, "d2": 0}}
    run = {"q": {"d2": 3.0, "d3": 2.0, "d1": 1.0}}
    assert m.ndcg_at_k(qrels, run, 10) == pytest.approx(1.6309298 / 2.6309298, abs=1e-6)


def test_hit_recall_mrr_by_hand():
    run = {"q1": {"d2": 0.9, "d1": 0.8, "d3": 0.7}}  # relevant d1 at rank 2, d3 at rank 3
    assert m.hit_at_k(QRELS, run, 1) == 0.0
    assert m.hit_at_k(QRELS, run, 2) == 1.0
    assert m.recall_at_k(QRELS, run, 2) == 0.5
    assert m.recall_at_k(QRELS, run, 3) == 1.0
    assert m.mrr_at_k(QRELS, run, 10) == 0.5
    assert m.mrr_at_k(QRELS, run, 1) == 0.0
    assert m.first_relevant_rank(QRELS["q1"], run["q1"]) == 2


def test_queries_missing_from_the_run_score_zero_and_ties_break_by_doc_id():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    run = {"q1": {"z": 1.0, "a": 1.0}}  # tie: 'a' sorts before 'z'
    assert m.ranking(run["q1"]) == ["a", "z"]
    assert m.mrr_at_k(qrels, run) == 0.5  # q1 = 1, q2 missing = 0
    assert m.ndcg_at_k({}, {}) == 0.0


def _chunk(source: str, text: str = "x", page: int | None = None, page_end=None) -> Chunk:
    return Chunk(f"{source}:{page}:{text}", source, source, text, 0, 1, page, (), "h", (), page_end)


def test_hits_fold_to_documents_at_their_first_rank():
    hits = [
        Hit(_chunk("b.md"), 0.9, 1),
        Hit(_chunk("sub/a.md"), 0.8, 2),  # matches gold 'a.md' as a path suffix
        Hit(_chunk("b.md", "y"), 0.7, 3),
        Hit(_chunk("c.md"), 0.6, 4),
    ]
    run = m.hits_to_run(hits, [Gold("a.md")], "path", pages=False)
    assert m.ranking(run) == ["b.md", "a.md", "c.md"]
    record = m.retrieval_record([Gold("a.md")], hits, hits[:1], "path", k=1)["doc"]
    assert record == {"hit@1": 0.0, "recall@1": 0.0, "mrr@10": 0.5, "ndcg@10": 1 / math.log2(3),
                      "gold_rank": 2}  # fmt: skip


def test_page_level_metrics_only_count_the_gold_page():
    gold = [Gold("money/e.pdf", 2)]
    hits = [
        Hit(_chunk("money/e.pdf", "p1", page=1), 1.0, 1),
        Hit(_chunk("money/e.pdf", "p23", page=2, page_end=3), 0.9, 2),  # spans pages 2-3
    ]
    record = m.retrieval_record(gold, hits, hits, "path", k=2)
    assert record["doc"]["gold_rank"] == 1 and record["doc"]["mrr@10"] == 1.0
    assert record["page"]["gold_rank"] == 2 and record["page"]["mrr@10"] == 0.5
    assert record["page"]["hit@2"] == 1.0


def test_beir_sources_match_on_the_record_id():
    hits = [Hit(_chunk("corpus.jsonl#7"), 1.0, 1), Hit(_chunk("corpus.jsonl#42"), 0.5, 2)]
    run = m.hits_to_run(hits, [Gold("42")], "doc_id", pages=False)
    assert run == {"corpus.jsonl#7": 1.0, "42": 0.5}


# ---------------------------------------------------------------------------- SQuAD


def official_normalize_answer(s):
    """Verbatim logic of the official SQuAD v2.0 evaluation script."""

    def remove_articles(text):
        regex = re.compile(r"\b(a|an|the)\b", re.UNICODE)
        return re.sub(regex, " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_get_tokens(s):
    if not s:
        return []
    return official_normalize_answer(s).split()


def official_compute_exact(a_gold, a_pred):
    return int(official_normalize_answer(a_gold) == official_normalize_answer(a_pred))


def official_compute_f1(a_gold, a_pred):
    gold_toks = official_get_tokens(a_gold)
    pred_toks = official_get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def official_scores(answers, pred):
    gold_answers = [a for a in answers if official_normalize_answer(a)]
    if not gold_answers:
        gold_answers = [""]
    return (
        max(official_compute_exact(a, pred) for a in gold_answers),
        max(official_compute_f1(a, pred) for a in gold_answers),
    )


@pytest.mark.parametrize(
    ("gold", "pred", "em", "f1"),
    [
        ("the Eiffel Tower", "Eiffel tower.", 1, 1.0),  # articles, case, punctuation
        ("An apple", "apple", 1, 1.0),
        ("  New   York ", "new york", 1, 1.0),  # whitespace
        ("theater", "ater", 0, 0.0),  # articles only as whole words
        ("state-of-the-art", "stateoftheart", 1, 1.0),  # punctuation goes before articles
        ("U.S.", "us", 1, 1.0),
        ("the cat sat on the mat", "cat on mat today", 0, 0.75),  # P = R = 3/4
        ("cat cat dog", "cat dog dog", 0, 2 / 3),  # token counts: cat 1 + dog 1 in common
        ("", "", 1, 1.0),  # no answer, no prediction: right
        ("", "Paris", 0, 0.0),
    ],
)
def test_squad_em_and_f1_cases(gold, pred, em, f1):
    assert m.exact_match(gold, pred) == em == official_compute_exact(gold, pred)
    assert m.token_f1(gold, pred) == pytest.approx(f1)
    assert m.token_f1(gold, pred) == pytest.approx(official_compute_f1(gold, pred))


def test_multiple_golds_take_the_max():
    golds = ["Denver Broncos", "Broncos", "the Denver Broncos team"]
    assert m.max_exact(golds, "the Broncos") == 1
    assert m.max_f1(golds, "Denver") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert m.max_f1([], "") == 1.0  # unanswerable and abstained
    assert m.max_f1([], "Denver") == 0.0
    assert m.max_exact(["", "  "], "") == 1  # all-empty golds become the no-answer gold


def test_agrees_with_the_official_script_on_random_strings():
    rng = random.Random(7)
    words = ["the", "a", "an", "Cat", "cat.", "dog", "U.S.", "1,000", "état", "-", "  ", "Ünïcode"]
    for _ in range(500):
        golds = [
            " ".join(rng.choices(words, k=rng.randint(0, 5))) for _ in range(rng.randint(1, 3))
        ]
        pred = " ".join(rng.choices(words, k=rng.randint(0, 6)))
        em, f1 = official_scores(golds, pred)
        assert m.max_exact(golds, pred) == em
        assert m.max_f1(golds, pred) == pytest.approx(f1)


def test_agrees_with_the_official_script_on_xquad_when_present():
    path = SHARED / "xquad-en" / "xquad.en.json"
    if not path.exists():
        pytest.skip("../shared/data/xquad-en is absent")
    data = json.loads(path.read_text(encoding="utf-8"))
    qas = [qa for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]][:300]
    for qa in qas:
        golds = [a["text"] for a in qa["answers"]]
        pred = qa["question"]  # some overlap, rarely exact
        assert (m.max_exact(golds, pred), m.max_f1(golds, pred)) == pytest.approx(
            official_scores(golds, pred)
        )


def test_answer_containment():
    assert m.answer_contained(["Denver Broncos"], "It was the Denver Broncos, in 2016.")
    assert not m.answer_contained(["Broncos"], "The Broncosaurus")  # whole tokens only
    assert not m.answer_contained([""], "anything")


# ---------------------------------------------------------------------------- other answers


def test_must_contain_is_case_and_whitespace_insensitive():
    text = "Claims are approved by the department\n head; it\u2019s two weeks\u2019 notice."
    assert m.contains_all(text, ["Department head", "it's"])
    assert m.contains_share(text, ["Department head", "CFO"]) == 0.5
    assert m.contains_all("", []) is True


def test_abstention_rates_by_hand():
    outcomes = [(True, False), (True, True), (False, True), (False, False), (False, True)]
    rates = m.abstention_rates(outcomes)
    assert rates["correct_refusal"] == pytest.approx(2 / 3)
    assert rates["false_refusal"] == 0.5
    assert (rates["n_unanswerable"], rates["n_answerable"]) == (3, 2)
    assert m.abstention_rates([(True, False)])["correct_refusal"] is None


def test_groundedness_by_hand():
    # content tokens: employees get 25 days leave ("of" is a stopword);
    # the passage has 25, days, leave (not "employees": "employee" differs) -> 3 / 5
    answer = "Employees get 25 days of leave."
    passage = "Every employee receives 25 days of paid annual leave."
    assert m.groundedness(answer, [passage]) == pytest.approx(0.6)
    assert m.groundedness(answer, []) == 0.0
    assert m.groundedness("the of and", [passage]) is None


def test_citation_validity_is_a_verbatim_substring():
    chunk = "Every employee receives 25 days of paid annual leave."
    assert m.citation_valid("25 days of paid", chunk)
    assert not m.citation_valid("25 days of Paid", chunk)
    assert not m.citation_valid("", chunk)
    assert not m.citation_valid("25 days", None)


# ---------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_contains_the_true_delta_and_reports_n():
    rng = random.Random(1)
    a = [float(rng.random() < 0.5) for _ in range(400)]
    # b equals a, plus 0.1 on every question: the true delta is exactly 0.1 in the population;
    # the per-question noise makes the interval non-degenerate.
    noise = [rng.gauss(0, 0.3) for _ in range(400)]
    shift = 0.1 - sum(noise) / len(noise)
    b = [x + shift + e for x, e in zip(a, noise, strict=True)]
    ci = paired_bootstrap(a, b, resamples=2000, seed=0)
    assert ci.n == 400
    assert ci.delta == pytest.approx(0.1)
    assert ci.low < 0.1 < ci.high
    assert ci.high - ci.low < 0.12


def test_bootstrap_is_deterministic_with_the_seed():
    a = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1]
    b = [1, 1, 1, 0, 1, 1, 0, 1, 1, 1]
    first = paired_bootstrap(a, b, resamples=500, seed=3)
    assert first == paired_bootstrap(a, b, resamples=500, seed=3)
    assert first.delta == pytest.approx(0.2)
    assert first.low <= first.delta <= first.high
    assert paired_bootstrap(a, b, resamples=500, seed=4) != first or first.low == first.high


def test_bootstrap_edge_cases():
    same = paired_bootstrap([1, 0, 1], [1, 0, 1], resamples=100)
    assert (same.delta, same.low, same.high, same.n) == (0.0, 0.0, 0.0, 3)
    assert paired_bootstrap([], [], resamples=10).n == 0
    with pytest.raises(ValueError):
        paired_bootstrap([1], [1, 2])
