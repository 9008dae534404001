"""Benchmark: follow-up questions in a conversation, answered four ways in one run.

    python tests/bench/bench_follow_up.py [--index DIR]

Data: 14 two-turn conversations over sample_corpus/ (below), each with the follow-up's
standalone form written by hand and the facts a right answer holds. They were written after
the rewrite rules in ragkit/followup.py were fixed, and no rule was changed after seeing
them: a held-out set (the rules were developed on tests/fixtures/chat-follow-up). Small:
read the counts, not the decimals.

Conditions (the default extractive reader and retriever, the bundled embedding model):
    as asked       the follow-up alone, no history
    concatenated   the previous approach: retrieval sees "previous + follow-up" when the
                   follow-up looks like one (short, or a pronoun); the reader reads it as asked
    rewritten      ragkit: the follow-up rewritten into a standalone question, searched and read
    by hand        the hand-written standalone question (the ceiling for a rewriter)

Prints, per condition, answers holding every gold fact and refusals; then each follow-up's
outcome per condition and its rewrite.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from ragkit.assistant import Assistant  # noqa: E402
from ragkit.followup import standalone  # noqa: E402
from ragkit.types import REFUSAL  # noqa: E402

# (previous question, follow-up, standalone by hand, facts the answer must hold)
CONVERSATIONS = [
    (
        "What's the most I can spend per night on a hotel in London?",
        "And in Manchester?",
        "What's the most I can spend per night on a hotel in Manchester?",
        ["140 GBP"],
    ),
    (
        "How many bank holidays do staff in the Manchester office get in 2025?",
        "And staff in the Dublin office?",
        "How many public holidays do staff in the Dublin office get in 2025?",
        ["10 public holidays"],
    ),
    (
        "How much is the one-off home office setup allowance for someone in the Manchester office?",
        "And for someone in the Dublin office?",
        "How much is the one-off home office setup allowance for someone in the Dublin office?",
        ["400 EUR"],
    ),
    (
        "What is the salary range for level L4 in Dublin?",
        "And for L5?",
        "What is the salary range for level L5 in Dublin?",
        ["84,000"],
    ),
    (
        "What notice period applies to an L4 employee who has passed probation?",
        "And an L6 employee?",
        "What notice period applies to an L6 employee who has passed probation?",
        ["3 months"],
    ),
    (
        "What's the limit for dinner when a Dublin employee is travelling for work?",
        "And for lunch?",
        "What's the limit for lunch when a Dublin employee is travelling for work?",
        ["30 EUR"],
    ),
    (
        "How long am I paid in full when I'm off sick, once I've passed probation?",
        "And during probation?",
        "How long am I paid in full when I'm off sick during probation?",
        ["5 working days"],
    ),
    (
        "How much is the monthly remote working allowance in Dublin?",
        "And in Manchester?",
        "How much is the monthly remote working allowance in Manchester?",
        ["26 GBP"],
    ),
    (
        "What is the mileage rate for Manchester staff who use their own car?",
        "And for Dublin staff?",
        "What is the mileage rate for Dublin staff who use their own car?",
        ["0.43 EUR"],
    ),
    (
        "How much partner leave do new fathers get?",
        "Is it paid?",
        "Is partner leave for new fathers paid?",
        ["full pay"],
    ),
    (
        "How many days of compassionate leave do I get if a parent dies?",
        "And for other relatives?",
        "How many days of compassionate leave do I get if another relative dies?",
        ["2 days"],
    ),
    (
        "What is the hotel limit per night in Dublin?",
        "What about New York?",
        "What is the hotel limit per night in New York?",
        ["320 USD"],
    ),
    (
        "How long is the probation period for new hires?",
        "Can it be extended?",
        "Can the probation period for new hires be extended?",
        ["3 months"],
    ),
    (
        "When do the offices reopen after the Christmas shutdown?",
        "And what about Friday 2 January 2026?",
        "What should I do about Friday 2 January 2026, when the office is still closed?",
        ["annual leave"],
    ),
]

# The previous approach (ragkit.conversation before the rewriter), kept here as the baseline.
_FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|then)\b"
    r"|\b(it|its|that|this|those|these|they|them|there)\b",
    re.IGNORECASE,
)


def concatenated(assistant: Assistant, previous: str, question: str) -> str:
    looks = len(question.split()) <= 5 or bool(_FOLLOW_UP.search(question))
    query = f"{previous} {question}" if looks else question
    return assistant.generator.generate(question, assistant.retrieve(query)).text


def holds(answer: str, facts: list[str]) -> bool:
    return all(fact.lower() in answer.lower() for fact in facts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="an index of sample_corpus (default: build)")
    args = parser.parse_args(argv)
    index = args.index
    if index is None:
        from ingest.pipeline import IngestOptions, ingest

        index = Path(tempfile.mkdtemp(prefix="bench-follow-up-")) / "index"
        ingest([REPO / "sample_corpus"], index, IngestOptions(progress=False))
    assistant = Assistant.from_index(index)
    assistant.warm_up()
    conditions = {
        "as asked": lambda p, q, h: assistant.ask(q).text,
        "concatenated": lambda p, q, h: concatenated(assistant, p, q),
        "rewritten": lambda p, q, h: assistant.ask(standalone(q, [p])).text,
        "by hand": lambda p, q, h: assistant.ask(h).text,
    }
    n = len(CONVERSATIONS)
    print(f"{n} held-out follow-ups over sample_corpus/ (default reader, bundled embedder)\n")
    print(f"{'condition':<14}{'holds the facts':>17}{'refused':>10}")
    marks: dict[str, list[str]] = {}
    for name, answer_with in conditions.items():
        answers = [answer_with(p, q, h) for p, q, h, _ in CONVERSATIONS]
        right = [holds(a, facts) for a, (*_, facts) in zip(answers, CONVERSATIONS, strict=True)]
        refused = [a == REFUSAL for a in answers]
        marks[name] = [
            "ok" if r else ("--" if x else "xx") for r, x in zip(right, refused, strict=True)
        ]
        print(f"{name:<14}{sum(right):>10} / {n:<4}{sum(refused):>8} / {n}")
    print("\nper follow-up (ok: holds the facts, --: refused, xx: wrong), then the rewrite")
    print("  " + " ".join(f"{name[:8]:>8}" for name in conditions))
    for i, (previous, question, _, _) in enumerate(CONVERSATIONS):
        row = " ".join(f"{marks[name][i]:>8}" for name in conditions)
        print(f"  {row}  {question!r} -> {standalone(question, [previous])!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
