"""Extractive generator benchmark: answer quality, abstention calibration, latency.

    python tests/bench/bench_extractive.py [--limit N] [--model M] [--only xquad,squad2,sample]

1. XQuAD English (SQuAD v1 format, 1,190 questions): how often the answer contains a gold
   answer span (SQuAD-normalised), given (a) the gold paragraph alone and (b) the gold paragraph
   among 4 distractors, the paragraphs of other articles that BM25 ranks highest for the
   question, all five in BM25 order. Baseline, same run: the sentence of the top 3 passages
   sharing the most words with the question (what `grounding.best_quote` does).
2. squad2-cs224n-dev, split by article title (sorted titles, alternating) into calibration and
   held-out halves. Three kinds of question: answerable (its paragraph as the passage),
   SQuAD 2.0's unanswerable (its paragraph, a question edited to have no answer there), and
   off-corpus (an answerable question whose article is not in the corpus: the top 3 BM25
   paragraphs of the other articles of its half as passages). The threshold maximising
   balanced accuracy on the calibration half (refusal rate averaged over the two kinds of
   unanswerable) is reported with the held-out half's refusal rates, beside the module's
   default threshold.
3. The sample corpus (`sample_corpus/eval.jsonl`): ingest, retrieve k=5, answer; refusal
   rates on answerable and unanswerable questions, and `must_contain` on the answerable.
4. Latency of `generate()` with 5 passages (XQuAD with distractors), warm model, per question:
   with the vector cache (a paragraph's sentences are embedded once for its ~5 questions) and
   cold (no cache: the question and up to `max_candidates` sentences embedded every time).

`--limit N` keeps N questions per dataset (a fixed random sample). Real data comes from
../shared/data (or $RAGKIT_SHARED_DATA); absent, the script says so and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from ragkit.eval.metrics import normalize_answer as normalise_answer  # noqa: E402
from ragkit.generators.abstention import (  # noqa: E402
    choose_threshold,
    default_threshold,
    refusal_rates,
)
from ragkit.generators.extractive import ExtractiveGenerator  # noqa: E402
from ragkit.index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402
from ragkit.index.records import Chunk, chunk_id_for, sha256_hex  # noqa: E402
from ragkit.retrieval.sparse import BM25Index  # noqa: E402
from ragkit.text.analyse import words  # noqa: E402
from ragkit.text.segment import split_sentences  # noqa: E402
from ragkit.types import Hit  # noqa: E402

BENCH = REPO / ".bench"


def shared_data() -> Path | None:
    env = os.environ.get("RAGKIT_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


# --- helpers --------------------------------------------------------------------------------


def contains_gold(answer: str, golds: Sequence[str]) -> bool:
    normalised = f" {normalise_answer(answer)} "
    return any(f" {normalise_answer(g)} " in normalised for g in golds if normalise_answer(g))


def paragraph(title: str, text: str) -> Chunk:
    return Chunk(
        chunk_id=chunk_id_for(title, text),
        source=title,
        title=title.replace("_", " "),
        text=text,
        start=0,
        end=len(text),
        page=None,
        headings=(),
        doc_hash="",
    )


class ParagraphBM25:
    """BM25 (the retriever's own, `BM25Index`) over paragraphs; finds distractors."""

    def __init__(self, paragraphs: Sequence[tuple[str, Chunk]]) -> None:
        self.paragraphs = list(paragraphs)
        self.index = BM25Index([c.text for _, c in self.paragraphs])

    def top(self, question: str, k: int, exclude_title: str) -> list[tuple[float, Chunk]]:
        scores = self.index.scores(question)
        scored = [
            (float(scores[i]), c)
            for i, (title, c) in enumerate(self.paragraphs)
            if title != exclude_title
        ]
        scored.sort(key=lambda pair: -pair[0])
        return scored[:k]


def as_hits(scored: Sequence[tuple[float, Chunk]]) -> list[Hit]:
    ordered = sorted(scored, key=lambda pair: -pair[0])
    return [Hit(c, score=s, rank=n) for n, (s, c) in enumerate(ordered, start=1)]


def overlap_baseline(question: str, hits: Sequence[Hit]) -> str:
    """The sentence of the top 3 passages sharing the most words with the question."""
    from ragkit.generators.grounding import best_quote

    q = set(words(question))
    quotes = [best_quote(h.chunk.text, question) for h in hits[:3]]
    return max(quotes, key=lambda s: len(q & set(words(s))), default="")


def percentile(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def squad_articles(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def limited(items: list[Any], limit: int | None) -> list[Any]:
    if limit is None or limit >= len(items):
        return items
    keep = sorted(random.Random(0).sample(range(len(items)), limit))
    return [items[i] for i in keep]


# --- 1. XQuAD and 4. latency ----------------------------------------------------------------


def xquad(data: Path, embedder: Any, limit: int | None) -> list[dict[str, Any]]:
    articles = squad_articles(data / "xquad-en" / "xquad.en.json")
    paragraphs = [
        (a["title"], paragraph(a["title"], p["context"])) for a in articles for p in a["paragraphs"]
    ]
    questions = [
        (
            a["title"],
            paragraph(a["title"], p["context"]),
            qa["question"],
            [x["text"] for x in qa["answers"]],
        )
        for a in articles
        for p in a["paragraphs"]
        for qa in p["qas"]
    ]
    questions = limited(questions, limit)
    bm25 = ParagraphBM25(paragraphs)
    index_of = {c.chunk_id: i for i, (_, c) in enumerate(paragraphs)}
    print(f"xquad-en: {len(questions)} questions over {len(paragraphs)} paragraphs")

    gold_only = ExtractiveGenerator(embedder)
    with_distractors = ExtractiveGenerator(embedder)  # its own cache, so latency starts cold
    cold = ExtractiveGenerator(embedder, cache_size=0)
    answers: dict[str, list[tuple[bool, bool]]] = {"gold": [], "distractors": []}  # (hit, refused)
    base: dict[str, list[bool]] = {"gold": [], "distractors": []}
    lengths, gold_in_top3, warm_ms, cold_ms, model_ms = [], 0, [], [], []
    for n, (title, gold, question, golds) in enumerate(questions):
        passages = {
            "gold": [Hit(gold, 1.0, 1)],
            "distractors": as_hits(
                [
                    *bm25.top(question, 4, title),
                    (bm25.score(question, index_of[gold.chunk_id]), gold),
                ]
            ),
        }
        for setting, generator in (("gold", gold_only), ("distractors", with_distractors)):
            hits = passages[setting]
            started = time.perf_counter()
            answer = generator.generate(question, hits)
            if setting == "distractors":
                warm_ms.append(1000 * (time.perf_counter() - started))
            else:
                lengths.append(len(answer.text.split()))
            found = contains_gold(answer.text, golds) and not answer.abstained
            answers[setting].append((found, answer.abstained))
            base[setting].append(contains_gold(overlap_baseline(question, hits), golds))
        gold_in_top3 += any(h.chunk is gold for h in passages["distractors"][:3])
        if n < 200:  # cold: every text embedded; and the model alone on as many texts
            started = time.perf_counter()
            cold.generate(question, passages["distractors"])
            cold_ms.append(1000 * (time.perf_counter() - started))
            texts = [gold.text[s:e] for s, e in split_sentences(gold.text)] * 6
            started = time.perf_counter()
            embedder.embed([question, *texts[: cold.max_candidates]])
            model_ms.append(1000 * (time.perf_counter() - started))
    n = len(questions)
    rows = []
    for setting, label in (
        ("gold", "gold paragraph only"),
        ("distractors", "gold + 4 BM25 distractors"),
    ):
        found = [f for f, _ in answers[setting]]
        answered = [f for f, r in answers[setting] if not r]
        rows += [
            row(
                "xquad-en", label, n, "answer contains gold", np.mean(found), np.mean(base[setting])
            ),
            row(
                "xquad-en",
                label,
                len(answered),
                "answer contains gold, answered only",
                np.mean(answered),
            ),
            row("xquad-en", label, n, "refused (all answerable)", 1 - len(answered) / n),
        ]
    return [
        *rows,
        row("xquad-en", "gold paragraph only", n, "answer length, words (mean)", np.mean(lengths)),
        row(
            "xquad-en", "gold + 4 BM25 distractors", n, "gold paragraph in top 3", gold_in_top3 / n
        ),
        row("latency", "generate(), 5 passages, vector cache", n, "p50 / p95 ms", p50_95(warm_ms)),
        row(
            "latency",
            "generate(), 5 passages, no cache",
            len(cold_ms),
            "p50 / p95 ms",
            p50_95(cold_ms),
        ),
        row(
            "latency",
            f"model alone: embed 1 + {cold.max_candidates} texts",
            len(model_ms),
            "p50 / p95 ms",
            p50_95(model_ms),
        ),
    ]


def p50_95(ms: Sequence[float]) -> str:
    return f"{percentile(ms, 50):.1f} / {percentile(ms, 95):.1f}"


# --- 2. SQuAD 2.0 calibration ---------------------------------------------------------------


def squad2(data: Path, embedder: Any, limit: int | None) -> tuple[list[dict[str, Any]], float]:
    articles = squad_articles(data / "squad2-cs224n-dev" / "data" / "dev-v2.0.json")
    titles = sorted(a["title"] for a in articles)
    calibration = set(titles[0::2])
    paragraphs = [
        (a["title"], paragraph(a["title"], p["context"])) for a in articles for p in a["paragraphs"]
    ]
    # off-corpus passages come from the other articles of the same half: no held-out text
    # takes part in calibration
    bm25 = {
        half: ParagraphBM25([(t, c) for t, c in paragraphs if (t in calibration) == half])
        for half in (True, False)
    }
    questions = [
        (
            a["title"],
            paragraph(a["title"], p["context"]),
            qa["question"],
            not qa["is_impossible"],
            [x["text"] for x in qa["answers"]],
        )
        for a in articles
        for p in a["paragraphs"]
        for qa in p["qas"]
    ]
    questions = limited(questions, limit)
    print(
        f"squad2-cs224n-dev: {len(questions)} questions; calibration titles: {sorted(calibration)}"
    )
    generator = ExtractiveGenerator(embedder)
    support: dict[tuple[bool, str], list[float]] = {}  # (calibration half?, kind) -> scores
    contained = []
    for title, gold, question, answerable, golds in questions:
        half = title in calibration
        answer = generator.generate(question, [Hit(gold, 1.0, 1)])
        kind = "answerable" if answerable else "unanswerable"
        support.setdefault((half, kind), []).append(answer.metadata["support"])
        if answerable:
            if not half and not answer.abstained:
                contained.append(contains_gold(answer.text, golds))
            off = generator.generate(question, as_hits(bm25[half].top(question, 3, title)))
            support.setdefault((half, "off-corpus"), []).append(off.metadata["support"])
    kinds = ("answerable", "unanswerable", "off-corpus")
    threshold = choose_threshold(*(support.get((True, k), [0.0]) for k in kinds))
    rows = []
    for name, t in (("calibrated here", threshold), ("module default", generator.threshold)):
        pos = support.get((False, "answerable"), [])
        for kind in ("unanswerable", "off-corpus"):
            neg = support.get((False, kind), [])
            rates = refusal_rates([*pos, *neg], [True] * len(pos) + [False] * len(neg), t)
            setting = f"held-out, threshold {t:.3f} ({name})"
            label = "SQuAD 2.0 unanswerable" if kind == "unanswerable" else "off-corpus"
            rows.append(
                row("squad2", setting, len(neg), f"correct refusal, {label}", rates.correct_refusal)
            )
        rows.append(
            row("squad2", setting, len(pos), "false refusal, answerable", rates.false_refusal)
        )
    refused_cal = [np.mean(np.asarray(support.get((True, k), [])) < threshold) for k in kinds]
    rows.append(
        row(
            "squad2",
            f"calibration half, threshold {threshold:.3f}",
            sum(len(support.get((True, k), [])) for k in kinds),
            "refused: answerable / unanswerable / off-corpus",
            " / ".join(f"{r:.3f}" for r in refused_cal),
        )
    )
    rows.append(
        row(
            "squad2",
            "held-out answerable, answered",
            len(contained),
            "answer contains gold",
            float(np.mean(contained)) if contained else float("nan"),
        )
    )
    return rows, threshold


# --- 3. the sample corpus -------------------------------------------------------------------


def sample(model: str, limit: int | None) -> list[dict[str, Any]]:
    from ingest.pipeline import IngestOptions, index_fingerprint, ingest
    from ragkit.retrieval import HybridRetriever

    eval_path = REPO / "sample_corpus" / "eval.jsonl"
    if not eval_path.exists():
        print("sample corpus: no sample_corpus/eval.jsonl; skipped")
        return []
    items = [
        json.loads(line)
        for line in eval_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    items = limited(items, limit)
    options = IngestOptions(model=model, progress=False)
    embedder = load_embedder(model)
    key = sha256_hex(json.dumps(index_fingerprint(embedder, options.chunking), sort_keys=True))
    index_dir = BENCH / f"sample-{key[:12]}"  # the same folder bench_retrieval.py uses
    ingest([REPO / "sample_corpus"], index_dir, options, embedder=embedder)
    retriever = HybridRetriever.from_index(index_dir, embedder)
    groups = retriever.snapshot.group_names()
    generator = ExtractiveGenerator(embedder)
    retriever.warm_up()
    refused = {True: [], False: []}
    must, total_ms = [], []
    for item in items:
        started = time.perf_counter()
        hits = retriever.retrieve(item["question"], k=5, groups=groups)
        answer = generator.generate(item["question"], hits)
        total_ms.append(1000 * (time.perf_counter() - started))
        refused[bool(item["answerable"])].append(answer.abstained)
        if item["answerable"] and not answer.abstained:
            must.append(all(m.lower() in answer.text.lower() for m in item.get("must_contain", [])))
    print(f"sample corpus: {len(items)} questions, {retriever.snapshot.live_count} chunks")
    return [
        row(
            "sample corpus",
            "retrieve k=5 + answer",
            len(refused[True]),
            "false refusal, answerable",
            float(np.mean(refused[True])) if refused[True] else float("nan"),
        ),
        row(
            "sample corpus",
            "retrieve k=5 + answer",
            len(refused[False]),
            "correct refusal, unanswerable",
            float(np.mean(refused[False])) if refused[False] else float("nan"),
        ),
        row(
            "sample corpus",
            "answered answerable",
            len(must),
            "answer has all must_contain",
            float(np.mean(must)) if must else float("nan"),
        ),
        row(
            "latency",
            f"retrieve + generate, {retriever.snapshot.live_count} chunks",
            len(total_ms),
            "p50 / p95 ms",
            p50_95(total_ms),
        ),
    ]


# --- report -------------------------------------------------------------------------------


def row(
    dataset: str, setting: str, n: int, metric: str, value: Any, baseline: Any = None
) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "setting": setting,
        "n": n,
        "metric": metric,
        "extractive": value,
        "baseline": baseline,
    }


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    def fmt(v: Any) -> str:
        if v is None:
            return ""
        return f"{v:.3f}" if isinstance(v, float | np.floating) else str(v)

    header = ["dataset", "setting", "n", "metric", "extractive", "baseline"]
    table = [header] + [[fmt(r[h]) for h in header] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="questions per dataset")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedding model (hash:256 to try)")
    parser.add_argument("--only", default="xquad,squad2,sample", help="comma-separated parts")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    only = set(args.only.split(","))
    data = shared_data()
    if data is None:
        print("skipped: no shared data (../shared/data or $RAGKIT_SHARED_DATA)")
        return
    embedder = load_embedder(args.model)
    started = time.perf_counter()
    embedder.embed(["warm up"])
    print(f"model {embedder.model_id}: loaded in {time.perf_counter() - started:.1f} s")
    rows, threshold = [], None
    if "xquad" in only:
        rows += xquad(data, embedder, args.limit)
    if "squad2" in only:
        squad_rows, threshold = squad2(data, embedder, args.limit)
        rows += squad_rows
    if "sample" in only:
        rows += sample(args.model, args.limit)
    print()
    print_table(rows)
    default = default_threshold(embedder.model_id)
    if threshold is not None:
        print(
            f"\ncalibrated threshold for {embedder.model_id}: {threshold:.3f} "
            f"(module default {default:.3f})"
        )
    print("baseline: the sentence of the top 3 passages sharing most words with the question")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
