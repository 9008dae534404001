"""The `ragkit` command: parse, call one library function, print.

Each command lives in its own module with `add_parser(subparsers)` and `run(args) -> int`.
Command modules import only argparse at module level, so `ragkit --help` stays fast. Library
errors become one-line messages and exit codes here, and nowhere else.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ragkit import __version__
from ragkit.errors import RagkitError

# Order is the order of `ragkit --help`. The ingest command lives with the pipeline it drives
# (`ingest.cli`): the library under ragkit/ never imports the ingest package.
COMMANDS = {
    "ingest": "ingest.cli",
    "ask": "ragkit.cli.ask_cmd",
    "search": "ragkit.cli.search_cmd",
    "chat": "ragkit.cli.chat_cmd",
    "eval": "ragkit.cli.eval_cmd",
    "sources": "ragkit.cli.sources_cmd",
    "serve": "ragkit.cli.serve_cmd",
    "tune": "ragkit.cli.tune_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragkit",
        description="Question answering over your documents, offline, with citations.",
    )
    parser.add_argument("--version", action="version", version=f"ragkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMANDS.values():
        module = importlib.import_module(module_name)
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Offline by default, and no "Loading weights" bars from the libraries: ours say enough.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        return int(args.run(args) or 0)
    except RagkitError as exc:
        print(f"ragkit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ragkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `ragkit search ... | head` closes the pipe early; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
