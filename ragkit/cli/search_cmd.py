"""`ragkit search`: retrieval only, for one query or a batch."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragkit.cli.common import (
    add_assistant_options,
    build_assistant,
    print_json,
    run_batch,
)
from ragkit.errors import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="retrieve passages without answering",
        description="Show the passages the retriever finds for a query (hybrid dense + BM25, "
        "only those your --groups may read), best first, with their scores.",
    )
    parser.add_argument("query", nargs="?", help="the query (or use --queries)")
    parser.add_argument("--queries", type=Path, help="JSONL file of {id, question}")
    add_assistant_options(parser, generator=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.query is None) == (args.queries is None):
        raise UsageError("give a query, or --queries FILE.jsonl (not both)")
    assistant = build_assistant(args, generator=False)
    if args.queries is None:
        hits = assistant.retrieve(args.query)
        if args.json:
            print_json({"query": args.query, "hits": [h.to_json() for h in hits]})
        else:
            from ragkit.cli.render import render_hits

            print(render_hits(hits))
        return 0
    return run_batch(
        args.queries, lambda query: {"hits": [h.to_json() for h in assistant.retrieve(query)]}
    )
