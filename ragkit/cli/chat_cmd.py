"""`ragkit chat`: an interactive session with history."""

from __future__ import annotations

import argparse

from ragkit.cli.common import add_assistant_options, build_assistant
from ragkit.errors import UsageError

HELP = "Ask a question. Commands: /history, /clear, /quit (or Ctrl-D)."


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "chat",
        help="interactive questions with history",
        description="Ask questions one after another; a follow-up ('And in the UK office?') is "
        "read with the conversation before it. Type /history, /clear or /quit (or Ctrl-D).",
    )
    add_assistant_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ragkit.cli.render import render_answer
    from ragkit.conversation import Conversation

    assistant = build_assistant(args)
    assistant.warm_up()
    conversation = Conversation(assistant)
    print(HELP)
    while True:
        try:
            line = input("\nyou> ").strip()
        except EOFError:
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/clear":
            conversation.history.clear()
            print("History cleared.")
            continue
        if line == "/history":
            for number, (question, _) in enumerate(conversation.history, start=1):
                print(f"{number}. {question}")
            continue
        try:
            answer = conversation.ask(line)
        except UsageError as exc:
            print(f"error: {exc}")
            continue
        print()
        print(render_answer(answer))
