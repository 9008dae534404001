"""BM25 on BEIR SciFact through the evaluation harness: validates the retrieval metrics.

    python tests/bench/bench_eval_scifact.py

Reads `../shared/data/beir-scifact` (or $RAGKIT_SHARED_DATA/beir-scifact) with the harness's
BEIR reader, ranks the 5,183 abstracts (title + text, one document each, no chunking) for the
300 test queries, and scores the runs with `ragkit.eval.metrics`. Printed side by side:

- the published BM25 nDCG@10 (BEIR paper, Elasticsearch): 0.665; agreement within 0.03 is
  what validates the metric code;
- the project's sparse retriever (`ragkit.retrieval.sparse.BM25Index`);
- bm25s with its own tokenizer and stemmer, measured in the same run as a baseline.

Exits 0 and prints "skipped" when the data is absent.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ragkit.eval import metrics as m  # noqa: E402
from ragkit.eval.datasets import load_dataset  # noqa: E402

PUBLISHED_NDCG10 = 0.665  # BEIR (Thakur et al., 2021), BM25 on SciFact
TOLERANCE = 0.03
DEPTH = 100


def shared_data() -> Path:
    return Path(os.environ.get("RAGKIT_SHARED_DATA") or ROOT.parent / "shared" / "data")


def read_corpus(path: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            ids.append(str(record["_id"]))
            texts.append(f"{record.get('title', '')}\n{record.get('text', '')}".strip())
    return ids, texts


def run_ragkit_bm25(ids: list[str], texts: list[str], queries: dict[str, str]) -> dict:
    from ragkit.retrieval.sparse import BM25Index

    index = BM25Index(texts)
    run = {}
    for qid, query in queries.items():
        rows, scores = index.search(query, DEPTH)
        run[qid] = {ids[r]: float(s) for r, s in zip(rows.tolist(), scores.tolist(), strict=True)}
    return {"name": "ragkit BM25Index (Snowball english)", "run": run}


def run_bm25s(ids: list[str], texts: list[str], queries: dict[str, str]) -> dict:
    import bm25s

    try:
        import Stemmer

        stemmer, label = Stemmer.Stemmer("english").stemWord, "snowball"
    except ImportError:
        stemmer, label = None, "no stemmer"
    model = bm25s.BM25(method="lucene")
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                show_progress=False)  # fmt: skip
    qids = list(queries)
    tokens = bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=stemmer,
                            show_progress=False)  # fmt: skip
    docs, scores = model.retrieve(tokens, k=DEPTH, show_progress=False, n_threads=1)
    run = {
        qid: {ids[d]: float(s) for d, s in zip(docs[i].tolist(), scores[i].tolist(), strict=True)}
        for i, qid in enumerate(qids)
    }
    return {"name": f"bm25s defaults ({label})", "run": run}


def main() -> int:
    folder = shared_data() / "beir-scifact"
    if not (folder / "corpus.jsonl").is_file():
        print(f"skipped: {folder} is absent (set RAGKIT_SHARED_DATA)")
        return 0
    dataset = load_dataset(folder)
    if dataset.problems:
        print(f"dataset problems: {[str(p) for p in dataset.problems[:5]]}")
    qrels = {i.id: {g.doc: g.relevance for g in i.gold} for i in dataset.items}
    queries = {i.id: i.question for i in dataset.items}
    ids, texts = read_corpus(folder / "corpus.jsonl")
    print(f"SciFact test: {len(queries)} queries, {len(ids)} docs, {sum(map(len, qrels.values()))} "
          "judgements")  # fmt: skip
    header = f"{'system':<34} {'nDCG@10':>8} {'MRR@10':>8} {'hit@5':>8} {'R@100':>8} {'s':>6}"
    print(header)
    print("-" * len(header))
    print(f"{'published BM25 (BEIR paper)':<34} {PUBLISHED_NDCG10:>8.3f}")
    ok = True
    for runner in (run_ragkit_bm25, run_bm25s):
        start = time.perf_counter()
        result = runner(ids, texts, queries)
        seconds = time.perf_counter() - start
        run = result["run"]
        ndcg = m.ndcg_at_k(qrels, run, 10)
        print(
            f"{result['name']:<34} {ndcg:>8.3f} {m.mrr_at_k(qrels, run, 10):>8.3f} "
            f"{m.hit_at_k(qrels, run, 5):>8.3f} {m.recall_at_k(qrels, run, 100):>8.3f} "
            f"{seconds:>6.1f}"
        )
        if runner is run_ragkit_bm25:
            ok = abs(ndcg - PUBLISHED_NDCG10) <= TOLERANCE
    verdict = "within" if ok else "OUTSIDE"
    print(f"ragkit BM25 nDCG@10 is {verdict} {PUBLISHED_NDCG10} ± {TOLERANCE}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
