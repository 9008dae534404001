"""`ragkit chat`: an interactive session with history; follow-ups are read as standalone
questions (shown as "read as: ..."; with --json each turn is one JSON object per line, with
"question" and "standalone_question" beside the answer's fields)."""

from __future__ import annotations

import argparse

from ragkit.cli.common import add_assistant_options, build_assistant, print_json
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
    as_json = bool(args.json)
    if not as_json:  # stdout carries only JSON lines with --json
        print(HELP)
    while True:
        try:
            line = input("" if as_json else "\nyou> ").strip()
        except EOFError:
            if not as_json:
                print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/clear":
            conversation.history.clear()
            if not as_json:
                print("History cleared.")
            continue
        if line == "/history":
            show_history(conversation.history, as_json)
            continue
        try:
            turn = conversation.ask(line)
        except UsageError as exc:
            if as_json:
                print_json({"question": line, "error": str(exc)})
            else:
                print(f"error: {exc}")
            continue
        if as_json:
            print_json(turn.to_json())
            continue
        print()
        if turn.standalone != turn.question:
            print(f"(read as: {turn.standalone})")
        print(render_answer(turn.answer))


def show_history(history: list, as_json: bool) -> None:
    if as_json:
        asked = [{"question": t.question, "standalone_question": t.standalone} for t in history]
        print_json({"history": asked})
        return
    for number, turn in enumerate(history, start=1):
        read_as = f"  (read as: {turn.standalone})" if turn.standalone != turn.question else ""
        print(f"{number}. {turn.question}{read_as}")
