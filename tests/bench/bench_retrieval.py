"""Retrieval benchmark: ragkit (dense, BM25, hybrid) against the LangChain RAG tutorial.

    python tests/bench/bench_retrieval.py [--quick] [--tune] [--only scifact,sample,contoso]

Same embedding model (all-MiniLM-L6-v2, the bundled copy) on both sides, in one run:

1. BEIR SciFact, test qrels: nDCG@10 at document level (a document's score is its best
   chunk's; 100 chunks are retrieved per query). Published: BM25 0.665, MiniLM 0.645.
2. The sample corpus (`sample_corpus/eval.jsonl`, answerable questions): hit@5 and MRR@10
   over retrieved chunks, a chunk counting when it comes from a gold document.
3. Contoso HR PDFs (`evals/ground_truth.jsonl`, gold `[file.pdf#page=N]`): hit@5 and MRR@10,
   a chunk counting when its file matches and its pages include N.

ragkit answers as an asker in every group, since the baseline has no access control.
`--tune` adds the sweeps behind the defaults (fusion, BM25 text and stemmer) on SciFact's
train qrels; `--quick` uses ~1,000 SciFact abstracts and 100 test queries. Indexes and
baseline vectors are cached under `.bench/`; latency is per query, warm, on this machine.
Real data is read from ../shared/data (or $RAGKIT_SHARED_DATA); absent, the script says so.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]

from ingest.pipeline import IngestOptions, index_fingerprint, ingest  # noqa: E402
from ragkit.eval.metrics import hit_at_k, mrr_at_k, ndcg_at_k  # noqa: E402
from ragkit.index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402
from ragkit.index.records import sha256_hex  # noqa: E402
from ragkit.index.store import load_index  # noqa: E402
from ragkit.retrieval import HybridRetriever, RetrieverSettings  # noqa: E402
from ragkit.text.analyse import Analyser  # noqa: E402

BENCH = REPO / ".bench"
SCIFACT_DEPTH = 100  # chunks retrieved per SciFact query before folding them into documents


def shared_data() -> Path | None:
    path = Path(os.environ.get("RAGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


@dataclass
class Row:
    corpus: str
    system: str
    scores: dict[str, float]
    latencies_ms: list[float] = field(default_factory=list)
    note: str = ""

    def cells(self, metrics: Sequence[str]) -> list[str]:
        values = [f"{self.scores[m]:.3f}" if m in self.scores else "-" for m in metrics]
        lat = np.array(self.latencies_ms) if self.latencies_ms else None
        timing = [f"{np.percentile(lat, p):.1f}" if lat is not None else "-" for p in (50, 95)]
        return [self.corpus, self.system, *values, *timing, self.note]


def print_table(rows: Sequence[Row]) -> None:
    metrics = ["nDCG@10", "hit@5", "MRR@10"]
    header = ["corpus", "system", *metrics, "p50 ms", "p95 ms", "note"]
    table = [header] + [row.cells(metrics) for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


# --- building ---------------------------------------------------------------------------------


def ragkit_index(name: str, paths: Sequence[Path]) -> Path:
    """Ingest into .bench/<name>-<fingerprint>; unchanged files are not embedded again."""
    options = IngestOptions(model=DEFAULT_MODEL)
    embedder = load_embedder(DEFAULT_MODEL)
    key = sha256_hex(json.dumps(index_fingerprint(embedder, options.chunking), sort_keys=True))
    index_dir = BENCH / f"{name}-{key[:12]}"
    report = ingest(paths, index_dir, options, embedder=embedder)
    failed = [o for o in report.outcomes if o.status == "failed"]
    print(
        f"  ragkit index {index_dir.name}: {report.chunks_total} chunks, embedded "
        f"{report.embedded} in {report.seconds:.1f} s; failed: {[o.source for o in failed]}"
    )
    return index_dir


def describe(settings: RetrieverSettings) -> str:
    if settings.mode != "hybrid":
        return {"dense": "ragkit dense", "sparse": "ragkit BM25"}[settings.mode]
    if settings.fusion == "rrf":
        return f"ragkit hybrid RRF k={settings.rrf_k}"
    return f"ragkit hybrid {settings.normalisation} a={settings.alpha}"


DEFAULT = describe(RetrieverSettings())  # the row of ragkit as shipped


def retrievers(index_dir: Path) -> dict[str, HybridRetriever]:
    """Dense-only, BM25-only and both fusions over one loaded index, sharing one embedder."""
    snapshot = load_index(index_dir)
    embedder = load_embedder(snapshot.fingerprint["model"])
    started = time.perf_counter()
    default = HybridRetriever.from_snapshot(snapshot, embedder)
    seconds = time.perf_counter() - started
    print(
        f"  load: {snapshot.live_count} chunks (BM25 saved at ingest) in {seconds:.3f} s "
        "(analyser: ragkit.text.analyse)"
    )
    default.warm_up()
    other_fusion = "rrf" if default.settings.fusion == "weighted" else "weighted"
    found = {
        describe(settings): HybridRetriever.from_snapshot(snapshot, embedder, settings)
        for settings in (
            RetrieverSettings(mode="dense"),
            RetrieverSettings(mode="sparse"),
            replace(default.settings, fusion=other_fusion),
        )
    }
    return {**found, DEFAULT: default}


def timed(search: Callable[[str], Any], queries: Iterable[str]) -> tuple[list[Any], list[float]]:
    """Results and wall-clock ms per query; CPU ms of the last call go to `timed.cpu_ms`."""
    results, latencies, cpu = [], [], []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        results.append(search(query))
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    timed.cpu_ms = cpu  # type: ignore[attr-defined]
    return results, latencies


def groups_of(retriever: HybridRetriever) -> frozenset[str]:
    return retriever.snapshot.group_names()


# --- SciFact ------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc, rel = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(rel)
    return qrels


def doc_run(pairs: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Chunk hits -> {doc_id: best chunk score}; sources look like 'corpus.jsonl#<_id>'."""
    run: dict[str, float] = {}
    for source, score in pairs:
        doc = source.split("#", 1)[1]
        run[doc] = max(score, run.get(doc, -np.inf))
    return run


def milvus_copy(index_dir: Path) -> str:
    """The local index's chunks and vectors written into Milvus Lite (no re-embedding)."""
    from ragkit.index.store import load_index, open_store

    snapshot = load_index(index_dir)
    chunks = snapshot.live_chunks()
    vectors = snapshot.vectors_for(c.chunk_id for c in chunks)
    spec = f"milvus:{BENCH / (index_dir.name + '-milvus.db')}"
    store = open_store(spec)
    existing = store.read_manifest()
    if (
        existing is None
        or existing.get("files") != snapshot.files
        or existing.get("format") != store.format
    ):
        manifest = {"fingerprint": snapshot.fingerprint, "files": snapshot.files}
        matrix = np.stack([vectors[c.chunk_id] for c in chunks])
        started = time.perf_counter()
        store.write_generation(manifest, chunks, matrix)
        print(f"  Milvus Lite copy: {len(chunks)} chunks in {time.perf_counter() - started:.1f} s")
    store.close()
    return spec


def scifact(
    data: Path, quick: bool, tune: bool, milvus: bool = False, tutorial: bool = True
) -> list[Row]:
    from _baseline import Baseline
    from langchain_core.documents import Document

    folder = data / "beir-scifact"
    queries = {str(q["_id"]): q["text"] for q in read_jsonl(folder / "queries.jsonl")}
    test = read_qrels(folder / "qrels" / "test.tsv")
    corpus_path = folder / "corpus.jsonl"
    records = read_jsonl(corpus_path)
    if quick:
        test = dict(list(test.items())[:100])
        keep = {d for judged in test.values() for d in judged}
        others = [str(r["_id"]) for r in records if str(r["_id"]) not in keep]
        keep |= set(random.Random(0).sample(others, 1000 - len(keep)))
        records = [r for r in records if str(r["_id"]) in keep]
        corpus_path = BENCH / "scifact-quick" / "corpus.jsonl"
        corpus_path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(r) + "\n" for r in records)
        if not corpus_path.exists() or corpus_path.read_text(encoding="utf-8") != lines:
            corpus_path.write_text(lines, encoding="utf-8")
    name = "scifact-quick" if quick else "scifact"
    print(f"SciFact: {len(records)} abstracts, {len(test)} test queries")

    rows: list[Row] = []
    index_dir = ragkit_index(name, [corpus_path])
    found = retrievers(index_dir)
    if milvus:
        from ragkit.retrieval import open_retriever

        found[MILVUS] = open_retriever(milvus_copy(index_dir))
    test_queries = [queries[qid] for qid in test]
    for system, retriever in found.items():
        hits, latencies = timed(lambda q, r=retriever: r.retrieve(q, k=SCIFACT_DEPTH), test_queries)
        run = {
            qid: doc_run((h.chunk.source, h.score) for h in q_hits)
            for qid, q_hits in zip(test, hits, strict=True)
        }
        rows.append(Row(name, system, scifact_scores(test, run), latencies, f"k={SCIFACT_DEPTH}"))
    if milvus and tune:
        train = read_qrels(folder / "qrels" / "train.tsv")
        train = {qid: judged for qid, judged in train.items() if qid in queries}
        milvus_sweep(found[MILVUS], found[DEFAULT], queries, train, test)
    if not tutorial:  # the ragkit rows above are the baseline of a Milvus comparison
        return rows

    documents = [
        Document(page_content=f"{r['title']}\n{r['text']}", metadata={"source": f"x#{r['_id']}"})
        for r in records
    ]
    baseline = Baseline(documents, BENCH)
    note = f"{len(baseline.splits)} splits" + (
        f", embedded in {baseline.embed_seconds:.0f} s" if baseline.embed_seconds else ""
    )
    results, latencies = timed(lambda q: baseline.search(q, SCIFACT_DEPTH), test_queries)
    run = {
        qid: doc_run((doc.metadata["source"], score) for doc, score in pairs)
        for qid, pairs in zip(test, results, strict=True)
    }
    rows.append(Row(name, "LangChain tutorial", scifact_scores(test, run), latencies, note))
    rows.append(latency_row(name, found[DEFAULT], test_queries))
    if tune:
        train = read_qrels(folder / "qrels" / "train.tsv")
        train = {qid: judged for qid, judged in train.items() if qid in queries}
        sweep(found[DEFAULT], queries, train, test)
    return rows


MILVUS = "ragkit on Milvus Lite"
MILVUS_RANKERS = ("zscore:1.0", "zscore:0.0", "zscore:0.5", "weighted:0.5", "rrf:60")


def milvus_sweep(
    milvus: Any,
    local: HybridRetriever,
    queries: dict[str, str],
    train: dict[str, dict[str, int]],
    test: dict[str, dict[str, int]],
) -> None:
    """Milvus's fusion choices (MilvusRetriever rankers; zscore:1.0 and zscore:0.0 rank by
    the dense and the BM25 list alone) beside the local default, nDCG@10 on train (where the
    default is chosen) and test."""
    chosen = milvus.ranker

    def ndcg(retriever: Any, qrels: dict[str, dict[str, int]]) -> float:
        run = {
            qid: doc_run(
                (h.chunk.source, h.score) for h in retriever.retrieve(queries[qid], k=SCIFACT_DEPTH)
            )
            for qid in qrels
        }
        return ndcg_at_k(qrels, run, 10)

    print(f"\nMilvus Lite rankers, nDCG@10 (train: {len(train)} queries; test: {len(test)})")
    print(
        f"  {'local default (' + DEFAULT + ')':34s} train {ndcg(local, train):.4f}  "
        f"test {ndcg(local, test):.4f}"
    )
    for ranker in MILVUS_RANKERS:
        milvus.ranker = ranker
        print(
            f"  {'milvus ' + ranker:34s} train {ndcg(milvus, train):.4f}  "
            f"test {ndcg(milvus, test):.4f}",
            flush=True,
        )
    milvus.ranker = chosen


def scifact_scores(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict:
    return {
        "nDCG@10": ndcg_at_k(qrels, run, 10),
        "hit@5": hit_at_k(qrels, run, 5),
        "MRR@10": mrr_at_k(qrels, run, 10),
    }


def latency_row(corpus: str, retriever: HybridRetriever, queries: Sequence[str]) -> Row:
    """Warm latency of the default call (k=5), split into query embedding and the rest."""
    _, total = timed(lambda q: retriever.retrieve(q, k=5), queries)
    cpu = np.percentile(timed.cpu_ms, [50, 95])  # type: ignore[attr-defined]
    vectors, embed = timed(lambda q: retriever.embedder.embed([q]), queries)
    given = dict(zip(queries, vectors, strict=True))
    search_only = copy.copy(retriever)  # shares the indexes; the query vector comes ready
    search_only.embedder = SimpleNamespace(embed=lambda texts, **_: given[texts[0]])
    _, search = timed(lambda q: search_only.retrieve(q, k=5), queries)
    e, r = np.percentile(embed, [50, 95]), np.percentile(search, [50, 95])
    note = (
        f"CPU p50 {cpu[0]:.1f} p95 {cpu[1]:.1f}; embed p50 {e[0]:.1f} p95 {e[1]:.1f}; "
        f"search+fuse p50 {r[0]:.1f} p95 {r[1]:.1f}; load avg {os.getloadavg()[0]:.1f}"
    )
    return Row(corpus, f"{DEFAULT}, k=5", {}, total, note)


def sweep(
    hybrid: HybridRetriever,
    queries: dict[str, str],
    train: dict[str, dict[str, int]],
    test: dict[str, dict[str, int]],
) -> None:
    """Fusion settings and BM25 variants, scored on train; the chosen ones also on test."""
    from ragkit.retrieval import fusion, sparse
    from ragkit.text.analyse import analyser

    snapshot = hybrid.snapshot
    all_chunks = snapshot.chunks_at(range(len(snapshot)))  # a fresh index: no tombstones
    k1, b = hybrid.settings.bm25_k1, hybrid.settings.bm25_b

    def lists(qrels: dict[str, dict[str, int]]) -> dict[str, tuple[dict, dict]]:
        out = {}
        for qid in qrels:
            vector = hybrid.embedder.embed([queries[qid]])[0]
            rows, scores = snapshot.dense_search(vector, SCIFACT_DEPTH)
            dense = dict(zip(rows.tolist(), scores.tolist(), strict=True))
            bm25 = snapshot.bm25_scores(analyser().terms(queries[qid]), None, k1=k1, b=b)
            rows, scores = sparse.top_rows(bm25, SCIFACT_DEPTH)
            out[qid] = (dense, dict(zip(rows.tolist(), scores.tolist(), strict=True)))
        return out

    def ndcg(per_query: dict[str, tuple[dict, dict]], fuse: Callable, qrels: dict) -> float:
        run = {}
        for qid, (dense, bm25) in per_query.items():
            best = fusion.top_k(fuse(dense, bm25), SCIFACT_DEPTH)
            run[qid] = doc_run((all_chunks[row].source, s) for row, s in best)
        return ndcg_at_k(qrels, run, 10)

    configs: dict[str, Callable] = {
        "dense only": lambda d, s: d,
        "BM25 only": lambda d, s: s,
        "RRF k=60": lambda d, s: fusion.reciprocal_rank_fusion([d, s], 60),
        "RRF k=20": lambda d, s: fusion.reciprocal_rank_fusion([d, s], 20),
    }
    for norm in ("minmax", "zscore"):
        for alpha in (0.3, 0.4, 0.5, 0.6):
            configs[f"{norm} alpha={alpha}"] = lambda d, s, a=alpha, n=norm: fusion.weighted_fusion(
                d, s, a, n
            )
    print(f"\nFusion sweep, nDCG@10 (train: {len(train)} queries; test: {len(test)})")
    train_lists, test_lists = lists(train), lists(test)
    for label, fuse in configs.items():
        print(
            f"  {label:22s} train {ndcg(train_lists, fuse, train):.4f}"
            f"   test {ndcg(test_lists, fuse, test):.4f}"
        )

    print("\nBM25 variants, BM25-only nDCG@10 on train")
    unstemmed = Analyser("english")
    unstemmed._stem = lambda word: word  # the same words and stopwords, no stemming
    variants = {"snowball": Analyser("english"), "no stemmer": unstemmed}
    for stem_label, variant in variants.items():
        for text_label, text_of in (
            ("embedding_text", lambda c: c.embedding_text),
            ("text", lambda c: c.text),
        ):
            started = time.perf_counter()
            texts = [text_of(c) for c in all_chunks]
            index = sparse.BM25Index(texts, text_analyser=variant)
            build = time.perf_counter() - started
            run = {}
            for qid in train:
                rows, scores = index.search(queries[qid], SCIFACT_DEPTH)
                pairs = ((all_chunks[r].source, s) for r, s in zip(rows, scores, strict=True))
                run[qid] = doc_run(pairs)
            print(
                f"  {stem_label:10s} {text_label:14s} {ndcg_at_k(train, run, 10):.4f}"
                f"   (build {build:.2f} s)"
            )


# --- the sample corpus and Contoso ---------------------------------------------------------------


def chunk_level_rows(
    corpus: str,
    questions: Sequence[str],
    relevant: Callable[[int, str, int | None, int | None], bool],  # (qi, source, page, page_end)
    found: dict[str, HybridRetriever],
    baseline: Any,
) -> list[Row]:
    """hit@5 and MRR@10 over ranked chunks; `relevant` decides per question and chunk."""
    rows = []
    qids = [str(i) for i in range(len(questions))]
    for system, retriever in found.items():
        groups = groups_of(retriever)
        hits, latencies = timed(
            lambda q, r=retriever, g=groups: r.retrieve(q, k=10, groups=g), questions
        )
        run = {
            qid: {h.chunk.chunk_id: -h.rank for h in q_hits}
            for qid, q_hits in zip(qids, hits, strict=True)
        }
        qrels = {
            qid: {
                h.chunk.chunk_id: 1
                for h in q_hits
                if relevant(i, h.chunk.source, h.chunk.page, h.chunk.page_end)
            }
            for i, (qid, q_hits) in enumerate(zip(qids, hits, strict=True))
        }
        rows.append(Row(corpus, system, chunk_scores(qrels, run, len(qids)), latencies))
    results, latencies = timed(lambda q: baseline.search(q, 10), questions)
    run, qrels = {}, {}
    for i, (qid, pairs) in enumerate(zip(qids, results, strict=True)):
        run[qid] = {n: -float(n) for n in range(len(pairs))}
        qrels[qid] = {
            n: 1
            for n, (doc, _) in enumerate(pairs)
            if relevant(i, doc.metadata["source"], _page(doc), _page(doc))
        }
    note = f"{len(baseline.splits)} splits" + (
        f", embedded in {baseline.embed_seconds:.0f} s" if baseline.embed_seconds else ""
    )
    rows.append(
        Row(corpus, "LangChain tutorial", chunk_scores(qrels, run, len(qids)), latencies, note)
    )
    return rows


def _page(doc: Any) -> int | None:
    page = doc.metadata.get("page")
    return None if page is None else int(page) + 1  # PyPDFLoader pages are 0-based


def chunk_scores(qrels: dict, run: dict, n: int) -> dict[str, float]:
    # Questions with no relevant chunk retrieved still count (as misses): pad qrels to all.
    padded = {qid: judged or {"__none__": 1} for qid, judged in qrels.items()}
    assert len(padded) == n
    return {"hit@5": hit_at_k(padded, run, 5), "MRR@10": mrr_at_k(padded, run, 10)}


def sample(data: Path | None) -> list[Row]:
    from _baseline import Baseline, load_files

    root = REPO / "sample_corpus"
    eval_path = root / "eval.jsonl"
    if not eval_path.exists():
        print("sample corpus: no sample_corpus/eval.jsonl yet; skipped")
        return []
    items = [r for r in read_jsonl(eval_path) if r.get("answerable") and r.get("sources")]
    gold = [{s.split("#", 1)[0] for s in r["sources"]} for r in items]
    print(f"sample corpus: {len(items)} answerable questions")
    found = retrievers(ragkit_index("sample", [root]))
    sources = sorted({c.source for c in found[DEFAULT].snapshot.live_chunks()})
    baseline = Baseline(load_files(root, sources), BENCH)
    rows = chunk_level_rows(
        "sample", [r["question"] for r in items], lambda i, src, *_: src in gold[i], found, baseline
    )
    rows.append(latency_row("sample", found[DEFAULT], [r["question"] for r in items]))
    return rows


_CITATION = re.compile(r"\[([^\]#]+?\.pdf)#page=(\d+)\]")


def contoso(data: Path) -> list[Row]:
    from _baseline import Baseline, load_files

    folder = data / "contoso-hr-pdfs"
    items = read_jsonl(folder / "evals" / "ground_truth.jsonl")
    gold = [{(f, int(p)) for f, p in _CITATION.findall(r["truth"])} for r in items]
    items, gold = zip(*[(r, g) for r, g in zip(items, gold, strict=True) if g], strict=True)
    print(f"Contoso: {len(items)} questions with a page citation")
    found = retrievers(ragkit_index("contoso", [folder / "data"]))
    sources = sorted({c.source for c in found[DEFAULT].snapshot.live_chunks()})
    baseline = Baseline(load_files(folder / "data", sources), BENCH)

    def relevant(i: int, source: str, page: int | None, page_end: int | None) -> bool:
        if page is None:
            return False
        last = page_end or page
        return any(source == f and page <= p <= last for f, p in gold[i])

    questions = [r["question"] for r in items]
    return chunk_level_rows("contoso", questions, relevant, found, baseline)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="SciFact subset: ~1,000 abstracts")
    parser.add_argument("--tune", action="store_true", help="sweeps on SciFact train qrels")
    parser.add_argument(
        "--milvus", action="store_true", help="SciFact also through Milvus Lite (ragkit[milvus])"
    )
    parser.add_argument(
        "--no-tutorial",
        action="store_true",
        help="SciFact without the LangChain tutorial rows (it embeds the corpus: minutes)",
    )
    parser.add_argument("--only", default="scifact,sample,contoso", help="comma-separated")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    only = set(args.only.split(","))
    data = shared_data()
    rows: list[Row] = []
    if "sample" in only:
        rows += sample(data)
    if data is None:
        print("no shared data (../shared/data or $RAGKIT_SHARED_DATA): SciFact and Contoso skipped")
    else:
        if "scifact" in only:
            rows += scifact(data, args.quick, args.tune, args.milvus, not args.no_tutorial)
        if "contoso" in only:
            rows += contoso(data)
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
