"""The ladder's three splits, written once: train, validation (for choosing settings) and test.

    python tests/bench/ladder_data.py OUT_DIR [--train 800] [--test 64]

train and test come from `ragkit.tune.public.build` (split by article / document); validation
is carved out of the training records by article (`split_validation`), so settings are chosen
without ever looking at the reported test split. Validation records are shown as the test
split's are (`as_grounded`: the BM25 top 3 of the training pool, which can miss the gold
chunk), so a setting is judged under the test's conditions.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
# SQuAD 2.0 brings the unanswerable half; XQuAD a few non-English answers; the sample corpus
# the HR-style documents.
QUOTAS = {"squad2": 0.7, "xquad": 0.05, "sample": 0.25}
# The ragkit CLI in a child process (the bench scripts run under `nice`; children inherit it).
CLI = [
    sys.executable,
    "-c",
    "import sys; from ragkit.cli import main; sys.exit(main(sys.argv[1:]))",
]


def tune_command(
    method: str,
    data: Path,
    out: Path,
    *,
    lr: str,
    virtual_tokens: str,
    steps: str,
    batch_size: int = 4,
    refusal_share: str = "0.1",
    extra: Sequence[str] = (),
) -> list[str]:
    """`ragkit tune` for one ladder rung on SmolLM2 in bf16, printing its result as JSON."""
    return [
        *CLI,
        "tune",
        "--base",
        "smollm2",
        "--method",
        method,
        "--data",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "3",  # --max-steps decides; epochs only bound it
        "--max-steps",
        steps,
        "--lr",
        lr,
        "--batch-size",
        str(batch_size),
        "--virtual-tokens",
        virtual_tokens,
        "--refusal-share",
        refusal_share,
        "--precision",
        "bf16",
        *extra,
        "--json",
    ]


def eval_command(
    dataset: Path, adapters: Path, out: Path, *, max_new_tokens: int, conditions: str
) -> list[str]:
    """`ragkit eval --ladder`: the base model and every adapter under `adapters` on `dataset`."""
    return [
        *CLI,
        "eval",
        str(dataset),
        "--llm",
        "smollm2",
        "--ladder",
        str(adapters),
        "--out",
        str(out),
        "--max-new-tokens",
        str(max_new_tokens),
        "--precision",
        "bf16",
        "--conditions",
        conditions,
        "--no-progress",
    ]


def write_splits(out: Path, train_size: int, test_size: int) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    from ragkit.tune.public import as_grounded, build, split_validation, write_jsonl

    paths = {name: out / f"{name}.jsonl" for name in ("train", "validation", "test")}
    if all(p.is_file() for p in paths.values()):
        return paths
    train, test = build(
        DATA,
        ROOT / "sample_corpus",
        train_size=train_size,
        test_size=test_size,
        distractors=2,  # gold + 2 distractors: short prompts, as the bench budget needs
        k=3,
        quotas=QUOTAS,
    )
    train, validation = split_validation(train, 0.15)
    validation = [as_grounded(r) for r in validation]
    for name, records in (("train", train), ("validation", validation), ("test", test)):
        write_jsonl(records, paths[name])
        unanswerable = sum(not r["answerable"] for r in records)
        print(f"{name}: {len(records)} records, {unanswerable} unanswerable")
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=800)
    parser.add_argument("--test", type=int, default=64)
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skip: {DATA} is absent")
        return 0
    write_splits(args.out, args.train, args.test)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
