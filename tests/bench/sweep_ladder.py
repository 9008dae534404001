"""A tiny hyperparameter sweep for the ladder's soft-prompt rungs, judged on validation only.

    OMP_NUM_THREADS=2 nice -n 10 python tests/bench/sweep_ladder.py DATA_DIR OUT_DIR \
        [--steps 30] [--config prefix:1e-2:16 ...]

DATA_DIR holds train.jsonl and validation.jsonl (tests/bench/ladder_data.py). Each config
(method:lr:virtual_tokens) trains `--steps` steps on train.jsonl, then is scored on the
validation split: answer-token loss (the dev loss of `ragkit tune`) and the share of correct
answers over a balanced slice of grounded validation questions. The test split is never read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ("prefix:1e-2:16", "prefix:3e-2:16", "prefix:3e-2:32", "prompt:3e-2:20", "prompt:1e-1:20")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--questions", type=int, default=24, help="validation questions")
    parser.add_argument("--config", nargs="*", default=list(DEFAULT))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from ragkit.eval.grading import answer_record
    from ragkit.eval.ladder import eval_item
    from ragkit.generators.hf import HFGenerator
    from ragkit.tune import TuneConfig, train_adapter
    from ragkit.tune.data import record_hits
    from ragkit.tune.public import write_jsonl

    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    records = [json.loads(x) for x in (args.data / "validation.jsonl").read_text().splitlines()]
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    half = args.questions // 2
    picked = answerable[:half] + unanswerable[:half]
    dev = args.out / "dev.jsonl"
    write_jsonl(picked, dev)
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "sweep.jsonl"
    done = (
        {json.loads(x)["config"] for x in results.read_text().splitlines()}
        if results.is_file()
        else set()
    )
    for spec in args.config:
        if spec in done:
            continue
        method, lr, tokens = spec.split(":")
        folder = args.out / spec.replace(":", "_")
        started = time.perf_counter()
        result = train_adapter(
            TuneConfig(
                base="smollm2",
                data=str(args.data / "train.jsonl"),
                dev=str(dev),
                out=str(folder),
                method=method,
                lr=float(lr),
                virtual_tokens=int(tokens),
                epochs=1,
                max_steps=args.steps,
                batch_size=4,
                refusal_share=0.1,
                precision="bf16",
                patience=1,
            ),
            progress=True,
        )
        generator = HFGenerator("smollm2", adapter=folder, max_new_tokens=24, precision="bf16")
        answers = []
        for start in range(0, len(picked), 12):
            batch = picked[start : start + 12]
            answers += generator.generate_batch(
                [r["question"] for r in batch], [record_hits(r) for r in batch]
            )
        graded = [answer_record(eval_item(r), a) for r, a in zip(picked, answers, strict=True)]
        row = {
            "config": spec,
            "steps": args.steps,
            "initial_dev_loss": result.initial_dev_loss,
            "dev_loss": result.dev_losses[-1] if result.dev_losses else None,
            "kept_epoch": result.best_epoch,
            "correct": sum(bool(g["correct"]) for g in graded) / len(graded),
            "correct_refusal": sum(
                g["abstained"] for g, r in zip(graded, picked, strict=True) if not r["answerable"]
            )
            / max(1, half),
            "seconds": round(time.perf_counter() - started, 1),
            "train_seconds": round(result.seconds, 1),
        }
        print(json.dumps(row), flush=True)
        with results.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
