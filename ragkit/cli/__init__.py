"""The `ragkit` command: parse, call one library function, print.

Each command lives in its own module with `add_parser(subparsers)` and `run(args) -> int`.
Command modules import only argparse at module level, so `ragkit --help` stays fast. Library
errors become one-line messages and exit codes here, and nowhere else.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ragkit import __version__
from ragkit.errors import RagkitError

# Order is the order of `ragkit --help`. The ingest command lives with the pipeline it drives
# (`ingest.cli`): the library under ragkit/ never imports the ingest package.
COMMANDS = {
    "ingest": "ingest.cli",
    "remove": "ingest.remove_cmd",
    "ask": "ragkit.cli.ask_cmd",
    "search": "ragkit.cli.search_cmd",
    "chat": "ragkit.cli.chat_cmd",
    "eval": "ragkit.cli.eval_cmd",
    "sources": "ragkit.cli.sources_cmd",
    "serve": "ragkit.cli.serve_cmd",
    "tune": "ragkit.cli.tune_cmd",
}


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default, unless its help already says it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text.lower()
            or default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


class RagkitParser(argparse.ArgumentParser):
    """argparse with "did you mean ...?" for mistyped commands and options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        super().error(message + suggestion(self, message))


def suggestion(parser: argparse.ArgumentParser, message: str) -> str:
    """ " (did you mean 'ask'?)" for an invalid command or an unknown option, else ""."""
    if "invalid choice: '" in message:
        wrong = message.split("invalid choice: '", 1)[1].split("'", 1)[0]
        choices = [c for a in parser._actions if a.choices for c in a.choices]
    elif message.startswith("unrecognized arguments: "):
        wrong = message.removeprefix("unrecognized arguments: ").split()[0].split("=")[0]
        choices = [o for a in parser._actions for o in a.option_strings]
    else:
        return ""
    close = difflib.get_close_matches(wrong, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def build_parser() -> argparse.ArgumentParser:
    parser = RagkitParser(
        prog="ragkit",
        description="Question answering over your documents, offline, with citations.",
    )
    parser.add_argument("--version", action="version", version=f"ragkit {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=RagkitParser
    )
    for module_name in COMMANDS.values():
        module = importlib.import_module(module_name)
        module.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        subparser.set_defaults(_parser=subparser)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse; an unknown option is reported by its own command, with that command's usage."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        owner = getattr(args, "_parser", parser)
        owner.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
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
