"""`ragkit eval DATASET --index DIR --out DIR`: measure retrieval and answers on a dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragkit.cli.common import add_assistant_options, index_dir, parse_groups, print_json

_FORMATS = ("auto", "ragkit", "beir", "squad", "contoso")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate retrieval and answers on a question set (resumable)",
        description="Run conditions (grounded, ungrounded, oracle, retrieval; X+adapter) over a "
        "dataset: ragkit JSONL, a BEIR folder, SQuAD v1/v2 JSON or contoso ground truth. "
        "Writes results.jsonl, summary.json, report.md and report.html to --out; an "
        "interrupted run resumes where it stopped.",
    )
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="dataset file or BEIR folder")
    add_assistant_options(
        parser
    )  # --index, -k, --groups, --json, --llm, --adapter, --system-prompt
    parser.add_argument("--out", type=Path, help="output folder (required unless --write-corpus)")
    parser.add_argument(
        "--compare",
        default="grounded",
        help="comma-separated conditions: retrieval, grounded, ungrounded, oracle, each "
        "optionally +adapter, answered with --adapter loaded (default: grounded; BEIR "
        "datasets: retrieval)",
    )
    parser.add_argument("--judge", metavar="PROVIDER:MODEL", help="optional LLM judge (cached)")
    parser.add_argument("--format", choices=_FORMATS, default="auto", help="dataset format")
    parser.add_argument("--limit", type=int, help="evaluate the first N questions only")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--resamples", type=int, default=5000, help="bootstrap resamples")
    parser.add_argument(
        "--write-corpus",
        type=Path,
        metavar="FILE",
        help="SQuAD only: write the paragraphs as a BEIR corpus.jsonl to ingest, then exit",
    )
    parser.add_argument(
        "--ladder",
        type=Path,
        metavar="DIR",
        help="the adaptation ladder: answer DATASET (records with passages and oracle, as "
        "`python tests/bench/ladder_data.py OUT` or ragkit.tune.public.build write them) with "
        "the base --llm and every adapter folder in DIR, grounded (each record's stored "
        "passages; --index is not used), ungrounded and oracle; writes ladder.md/.html/.json "
        "to --out",
    )
    parser.add_argument(
        "--max-new-tokens", type=int, default=32, help="answer length cap for --ladder"
    )
    parser.add_argument(
        "--conditions",
        default="grounded,ungrounded,oracle",
        help="--ladder: the conditions to answer (comma-separated; a later run adds the rest)",
    )
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="--ladder compute: bf16 autocast is 4-5x faster on CPUs with AMX/AVX512-BF16",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ragkit.errors import UsageError
    from ragkit.eval import EvalOptions, evaluate, load_dataset, write_squad_corpus

    if args.write_corpus is not None:
        count = write_squad_corpus(load_dataset(args.dataset, args.format), args.write_corpus)
        print(f"wrote {count} paragraphs to {args.write_corpus}")
        print(f"next: ragkit ingest {args.write_corpus.parent} --index DIR")
        return 0
    if args.out is None:
        raise UsageError("no output folder: pass --out DIR")
    if args.ladder is not None:
        return run_ladder_command(args)
    options = EvalOptions(
        conditions=args.compare,
        llm=args.llm,
        k=args.k,
        groups=parse_groups(args.groups),
        adapter=args.adapter,
        system_prompt=args.system_prompt,
        judge=args.judge,
        format=args.format,
        limit=args.limit,
        seed=args.seed,
        resamples=args.resamples,
        progress=not args.no_progress and not args.json,
    )
    summary = evaluate(args.dataset, args.out, options, index_dir=index_dir(args))
    if args.json:
        print_json(summary)
    else:
        print_summary(summary, args.out)
    return 0


def run_ladder_command(args: argparse.Namespace) -> int:
    from ragkit.eval.ladder import discover_rungs, render_markdown, run_ladder

    summary = run_ladder(
        args.dataset,
        discover_rungs(args.ladder),
        args.out,
        llm="smollm2" if args.llm == "extractive" else args.llm.removeprefix("hf:"),
        system_prompt=args.system_prompt,
        max_new_tokens=args.max_new_tokens,
        limit=args.limit,
        progress=not args.no_progress and not args.json,
        resamples=args.resamples,
        precision=args.precision,
        conditions=tuple(c.strip() for c in args.conditions.split(",") if c.strip()),
    )
    if args.json:
        print_json(summary)
    else:
        print(render_markdown(summary))
        print(f"report: {args.out / 'ladder.html'} (also ladder.md, ladder.json)")
    return 0


def print_summary(summary: dict, out: Path) -> None:
    conditions = summary["conditions"]
    names = list(conditions)
    keys = list(dict.fromkeys(k for c in conditions.values() for k in c["metrics"]))
    width = max(len(k) for k in keys) if keys else 10
    print(f"{'metric':<{width}}  " + "  ".join(f"{n:>18}" for n in names))
    for key in keys:
        cells = []
        for name in names:
            stat = conditions[name]["metrics"].get(key)
            cells.append(f"{stat['value']:>9.3f} (n={stat['n']:<4})" if stat else f"{'-':>18}")
        print(f"{key:<{width}}  " + "  ".join(f"{c:>18}" for c in cells))
    for d in summary["deltas"]:
        if d["metric"] == "correct":
            print(
                f"{d['a']} - {d['b']} (correct): {d['delta']:+.3f} "
                f"[{d['low']:+.3f}, {d['high']:+.3f}] n={d['n']}"
            )
    for note in summary["notes"]:
        if not note.startswith("correct:"):  # the grading rule is in the report
            print(f"note: {note}")
    for warning in summary["warnings"]:
        print(f"WARNING: {warning}")
    print(f"report: {out / 'report.html'} (also report.md, summary.json, results.jsonl)")
