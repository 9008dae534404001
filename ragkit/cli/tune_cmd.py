"""`ragkit tune`: train an adapter (prompt, P-tuning, prefix, LoRA or full) for a local LM."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit.cli.common import add_index_option, index_dir, print_json

if TYPE_CHECKING:
    from ragkit.tune.train import TuneResult


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from ragkit.tune.config import TuneConfig

    helps = TuneConfig.help()
    parser = subparsers.add_parser(
        "tune",
        help="train an adapter (prompt, p-tuning, prefix, lora, full) for a local model",
        description="Train an adapter (peft, or full fine-tuning) so a local model answers "
        "briefly from the passages, cites them and refuses when they lack the answer. Records "
        "with their own 'passages' (see ragkit.tune.public) need no index.",
    )
    parser.add_argument("--base", required=True, help=helps["base"] + " Also smollm2 or gguf:PATH.")
    parser.add_argument(
        "--method",
        choices=("prompt", "p-tuning", "prefix", "lora", "full"),
        default="prefix",
        help=helps["method"],
    )
    parser.add_argument("--data", required=True, type=Path, help=helps["data"])
    add_index_option(parser)
    parser.add_argument("--out", required=True, type=Path, help=helps["out"])
    parser.add_argument("--dev", type=Path, help=helps["dev"])
    parser.add_argument("--virtual-tokens", type=int, default=16, help=helps["virtual_tokens"])
    parser.add_argument("--epochs", type=int, default=5, help=helps["epochs"])
    parser.add_argument("--lr", type=float, help=helps["lr"])
    parser.add_argument("--batch-size", type=int, default=4, help=helps["batch_size"])
    parser.add_argument("--max-steps", type=int, help=helps["max_steps"])
    parser.add_argument("--max-length", type=int, default=2048, help=helps["max_length"])
    parser.add_argument("--refusal-share", type=float, default=0.25, help=helps["refusal_share"])
    parser.add_argument(
        "--precision", choices=("fp32", "bf16"), default="fp32", help=helps["precision"]
    )
    parser.add_argument("--resume", type=Path, help=helps["resume"])
    parser.add_argument("--seed", type=int, default=0, help=helps["seed"])
    parser.add_argument("--json", action="store_true", help="print the training result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ragkit.retrieval import HybridRetriever
    from ragkit.tune import TuneConfig, train_adapter

    index = Path(args.index) if args.index else None
    config = TuneConfig(
        base=args.base,
        data=str(args.data),
        out=str(args.out),
        dev=_str(args.dev),
        index=None if index is None else str(index),
        method=args.method,
        virtual_tokens=args.virtual_tokens,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_steps=args.max_steps,
        max_length=args.max_length,
        refusal_share=args.refusal_share,
        resume=_str(args.resume),
        precision=args.precision,
        seed=args.seed,
    )
    retrievers: list = []

    def retrieve(question: str):
        # Loaded on first use: records that carry their own passages need no index.
        if not retrievers:
            retrievers.append(HybridRetriever.from_index(index_dir(args)))
        # No access groups: an adapter can memorise its training passages, so restricted
        # text must never be among them.
        return retrievers[0].retrieve(question, k=config.top_k, groups=frozenset())

    result = train_adapter(config, retrieve=retrieve, progress=not args.json)
    if args.json:
        print_json(result.to_json())
    else:
        print(f"Adapter saved to {result.adapter_dir} in {result.seconds:.0f} s")
        print(f"  best epoch {result.best_epoch}; {_dev_summary(result)}")
        llm = (
            args.base
            if args.base == "smollm2" or args.base.startswith("gguf:")
            else (f"hf:{args.base}")
        )
        print(f"  use it: ragkit ask QUESTION --llm {llm} --adapter {result.adapter_dir}")
    return 0


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _dev_summary(result: TuneResult) -> str:
    """'dev loss 2.31 -> 1.87', or 'no dev set' when training ran without --dev."""
    if result.initial_dev_loss is None or not result.dev_losses:
        return "no dev set"
    return f"dev loss {result.initial_dev_loss:.3f} -> {min(result.dev_losses):.3f}"
