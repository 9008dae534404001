"""Benchmark: embedding backends on real chunks, and what the chosen one does to retrieval.

    python tests/bench/bench_embedding.py [--chunks 256] [--rounds 2] [--batch-size 64]
                                          [--backends st-fp32,...] [--skip-quality]
                                          [--scifact DOCS]

1. Throughput. `--chunks` chunks of the Sourcegraph handbook, cut by ragkit's chunker and
   spread evenly over the corpus, are encoded by each backend in a fresh process (imports
   and weights loading timed apart from encoding). Rounds alternate the backends, so load
   from other work on the machine hits them alike; the table gives the median chunks/s, the
   load time, the peak resident memory (ru_maxrss) and the cosine of each backend's vectors
   with sentence-transformers fp32 (mean and worst chunk). Backends:

     st-fp32      sentence-transformers, float32: what ragkit used before, and the tutorial
     st-int8      sentence-transformers after torch dynamic int8 quantisation of nn.Linear
     onnx-fp32    ONNX Runtime on a torch.onnx export (only if onnxruntime is installed)
     numpy-fp32   ragkit's numpy encoder, one BLAS thread (the path questions take)
     torch-fp32   ragkit's BERT forward in torch, float32
     torch-bf16   the same in bfloat16 (ragkit's default on CPUs with avx512_bf16/amx_bf16)

2. Retrieval quality. The sample corpus is ingested twice, with fp32 and with the automatic
   precision, and its eval set (answerable questions) scored at document level: hit@5 and
   MRR@10, dense alone and hybrid. Questions are embedded as `ragkit ask` embeds them. Also
   the cosine between the same questions embedded by numpy fp32 and by torch bf16.
   `--scifact DOCS` adds dense nDCG@10 on BEIR SciFact with documents in fp32 and in bf16
   (all 5,183 abstracts: the published figure for this model is 0.645).

Every child runs with OMP_WAIT_POLICY=PASSIVE (ragkit sets it for itself; on a busy machine
spinning OpenMP threads cost torch a third of its speed). Figures are from one noisy
machine: compare the ratios within a run, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("RAGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
CORPUS = SHARED / "sourcegraph-handbook" / "content"
SAMPLE = REPO / "sample_corpus"
BACKENDS = ["st-fp32", "st-int8", "onnx-fp32", "numpy-fp32", "torch-fp32", "torch-bf16"]


def sample_chunks(corpus: Path, count: int) -> list[str]:
    """Embedding texts of `count` chunks spread evenly over the corpus (no torch needed)."""
    from ingest.chunking import chunk_document
    from ingest.discover import discover
    from ingest.loaders import load_file
    from ragkit.index.embedding import load_embedder

    embedder = load_embedder()
    texts: list[str] = []
    for candidate in discover([corpus]).candidates:
        for doc in load_file(candidate.path, candidate.source):
            chunks = chunk_document(
                doc, count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens
            )
            texts += [c.embedding_text for c in chunks]
    step = max(len(texts) // count, 1)
    return texts[::step][:count]


# --- one backend in a fresh process ------------------------------------------------------------


def encoder_for(backend: str, batch_size: int):
    """A function texts -> (N, dim) vectors; imports and weights loading happen here."""
    from ragkit.index.embedding import load_embedder, resolve_model_path

    folder = resolve_model_path("all-MiniLM-L6-v2")
    if backend.startswith("torch-"):
        embedder = load_embedder(precision=backend.split("-")[1])
        embedder.embed(["warm up"] * 64, batch_size=batch_size)  # more than numpy takes
        return lambda texts: embedder.embed(texts, batch_size=batch_size)
    if backend == "numpy-fp32":
        from threadpoolctl import threadpool_limits

        from ragkit.index.bert_numpy import BertEncoder, BertSpec, NumpyOps, encode_batched

        embedder = load_embedder()
        encoder = BertEncoder(BertSpec.from_folder(folder), NumpyOps())

        def run(texts):
            with threadpool_limits(1, user_api="blas"):
                return encode_batched(encoder, embedder.token_ids(texts), max_batch=8)

        return run
    if backend.startswith("st-"):
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(folder), device="cpu")
        if backend == "st-int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, torch.qint8)
        return lambda texts: model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
    if backend == "onnx-fp32":
        return onnx_encoder(folder, batch_size)
    raise SystemExit(f"unknown backend {backend}: use {', '.join(BACKENDS)}")


def onnx_encoder(folder: Path, batch_size: int):
    """ONNX Runtime on an export of the same BERT + mean pooling + normalisation."""
    import numpy as np
    import onnxruntime as ort  # the child fails cleanly when it is not installed
    import torch
    from transformers import AutoModel

    from ragkit.index.bert_numpy import length_batches, pad
    from ragkit.index.embedding import load_embedder

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            states = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            weights = mask.unsqueeze(-1).to(states.dtype)  # (B, T, 1)
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    path = Path(tempfile.mkdtemp(prefix="ragkit-onnx-")) / "model.onnx"
    ids = torch.ones(2, 16, dtype=torch.long)
    axes = {"ids": {0: "b", 1: "t"}, "mask": {0: "b", 1: "t"}, "vectors": {0: "b"}}
    torch.onnx.export(
        Pooled(AutoModel.from_pretrained(str(folder)).eval()),
        (ids, ids),
        str(path),
        input_names=["ids", "mask"],
        output_names=["vectors"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    embedder = load_embedder()

    def run(texts):
        rows = embedder.token_ids(texts)
        out = np.empty((len(rows), 384), dtype=np.float32)
        for batch in length_batches([len(r) for r in rows], batch_size, batch_size * 128):
            ids, mask = pad([rows[i] for i in batch])
            out[batch] = session.run(None, {"ids": ids, "mask": mask})[0]
        return out

    return run


def child(backend: str, texts_file: Path, out: Path, batch_size: int) -> dict:
    import numpy as np

    started = time.perf_counter()
    texts = json.loads(texts_file.read_text())
    encode = encoder_for(backend, batch_size)
    encode(texts[:8])
    loaded = time.perf_counter() - started
    began = time.perf_counter()
    vectors = np.asarray(encode(texts), dtype=np.float32)
    seconds = time.perf_counter() - began
    np.save(out, vectors)
    return {"load_s": loaded, "chunks_s": len(texts) / seconds}


def run_child(backend: str, texts_file: Path, out: Path, batch_size: int) -> dict:
    command = [sys.executable, __file__, "--child", backend, "--texts", str(texts_file)]
    command += ["--out", str(out), "--batch-size", str(batch_size)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # ragkit sets this itself before torch starts; set for every backend, the table compares
    # kernels, not OpenMP's spin policy (bench_ingest.py runs the tutorial as users run it).
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": reason[:100]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def throughput(args: argparse.Namespace, work: Path) -> None:
    import numpy as np

    texts = sample_chunks(args.corpus, args.chunks)
    texts_file = work / "texts.json"
    texts_file.write_text(json.dumps(texts))
    from ragkit.index.embedding import load_embedder

    tokens = load_embedder().count_tokens(texts)
    print(
        f"{len(texts)} chunks of {args.corpus.name}: {statistics.mean(tokens):.0f} word pieces "
        f"on average (max {max(tokens)}); batch size {args.batch_size}; "
        f"{args.rounds} rounds; {os.cpu_count()} CPUs\n"
    )
    runs: dict[str, list[dict]] = {b: [] for b in args.backends}
    for _ in range(args.rounds):
        for backend in args.backends:
            if runs[backend] and "error" in runs[backend][0]:
                continue
            record = run_child(backend, texts_file, work / f"{backend}.npy", args.batch_size)
            runs[backend].append(record)
            print(f"  {backend:<11} {record}", flush=True)
    reference = np.load(work / "st-fp32.npy") if (work / "st-fp32.npy").exists() else None
    print(
        f"\n{'backend':<12}{'chunks/s':>9}{'vs st-fp32':>11}{'load s':>8}{'peak MB':>9}"
        f"{'cos mean':>10}{'cos min':>9}"
    )
    base = _median(runs.get("st-fp32", []), "chunks_s")
    for backend, records in runs.items():
        if not records or "error" in records[0]:
            reason = records[0]["error"] if records else "not run"
            print(f"{backend:<12}  skipped: {reason}")
            continue
        rate = _median(records, "chunks_s")
        ratio = f"{rate / base:.2f}x" if base else "-"
        cosines = "", ""
        if reference is not None:
            vectors = np.load(work / f"{backend}.npy")
            cos = (vectors * reference).sum(1)
            cosines = f"{cos.mean():.5f}", f"{cos.min():.5f}"
        print(
            f"{backend:<12}{rate:>9.1f}{ratio:>11}{_median(records, 'load_s'):>8.1f}"
            f"{max(r['peak_mb'] for r in records):>9.0f}{cosines[0]:>10}{cosines[1]:>9}"
        )


def _median(records: list[dict], key: str) -> float:
    values = [r[key] for r in records if key in r]
    return statistics.median(values) if values else 0.0


# --- retrieval quality ---------------------------------------------------------------------------


def quality(work: Path) -> None:
    import numpy as np

    from ingest.pipeline import IngestOptions, ingest
    from ragkit.eval.datasets import load_dataset
    from ragkit.eval.metrics import hit_at_k, hits_to_run, mrr_at_k
    from ragkit.index.embedding import load_embedder
    from ragkit.retrieval import HybridRetriever, RetrieverSettings

    dataset = load_dataset(SAMPLE / "eval.jsonl")
    items = [i for i in dataset.items if i.answerable and i.gold]
    auto = load_embedder().fingerprint()["backend"].removeprefix("torch-")
    print(f"\nretrieval on the sample corpus: {len(items)} answerable questions, doc level")
    print(f"{'index built with':<18}{'mode':<8}{'hit@5':>7}{'MRR@10':>8}")
    for precision in dict.fromkeys(["fp32", auto]):
        index = work / f"sample-{precision}"
        embedder = load_embedder(precision=precision)
        ingest([SAMPLE], index, IngestOptions(progress=False), embedder=embedder)
        for mode in ("dense", "hybrid"):
            retriever = HybridRetriever.from_index(index, settings=RetrieverSettings(mode=mode))
            everyone = retriever.snapshot.group_names()
            qrels, run = {}, {}
            for item in items:
                hits = retriever.retrieve(item.question, k=10, groups=everyone)
                qrels[item.id] = {g.doc: 1 for g in item.gold}
                run[item.id] = hits_to_run(hits, item.gold, dataset.match, pages=False)
            print(
                f"{'torch-' + precision:<18}{mode:<8}{hit_at_k(qrels, run, 5):>7.3f}"
                f"{mrr_at_k(qrels, run, 10):>8.3f}"
            )
    questions = [i.question for i in dataset.items]
    exact = load_embedder(precision="fp32").embed(questions)  # numpy: few tokens
    bulk = load_embedder(precision=auto)
    bulk.warm_up(bulk=True)  # loaded, the torch encoder takes every call
    cos = (bulk.embed(questions) * exact).sum(1)
    print(
        f"questions, numpy fp32 vs torch-{auto}: cosine mean {cos.mean():.6f}, "
        f"min {cos.min():.6f} ({len(questions)} questions); {np.isfinite(cos).all()=}"
    )


def scifact_quality(docs: int) -> None:
    """Dense nDCG@10 on BEIR SciFact (test), one vector per abstract as MTEB scores it.

    `docs` abstracts: every judged one plus a fixed random sample of the rest (all 5,183 give
    the published figure, 0.645 for all-MiniLM-L6-v2). Documents are encoded in fp32 and in
    the automatic precision; questions one at a time, as `ragkit ask` encodes them.
    """
    import csv
    import random

    import numpy as np

    from ragkit.eval.metrics import ndcg_at_k
    from ragkit.index.embedding import load_embedder

    folder = SHARED / "beir-scifact"
    if not folder.is_dir():
        print(f"\nSciFact skipped: {folder} is absent")
        return
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / "test.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    judged = {d for rels in qrels.values() for d in rels}
    others = [d for d in corpus if d["_id"] not in judged]
    random.Random(0).shuffle(others)
    kept = [d for d in corpus if d["_id"] in judged] + others[: max(docs - len(judged), 0)]
    texts = [f"{d['title']} {d['text']}".strip() for d in kept]
    ids = [d["_id"] for d in kept]
    asker = load_embedder()
    questions = np.stack([asker.embed([queries[q]])[0] for q in qrels])  # (Q, dim), numpy
    auto = asker.fingerprint()["backend"].removeprefix("torch-")
    print(f"\nSciFact test, {len(qrels)} questions over {len(kept)} abstracts, dense nDCG@10")
    for precision in dict.fromkeys(["fp32", auto]):
        embedder = load_embedder(precision=precision)
        embedder.warm_up(bulk=True)
        started = time.perf_counter()
        vectors = embedder.embed(texts, batch_size=64)  # (D, dim)
        seconds = time.perf_counter() - started
        scores = questions @ vectors.T  # (Q, D)
        run = {}
        for row, qid in enumerate(qrels):
            best = np.argsort(-scores[row])[:10]
            run[qid] = {ids[i]: float(scores[row, i]) for i in best}
        print(
            f"  documents in torch-{precision}: nDCG@10 {ndcg_at_k(qrels, run, 10):.4f} "
            f"({len(texts) / seconds:.1f} abstracts/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)  # IngestOptions default
    parser.add_argument("--backends", type=lambda s: s.split(","), default=BACKENDS)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument(
        "--scifact", type=int, default=0, metavar="DOCS", help="also SciFact over DOCS abstracts"
    )
    parser.add_argument("--child")
    parser.add_argument("--texts", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    if args.child:
        record = child(args.child, args.texts, args.out, args.batch_size)
        record["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(record))
        return
    if not args.corpus.is_dir():
        print(f"skipped: corpus {args.corpus} is absent (set RAGKIT_SHARED_DATA)")
        return
    work = Path(tempfile.mkdtemp(prefix="ragkit-bench-embedding-"))
    try:
        throughput(args, work)
        if not args.skip_quality:
            quality(work)
        if args.scifact:
            scifact_quality(args.scifact)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
