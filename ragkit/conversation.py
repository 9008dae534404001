"""A conversation with history: each follow-up is rewritten into a standalone question
(`ragkit.followup`), and that question is both searched and answered.

    conversation = Conversation(assistant)
    conversation.ask("How many days of annual leave do employees in the Germany office get?")
    turn = conversation.ask("And in the United Kingdom office?")
    turn.standalone
    # "How many days of annual leave do employees in the United Kingdom office get?"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ragkit.assistant import Assistant, check_question
from ragkit.followup import standalone
from ragkit.types import Answer


@dataclass(frozen=True)
class Turn:
    question: str  # as asked
    standalone: str  # what was searched and answered
    answer: Answer

    def to_json(self) -> dict[str, Any]:
        """The answer's JSON with "question" and "standalone_question" in front."""
        return {
            "question": self.question,
            "standalone_question": self.standalone,
            **self.answer.to_json(),
        }


@dataclass
class Conversation:
    assistant: Assistant
    history: list[Turn] = field(default_factory=list)

    def standalone(self, question: str) -> str:
        """`question` as it reads on its own after this conversation's earlier turns."""
        previous = [turn.standalone for turn in self.history[-1:]]
        return standalone(check_question(question), previous)

    def ask(self, question: str) -> Turn:
        question = check_question(question)
        rewritten = self.standalone(question)
        turn = Turn(question, rewritten, self.assistant.ask(rewritten))
        self.history.append(turn)
        return turn
