"""How many IVF lists to probe: recall@10 against exact search, and search time, per nprobe.

    python tests/bench/bench_ivf_probe.py INDEX [--queries 300] [--split train]
        [--probes 32,64,128,256,512] [--scan 0,230000,270000]

INDEX: a bench_scale.py index whose large segment is compressed (IVF + SQ8), e.g.
/tmp/ragkit-bench-scale/n1000000/index. Truth is exact inner product over the stored float32
vectors; each search goes through IndexSnapshot.dense_search (re-ranking included), with no
filter and with every 10th row readable. Queries: SciFact's train queries (qrels/train.tsv)
by default, since the probe count is chosen here; bench_scale.py reports recall on the test
queries. 64 probes (ragkit's setting before the first sweep) is the baseline row. `--scan`:
caps on the codes one search reads (snapshot.MAX_CODES; 0: no cap), each tried with each
probe count. Times are per search, filtered and unfiltered searches together.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("RAGKIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--split", default="train", choices=("train", "test", "all"))
    parser.add_argument("--probes", default="32,64,128,256,512")
    parser.add_argument("--scan", default="0", help="comma-separated code caps (0: no cap)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from ragkit.index import snapshot as snapshot_module
    from ragkit.index.embedding import load_embedder
    from ragkit.index.segment import COMPRESS_AT
    from ragkit.index.store import load_index

    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    from bench_scale import exact_scores, split_queries

    snapshot = load_index(args.index)
    nlist = max((s.meta.nlist for s in snapshot.segments), default=0)
    if not nlist:  # only flat segments: there are no lists to probe
        sys.exit(
            f"{args.index}: no segment is compressed (IVF), so there is nothing to probe: "
            f"segments are compressed from {COMPRESS_AT:,} rows (bench_scale.py --sizes 1000000)"
        )
    embedder = load_embedder(snapshot.fingerprint["model"])
    queries = split_queries(args.split)[: args.queries]
    allowed = np.zeros(len(snapshot), bool)
    allowed[::10] = True
    truths = []
    for query in queries:
        vector = embedder.embed([query])[0]
        scores = exact_scores(snapshot, vector)
        every = set(np.argsort(-scores, kind="stable")[:10].tolist())
        masked = np.where(allowed, scores, -np.inf)
        some = set(np.argsort(-masked, kind="stable")[:10].tolist())
        truths.append((vector, every, some))
    default = max(snapshot_module.NPROBE_MIN, int(nlist * snapshot_module.NPROBE_FRACTION))
    print(f"{len(snapshot)} rows, {len(queries)} queries, {nlist} lists; ragkit probes {default}")
    shipped = snapshot_module.MAX_CODES
    print(
        f"{'nprobe':>8} {'cap':>7} {'recall@10':>10} {'10% readable':>13} {'ms/search':>10} "
        f"{'CPU ms':>8} {'CPU p95':>8}"
    )
    for nprobe in [int(p) for p in args.probes.split(",")]:
        for share in [int(s) for s in args.scan.split(",")]:
            snapshot_module.NPROBE = nprobe
            snapshot_module.MAX_CODES = share
            found = {"all": 0, "some": 0}
            wall = 0.0
            cpu: list[float] = []
            for vector, every, some in truths:
                for name, mask, truth in (("all", None, every), ("some", allowed, some)):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    rows, _ = snapshot.dense_search(vector, 10, mask)
                    wall += time.perf_counter() - started
                    cpu.append(time.process_time() - cpu_started)
                    found[name] += len(truth & set(rows.tolist()))
            n = 10 * len(truths)
            mark = "  (ragkit)" if (nprobe, share) == (default, shipped) else ""
            mark = mark or ("  (before)" if (nprobe, share) == (64, 0) else "")
            print(
                f"{nprobe:>8} {share:>7} {found['all'] / n:>10.3f} {found['some'] / n:>13.3f} "
                f"{1000 * wall / len(cpu):>10.1f} {1000 * np.mean(cpu):>8.1f} "
                f"{1000 * np.percentile(cpu, 95):>8.1f}" + mark
            )


if __name__ == "__main__":
    main()
