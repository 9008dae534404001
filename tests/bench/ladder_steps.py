"""Choose a rung's step count on validation: continue an adapter in chunks, score each checkpoint.

    OMP_NUM_THREADS=1 nice -n 10 python tests/bench/ladder_steps.py DATA_DIR OUT_DIR \
        --start ADAPTER --start-steps 96 --method prefix --lr 3e-2 --virtual-tokens 20 \
        --chunks 4 --steps 24 [--unanswerable-share 0.5]

DATA_DIR holds train.jsonl and validation.jsonl (`ladder_data.py`; validation is shown as the
test split is, BM25 top 3). Each chunk is one `ragkit tune --resume` of `--steps` steps of 4 on
train.jsonl (seed `--seed` + chunk, so each chunk draws its own batches); every checkpoint,
the start included, is answered grounded on a balanced validation slice (`--questions`, half
answerable) with `ragkit eval --ladder`, beside the base model's hard prompt. The test split is
never read. `--unanswerable-share` keeps a seeded share of the unanswerable training records
(the answer/refusal balance of the continuation; every answerable record stays); checkpoints
of several runs share OUT_DIR (named METHOD[-uSHARE]-STEPS), so they are scored side by side.

The rule, fixed before any checkpoint was scored: the checkpoint with the most correct answers
among those whose correct-refusal rate is at least `--min-refusal` (the issue's target, 0.80);
if none reaches it, the one with the most correct answers. Ties go to fewer steps. It is
written to OUT_DIR/selected.json; the chosen folder is what the test split then evaluates.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ladder_data import ROOT, eval_command, tune_command  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--start", type=Path, required=True, help="adapter folder to continue")
    parser.add_argument("--start-steps", type=int, required=True, help="steps it was trained")
    parser.add_argument("--method", default="prefix")
    parser.add_argument("--lr", default="3e-2")
    parser.add_argument("--virtual-tokens", default="20")
    parser.add_argument("--refusal-share", default="0.1")
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--steps", type=int, default=24, help="steps of 4 per chunk")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--questions", type=int, default=64, help="validation questions")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--min-refusal", type=float, default=0.80)
    parser.add_argument(
        "--unanswerable-share", type=float, default=1.0, help="unanswerable records kept"
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    checkpoints = args.out / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    dev = write_slice(args.data / "validation.jsonl", args.out / "validation-slice.jsonl", args)
    name = f"{args.method}-{args.start_steps}"
    if not (checkpoints / name).is_dir():
        shutil.copytree(args.start, checkpoints / name)
    score(dev, checkpoints, args, env)
    train = write_mix(args)
    tag = (
        f"{args.method}-u{args.unanswerable_share:g}"
        if args.unanswerable_share < 1
        else args.method
    )
    steps = args.start_steps
    for chunk in range(1, args.chunks + 1):
        previous, steps = checkpoints / name, steps + args.steps
        name = f"{tag}-{steps}"
        if not (checkpoints / name / "ragkit_adapter.json").is_file():
            tune(previous, checkpoints / name, train, args.seed + chunk, args, env)
        score(dev, checkpoints, args, env)
    select(args)
    return 0


def write_slice(path: Path, out: Path, args: argparse.Namespace) -> Path:
    """The first `questions / 2` answerable and unanswerable validation records, file order."""
    records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    half = args.questions // 2
    picked = [r for r in records if r["answerable"]][:half]
    picked += [r for r in records if not r["answerable"]][:half]
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in picked), "utf-8")
    return out


def write_mix(args: argparse.Namespace) -> Path:
    """train.jsonl with a seeded `unanswerable_share` of its unanswerable records, in order."""
    if args.unanswerable_share >= 1:
        return args.data / "train.jsonl"
    lines = (args.data / "train.jsonl").read_text(encoding="utf-8").splitlines()
    unanswerable = [i for i, x in enumerate(lines) if not json.loads(x)["answerable"]]
    keep = set(
        random.Random(0).sample(unanswerable, round(args.unanswerable_share * len(unanswerable)))
    )
    kept = [x for i, x in enumerate(lines) if i in keep or json.loads(x)["answerable"]]
    out = args.out / f"train-u{args.unanswerable_share:g}.jsonl"
    out.write_text("".join(x + "\n" for x in kept), encoding="utf-8")
    print(f"{out.name}: {len(kept)} records, {len(keep)} of {len(unanswerable)} unanswerable")
    return out


def tune(
    previous: Path, folder: Path, train: Path, seed: int, args: argparse.Namespace, env: dict
) -> None:
    command = tune_command(
        args.method,
        train,
        folder,
        lr=args.lr,
        virtual_tokens=args.virtual_tokens,
        steps=str(args.steps),
        refusal_share=args.refusal_share,
        extra=("--resume", str(previous), "--seed", str(seed)),
    )
    started = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"tune {folder.name} failed:\n{run.stderr[-2000:]}")
    result = json.loads(run.stdout)
    print(
        f"tune {folder.name} (seed {seed}): {time.perf_counter() - started:.0f} s, "
        f"train loss {result['train_losses']}",
        flush=True,
    )


def score(dev: Path, checkpoints: Path, args: argparse.Namespace, env: dict) -> None:
    command = eval_command(
        dev,
        checkpoints,
        args.out / "validation",
        max_new_tokens=args.max_new_tokens,
        conditions="grounded",
    )
    started = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"validation eval failed:\n{run.stderr[-2000:]}")
    print(f"validation eval: {time.perf_counter() - started:.0f} s", flush=True)
    for name, row in table(args).items():
        print(f"  {name}: {row}", flush=True)


def table(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    summary = json.loads((args.out / "validation" / "ladder.json").read_text(encoding="utf-8"))
    rows = {}
    for name, rung in summary["rungs"].items():
        metrics = rung["conditions"]["grounded"]["metrics"]
        rows[name] = {
            key.split(".")[-1]: metrics[key]["value"]
            for key in (
                "answer.correct",
                "abstention.correct_refusal",
                "abstention.false_refusal",
                "grounding.citation_validity",
            )
            if key in metrics
        }
    return rows


def select(args: argparse.Namespace) -> None:
    rows = {k: v for k, v in table(args).items() if k.startswith(f"{args.method}-")}
    steps = {k: int(k.rsplit("-", 1)[1]) for k in rows}  # every run in OUT_DIR competes
    eligible = [k for k, v in rows.items() if v["correct_refusal"] >= args.min_refusal] or list(
        rows
    )
    chosen = max(eligible, key=lambda k: (rows[k]["correct"], -steps[k]))
    choice = {
        "chosen": chosen,
        "steps": steps[chosen],
        "rule": f"most correct with correct_refusal >= {args.min_refusal}, else most correct",
        "validation": table(args),
        "settings": {k: str(v) for k, v in vars(args).items()},
    }
    (args.out / "selected.json").write_text(json.dumps(choice, indent=2) + "\n", "utf-8")
    print(json.dumps(choice, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
