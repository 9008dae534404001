"""`ragkit ask`: one question, or a batch from a JSONL file, answered with citations."""

from __future__ import annotations

import argparse
import sys
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
        "ask",
        help="answer a question from the index, with citations",
        description="Answer a question from the indexed documents, citing source, page, "
        "section and the quoted words; says so plainly when the documents don't cover it.",
    )
    parser.add_argument("question", nargs="?", help="the question (or use --questions)")
    parser.add_argument(
        "--questions",
        type=Path,
        help="JSONL file of {id, question}: batch mode, always JSONL out (with or without "
        "--json), one {id, ...answer} or {id, error} line per request",
    )
    add_assistant_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.question is None) == (args.questions is None):
        raise UsageError("give a question, or --questions FILE.jsonl (not both)")
    assistant = build_assistant(args)
    if args.questions is not None:
        assistant.warm_up()
        return run_batch(args.questions, lambda question: assistant.ask(question).to_json())
    if args.json:
        print_json(assistant.ask(args.question).to_json())
        return 0
    from ragkit.cli.render import render_answer
    from ragkit.types import Answer

    # The extractive reader's pieces arrive together, and its answer is shown as a quote:
    # streaming only helps a generator that writes as it goes.
    live = sys.stdout.isatty() and getattr(assistant.generator, "name", "") != "extractive"
    streamed = False
    for item in assistant.stream(args.question):
        if isinstance(item, str) and live:
            sys.stdout.write(item)
            sys.stdout.flush()
            streamed = True
        elif isinstance(item, Answer):
            if streamed:
                sys.stdout.write("\n")
            print(render_answer(item, show_text=not streamed))
    return 0
