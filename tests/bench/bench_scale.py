"""Benchmark: the local index store at 10k, 100k and 1M chunks (SciFact abstracts with variations).

    python tests/bench/bench_scale.py [--sizes 10000,100000] [--model hash:384] [--quick]
    python tests/bench/bench_scale.py --sizes 1000000 --reuse --steps warm,recall \
        --baseline /path/to/a/checkout/of/main      # warm p95 beside another commit's

Corpus: SciFact's 5,183 abstracts (/work/shared/data/beir-scifact, or $RAGKIT_SHARED_DATA),
copied with variations until the index holds the target number of chunks: copy v > 0 of an
abstract drops about 10% of its words and rotates its sentences, with a seeded generator, and
gets the id "<_id>-v<v>". Records go into JSONL files of 1,000 records (the BEIR loader), each
declaring `"language": "en"` (SciFact is English), so lingua's per-record detection (3 to 9
ms a record here, most of the ingest time) does not make a 1M-chunk build take hours;
`--detect-language` leaves the declaration out, to measure ingest with detection.
`--model hash:384` keeps embedding time from dominating (use all-MiniLM-L6-v2 for real).

Per size, each step a fresh process as a user runs it:
  ingest       `ragkit ingest CORPUS --index DIR --model M`: wall time, chunks/s, peak RSS
  disk         bytes under the index folder
  cold search  `ragkit search QUERY --index DIR --json` x3: median wall time, peak RSS
               (the page cache is warm from the ingest: a cold disk adds its reads)
  warm         in one process, 200 SciFact test queries (`--split`) through the retriever
               (k=5) after one warm-up query: p50 / p95 ms, wall and CPU; with `--baseline`
               the same in a process running that checkout's ragkit, alternating twice
               with ours, so both see the same machine load (ratios printed)
  re-sync      `ragkit ingest` with nothing changed: wall time (files whose stat stamp is
               recorded are not read; an index from before stamps is read and restamped)
  add one file a new 20-record JSONL file, then `ragkit ingest` again: wall time
  change one   one existing 1,000-record file edited (every record), `ragkit ingest`: wall time
  recall@10    dense search against exact inner product over the stored vectors (only
               differs from 1.0 where a segment is compressed: IVF + SQ8), over every query
               given (300 SciFact test queries by default: the IVF probe count was chosen on
               the train queries, tests/bench/bench_ivf_probe.py); also with an access filter
               leaving every 10th row readable, applied before top-k
The smallest size is the baseline: the table gives each figure's ratio to it. `--steps`
picks what a `--reuse` run measures (cold, warm, recall, writes; writes change the corpus and
the index).
Targets (issue 15) at 1M: cold search <= 1.5 s and <= 2 GB RSS, warm p95 <= 50 ms, add one
file <= 5 s, ingest throughput >= 0.8x that at 10k.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("RAGKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SCIFACT = DATA / "beir-scifact"
WORK = Path(os.environ.get("RAGKIT_BENCH_DIR", "/tmp/ragkit-bench-scale"))
PER_FILE = 1000
QUESTION = "What does diffusion tensor imaging show about white matter in newborns?"
CLI = (
    "import resource, sys\nfrom ragkit.cli import main\nrc = main(sys.argv[1:])\n"
    "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


STEPS = ("cold", "warm", "recall", "writes")
DECLARE_LANGUAGE = True  # records say "language": "en" (see the module docstring)


def variant(record: dict, v: int) -> dict:
    """Copy v of a record: ~10% of words dropped, sentences rotated (v = 0: the original)."""
    if v == 0:
        return {**record, "language": "en"} if DECLARE_LANGUAGE else record
    rng = random.Random(f"{record['_id']}-{v}")
    sentences = _SENTENCE.split(record["text"])
    shift = rng.randrange(len(sentences)) if sentences else 0
    sentences = sentences[shift:] + sentences[:shift]
    words = " ".join(sentences).split()
    kept = [w for w in words if rng.random() >= 0.1] or words
    copy = {"_id": f"{record['_id']}-v{v}", "title": record["title"], "text": " ".join(kept)}
    return {**copy, "language": "en"} if DECLARE_LANGUAGE else copy


def build_corpus(folder: Path, records: list[dict], n_records: int) -> None:
    """JSONL files of PER_FILE records each, n_records in all."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for start in range(0, n_records, PER_FILE):
        path = folder / f"part-{start // PER_FILE:05d}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for i in range(start, min(start + PER_FILE, n_records)):
                record = variant(records[i % len(records)], i // len(records))
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def cli(*args: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MB and stdout of one `ragkit` process; CPU seconds (user +
    system) go to `cli.cpu` (wall time alone misleads on a shared, loaded machine)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli.cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime  # type: ignore[attr-defined]
    if done.returncode != 0:
        raise SystemExit(f"ragkit {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    peak = int(re.findall(r"PEAK_KB (\d+)", done.stderr)[-1]) / 1024
    return seconds, peak, done.stdout


def disk_bytes(folder: Path) -> int:
    if folder.is_file():
        return folder.stat().st_size
    seen, total = set(), 0
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            if stat.st_ino not in seen:  # hard links count once
                seen.add(stat.st_ino)
                total += stat.st_size
    return total


def warm_latencies(index: Path | str, queries: list[str], samples: bool = False) -> dict:
    """p50 / p95 of wall and CPU ms per `retrieve` (k=5), after one warm-up query (with
    `samples`: the per-query ms lists instead)."""
    from ragkit.retrieval import open_retriever

    retriever = open_retriever(index)
    retriever.warm_up()
    retriever.retrieve(queries[0])
    ms, cpu_ms = [], []
    for query in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        retriever.retrieve(query)
        ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu_started) * 1000)
    store = getattr(retriever.snapshot, "store", None)
    if store is not None:
        store.close()  # Milvus Lite: free the file for the next process
    if samples:
        return {"ms": ms, "cpu_ms": cpu_ms}
    return {
        "warm_p50_ms": statistics.median(ms),
        "warm_p95_ms": float(np.percentile(ms, 95)),
        "warm_cpu_p50_ms": statistics.median(cpu_ms),
        "warm_cpu_p95_ms": float(np.percentile(cpu_ms, 95)),
    }


def warm_beside(index: Path | str, queries: list[str], baseline: Path) -> dict[str, float]:
    """Warm latencies of this checkout and of `baseline` (another checkout's root), each in
    its own process running its own ragkit, alternating twice; samples pooled per side."""
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from bench_scale import warm_latencies\n"
        "queries = json.load(sys.stdin)\n"
        "print('WARM', json.dumps(warm_latencies(sys.argv[1], queries, samples=True)))\n"
    )
    runs: dict[str, list[dict]] = {"ours": [], "base": []}
    for _ in range(2):
        for side, root in (("base", baseline), ("ours", ROOT)):
            env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
            done = subprocess.run(
                [sys.executable, "-c", script, str(index)],
                input=json.dumps(queries),
                capture_output=True,
                text=True,
                env=env,
                cwd=root,
            )
            if done.returncode != 0:
                raise SystemExit(f"warm run with {root} failed:\n{done.stderr[-2000:]}")
            runs[side].append(json.loads(done.stdout.split("WARM ", 1)[1]))
    row: dict[str, float] = {}
    for side, prefix in (("ours", "warm"), ("base", "base_warm")):
        ms = [x for run in runs[side] for x in run["ms"]]
        cpu = [x for run in runs[side] for x in run["cpu_ms"]]
        row[f"{prefix}_p50_ms"] = statistics.median(ms)
        row[f"{prefix}_p95_ms"] = float(np.percentile(ms, 95))
        row[f"{prefix}_cpu_p50_ms"] = statistics.median(cpu)
        row[f"{prefix}_cpu_p95_ms"] = float(np.percentile(cpu, 95))
    return row


def exact_scores(snapshot, vector: np.ndarray) -> np.ndarray:
    """(rows,) float32 exact inner products of `vector` with every stored float32 vector of
    `snapshot` (an IndexSnapshot), read 200k rows at a time: the truth for recall@k."""
    scores = np.empty(len(snapshot), np.float32)
    for offset, segment in zip(snapshot.offsets, snapshot.segments, strict=False):
        for start in range(0, len(segment), 200_000):
            rows = np.arange(start, min(start + 200_000, len(segment)))
            scores[offset + rows] = segment.vectors_at(rows) @ vector
    return scores


def dense_recall(index: Path, queries: list[str], k: int = 10) -> tuple[float, float]:
    """recall@k of the store's dense search against exact inner product: over every row, and
    with an access filter that leaves 10% of the rows readable (every 10th row: applied inside
    the search, before top-k, as for an asker in one group of ten)."""
    from ragkit.index.embedding import load_embedder
    from ragkit.index.store import load_index

    snapshot = load_index(index)
    embedder = load_embedder(snapshot.fingerprint["model"])
    if all(s.meta.kind == "flat" for s in snapshot.segments):
        return 1.0, 1.0  # exact search everywhere
    allowed = np.zeros(len(snapshot), bool)
    allowed[::10] = True
    live = snapshot.readable_rows(frozenset())
    if live is not None:
        allowed &= live
    found = {"all": 0, "filtered": 0}
    total = 0
    for query in queries:
        vector = embedder.embed([query])[0]
        scores = exact_scores(snapshot, vector)
        if live is not None:
            scores[~live] = -np.inf
        for name, mask in (("all", None), ("filtered", allowed)):
            masked = scores if mask is None else np.where(mask, scores, -np.inf)
            truth = set(np.argsort(-masked, kind="stable")[:k].tolist())
            rows, _ = snapshot.dense_search(vector, k, mask)
            found[name] += len(truth & set(rows.tolist()))
        total += k
    return found["all"] / total, found["filtered"] / total


def synthesize(corpus: Path, index: Path, model: str, records: list[dict]) -> int:
    """Write the index of `corpus` directly, without `ragkit ingest` (for sizes whose ingest
    would take hours on a shared 2-CPU machine): one chunk per record, and vectors that are
    perturbed copies (noise 0.05 per coordinate, renormalised) of the embedded originals.
    The manifest describes the corpus files exactly, so a later `ragkit ingest` sees them as
    unchanged and embeds only what is new. Returns the number of chunks."""
    from ingest.chunking import ChunkSettings
    from ingest.pipeline import index_fingerprint
    from ragkit.index.embedding import load_embedder
    from ragkit.index.records import Chunk, chunk_id_for, sha256_hex
    from ragkit.index.store import write_generation, writer_lock

    embedder = load_embedder(model)
    originals = embedder.embed([f"{r['title']}\n{r['text']}" for r in records])  # (n, dim)
    by_id = {str(r["_id"]): i for i, r in enumerate(records)}
    rng = np.random.default_rng(0)
    chunks: list[Chunk] = []
    bases: list[int] = []
    files: dict[str, dict] = {}
    for path in sorted(corpus.glob("*.jsonl")):
        data = path.read_bytes()
        ids = []
        for line in data.decode("utf-8").splitlines():
            record = json.loads(line)
            source = f"{path.name}#{record['_id']}"
            text = record["text"]
            chunk = Chunk(
                chunk_id_for(source, text),
                source,
                record["title"],
                text,
                0,
                len(text),
                None,
                (),
                sha256_hex(data),
            )
            chunks.append(chunk)
            ids.append(chunk.chunk_id)
            bases.append(by_id[str(record["_id"]).split("-v")[0]])
        files[path.name] = {
            "hash": sha256_hex(data),
            "size": len(data),
            "title": path.name,
            "documents": len(ids),
            "pages": None,
            "rule_groups": [],
            "groups": [],
            "chunk_ids": ids,
            "ingested_at": "synthetic",
        }
    vectors = originals[np.asarray(bases)]
    for start in range(0, len(vectors), 100_000):
        block = vectors[start : start + 100_000]
        block += 0.05 * rng.standard_normal(block.shape, dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    fingerprint = index_fingerprint(embedder, ChunkSettings())
    with writer_lock(index):
        write_generation(index, {"fingerprint": fingerprint, "files": files}, chunks, vectors)
    return len(chunks)


def measure(
    size: int,
    records: list[dict],
    queries: list[str],
    model: str,
    milvus: bool = False,
    synthetic: bool = False,
    reuse: bool = False,
    steps: tuple[str, ...] = STEPS,
    baseline: Path | None = None,
) -> dict:
    folder = WORK / f"n{size}"
    corpus, index_path = folder / "corpus", folder / ("milvus.db" if milvus else "index")
    if reuse and index_path.exists():
        return measure_queries(
            size, corpus, index_path, records, queries, model, milvus, steps, baseline
        )
    if index_path.is_file():
        index_path.unlink()  # a Milvus Lite database
    shutil.rmtree(index_path, ignore_errors=True)
    index = f"milvus:{index_path}" if milvus else index_path
    chunks_per_record = 1.0
    calibration = WORK / "calibration.json"
    if calibration.exists() and not synthetic:  # a synthetic index: one chunk per record
        chunks_per_record = json.loads(calibration.read_text()).get(model, 1.0)
    n_records = max(int(size / chunks_per_record), 1)
    build_corpus(corpus, records, n_records)

    if synthetic:
        build_started = time.perf_counter()
        chunks = synthesize(corpus, index_path, model, records)
        print(f"  built directly in {time.perf_counter() - build_started:.0f} s", flush=True)
        seconds = peak = ingest_cpu = float("nan")
    else:
        seconds, peak, out = cli(
            "ingest",
            str(corpus),
            "--index",
            str(index),
            "--model",
            model,
            "--no-progress",
            "--json",
        )
        chunks = json.loads(out)["chunks_total"]
        ingest_cpu = cli.cpu  # type: ignore[attr-defined]
        if not calibration.exists():
            calibration.write_text(json.dumps({model: chunks / n_records}))
    row = {
        "size": size,
        "chunks": chunks,
        "ingest_s": seconds,
        "ingest_rate": chunks / seconds,
        "ingest_rss_mb": peak,
        "ingest_cpu_rate": chunks / ingest_cpu,
        "disk_mb": disk_bytes(index_path) / 2**20,
    }

    return row | measure_queries(size, corpus, index_path, records, queries, model, milvus)


def measure_queries(
    size: int,
    corpus: Path,
    index_path: Path,
    records: list[dict],
    queries: list[str],
    model: str,
    milvus: bool,
    steps: tuple[str, ...] = STEPS,
    baseline: Path | None = None,
) -> dict:
    """Cold and warm search, recall, adding and changing one file, on a built index."""
    from ragkit.index.store import open_store

    index = f"milvus:{index_path}" if milvus else index_path
    store = open_store(index)
    row: dict = {"size": size, "chunks": (store.read_manifest() or {}).get("chunks", 0)}
    row.setdefault("disk_mb", disk_bytes(index_path) / 2**20)
    store.close()
    if "cold" in steps:
        colds, cpus = [], []
        for _ in range(3):
            colds.append(cli("search", QUESTION, "--index", str(index), "--json"))
            cpus.append(cli.cpu)  # type: ignore[attr-defined]
        row["cold_s"] = statistics.median(c[0] for c in colds)
        row["cold_cpu_s"] = statistics.median(cpus)
        row["cold_rss_mb"] = max(c[1] for c in colds)
    if "warm" in steps and baseline is None:
        row.update(warm_latencies(index, queries))
    elif "warm" in steps:
        row.update(warm_beside(index, queries, baseline))
    if "recall" in steps and milvus:
        row["recall10"] = row["recall10_filtered"] = float("nan")
    elif "recall" in steps:
        row["recall10"], row["recall10_filtered"] = dense_recall(index_path, queries)
    if "writes" not in steps:
        return row

    sync = ("ingest", str(corpus), "--index", str(index), "--model", model, "--no-progress")
    row["resync_s"] = cli(*sync, "--json")[0]  # nothing changed (an older index: restamps)
    row["resync_cpu_s"] = cli.cpu  # type: ignore[attr-defined]
    extra = corpus / f"zz-new-{int(time.time())}.jsonl"  # new on every run, also with --reuse
    with open(extra, "w", encoding="utf-8") as handle:
        for record in records[:20]:
            handle.write(json.dumps(variant(record, 10_000), ensure_ascii=False) + "\n")
    row["add_one_s"] = cli(
        "ingest", str(corpus), "--index", str(index), "--model", model, "--no-progress", "--json"
    )[0]
    row["add_one_cpu_s"] = cli.cpu  # type: ignore[attr-defined]
    first = sorted(corpus.glob("part-*.jsonl"))[0]
    lines = first.read_text(encoding="utf-8").splitlines()
    edited = [
        json.dumps({**json.loads(x), "text": json.loads(x)["text"] + " Revised."}) for x in lines
    ]
    first.write_text("\n".join(edited) + "\n", encoding="utf-8")
    row["change_one_s"] = cli(
        "ingest", str(corpus), "--index", str(index), "--model", model, "--no-progress", "--json"
    )[0]
    row["change_one_cpu_s"] = cli.cpu  # type: ignore[attr-defined]
    row["disk_after_mb"] = disk_bytes(index_path) / 2**20
    return row


COLUMNS = [
    ("chunks", "chunks", "{:.0f}"),
    ("ingest_rate", "ingest chunks/s", "{:.0f}"),
    ("ingest_cpu_rate", "ingest chunks/CPU-s", "{:.0f}"),
    ("ingest_rss_mb", "ingest peak MB", "{:.0f}"),
    ("disk_mb", "disk MB", "{:.0f}"),
    ("cold_s", "cold search s", "{:.2f}"),
    ("cold_cpu_s", "cold search CPU s", "{:.2f}"),
    ("cold_rss_mb", "cold peak MB", "{:.0f}"),
    ("warm_p50_ms", "warm p50 ms", "{:.1f}"),
    ("warm_p95_ms", "warm p95 ms", "{:.1f}"),
    ("warm_cpu_p50_ms", "warm CPU p50 ms", "{:.1f}"),
    ("warm_cpu_p95_ms", "warm CPU p95 ms", "{:.1f}"),
    ("base_warm_p50_ms", "baseline warm p50 ms", "{:.1f}"),
    ("base_warm_p95_ms", "baseline warm p95 ms", "{:.1f}"),
    ("base_warm_cpu_p50_ms", "baseline CPU p50 ms", "{:.1f}"),
    ("base_warm_cpu_p95_ms", "baseline CPU p95 ms", "{:.1f}"),
    ("resync_s", "re-sync unchanged s", "{:.2f}"),
    ("resync_cpu_s", "re-sync CPU s", "{:.2f}"),
    ("add_one_s", "add one file s", "{:.2f}"),
    ("add_one_cpu_s", "add one file CPU s", "{:.2f}"),
    ("change_one_s", "change one file s", "{:.2f}"),
    ("change_one_cpu_s", "change one CPU s", "{:.2f}"),
    ("recall10", "dense recall@10", "{:.3f}"),
    ("recall10_filtered", "recall@10, 10% readable", "{:.3f}"),
]


def print_table(rows: list[dict]) -> None:
    base = rows[0]
    print(f"\n{'':22s}" + "".join(f"{r['size']!s:>20s}" for r in rows))
    for key, label, fmt in COLUMNS:
        if not any(key in r for r in rows):
            continue  # not measured in this run (baseline rows without --baseline)
        cells = []
        for r in rows:
            value, first = r.get(key, float("nan")), base.get(key, float("nan"))
            ratio = value / first if first else float("nan")
            cells.append(
                f"{fmt.format(value)} ({ratio:.2f}x)" if r is not base else fmt.format(value)
            )
        print(f"{label:22s}" + "".join(f"{c:>20s}" for c in cells))
    print(
        f"(ratios against {base['size']} chunks, measured in this run; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )


def split_queries(split: str) -> list[str]:
    """SciFact query texts in file order: those of qrels/SPLIT.tsv, or every one ("all")."""
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as handle:
        queries = [json.loads(line) for line in handle if line.strip()]
    if split == "all":
        return [q["text"] for q in queries]
    with open(SCIFACT / "qrels" / f"{split}.tsv", encoding="utf-8") as handle:
        ids = {line.split("\t")[0] for line in handle.read().splitlines()[1:] if line}
    return [q["text"] for q in queries if str(q["_id"]) in ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--model", default="hash:384")
    parser.add_argument("--quick", action="store_true", help="sizes 2,000 and 20,000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--milvus", type=int, default=0, metavar="N", help="also N chunks on Milvus Lite"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure queries and writes on indexes already built"
    )
    parser.add_argument(
        "--synthetic-from",
        type=int,
        default=0,
        metavar="N",
        help="build sizes >= N directly (perturbed vectors, no ingest: no ingest figures)",
    )
    parser.add_argument(
        "--split",
        default="test",
        choices=("test", "train", "all"),
        help="SciFact queries to search with (qrels/SPLIT.tsv; all: queries.jsonl in order)",
    )
    parser.add_argument(
        "--steps",
        default=",".join(STEPS),
        help="with --reuse: what to measure on a built index (cold,warm,recall,writes)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the root of another checkout (main before a change): its warm latencies "
        "are measured beside ours, alternating, and printed with ratios",
    )
    parser.add_argument(
        "--detect-language",
        action="store_true",
        help="records do not declare their language: ingest detects it (lingua)",
    )
    args = parser.parse_args()
    global DECLARE_LANGUAGE
    DECLARE_LANGUAGE = not args.detect_language
    sys.path.insert(0, str(ROOT))  # this checkout's ragkit, also in this process
    if not SCIFACT.is_dir():
        print(f"skipped: {SCIFACT} is absent (set RAGKIT_SHARED_DATA)")
        return
    sizes = [2000, 20000] if args.quick else [int(s) for s in args.sizes.split(",")]
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    queries = split_queries(args.split)[: args.queries]
    steps = tuple(args.steps.split(","))
    if not set(steps) <= set(STEPS):
        raise SystemExit(f"--steps {args.steps}: use some of {','.join(STEPS)}")
    WORK.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sizes:
        print(f"--- {size:,d} chunks ({args.model}) ---", flush=True)
        synthetic = bool(args.synthetic_from) and size >= args.synthetic_from
        rows.append(
            measure(
                size,
                records,
                queries,
                args.model,
                synthetic=synthetic,
                reuse=args.reuse,
                steps=steps,
                baseline=args.baseline,
            )
        )
        print(json.dumps(rows[-1]), flush=True)
    if args.milvus:
        print(f"--- {args.milvus:,d} chunks on Milvus Lite ({args.model}) ---", flush=True)
        milvus_row = measure(
            args.milvus, records, queries, args.model, milvus=True, reuse=args.reuse, steps=steps
        )
        milvus_row["size"] = f"{args.milvus} milvus"
        rows.append(milvus_row)
        print(json.dumps(milvus_row), flush=True)
    print_table(rows)


if __name__ == "__main__":
    main()
