"""`ragkit tune`: train a prefix-tuning adapter for a local causal LM on a QA set."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragkit.cli.common import add_index_option, index_dir, print_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from ragkit.tune.config import TuneConfig

    helps = TuneConfig.help()
    parser = subparsers.add_parser(
        "tune",
        help="train a prefix-tuning adapter for --llm hf:BASE",
        description="Train a prefix-tuning adapter (peft) so a local model answers briefly from "
        "the passages, cites them and refuses when they lack the answer.",
    )
    parser.add_argument("--base", required=True, help=helps["base"])
    parser.add_argument("--data", required=True, type=Path, help=helps["data"])
    add_index_option(parser)
    parser.add_argument("--out", required=True, type=Path, help=helps["out"])
    parser.add_argument("--dev", type=Path, help=helps["dev"])
    parser.add_argument("--virtual-tokens", type=int, default=16, help=helps["virtual_tokens"])
    parser.add_argument("--epochs", type=int, default=5, help=helps["epochs"])
    parser.add_argument("--lr", type=float, default=1e-2, help=helps["lr"])
    parser.add_argument("--resume", type=Path, help=helps["resume"])
    parser.add_argument("--json", action="store_true", help="print the training result as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ragkit.retrieval import HybridRetriever
    from ragkit.tune import TuneConfig, train_adapter

    index = index_dir(args)
    config = TuneConfig(
        base=args.base,
        data=str(args.data),
        out=str(args.out),
        dev=_str(args.dev),
        index=str(index),
        virtual_tokens=args.virtual_tokens,
        epochs=args.epochs,
        lr=args.lr,
        resume=_str(args.resume),
    )
    retriever = HybridRetriever.from_index(index)

    def retrieve(question: str):
        # No access groups: an adapter can memorise its training passages, so restricted
        # text must never be among them.
        return retriever.retrieve(question, k=config.top_k, groups=frozenset())

    result = train_adapter(config, retrieve=retrieve, progress=not args.json)
    if args.json:
        print_json(result.to_json())
    else:
        print(f"Adapter saved to {result.adapter_dir} in {result.seconds:.0f} s")
        print(
            f"  best epoch {result.best_epoch}; dev loss {result.initial_dev_loss} -> "
            f"{min(result.dev_losses) if result.dev_losses else 'n/a'}"
        )
        print(f"  use it: ragkit ask QUESTION --llm hf:{args.base} --adapter {result.adapter_dir}")
    return 0


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
