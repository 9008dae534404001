"""A conversation with history: follow-up questions are read in the light of the last one.

"And for part-timers?" retrieves nothing useful on its own. When a question looks like a
follow-up (short, or leaning on a pronoun), retrieval also sees the previous question, so the
topic carries over; the generator still answers the question as asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ragkit.assistant import Assistant, check_question
from ragkit.types import Answer

_FOLLOW_UP = re.compile(
    r"^(and|but|also|what about|how about|then)\b"
    r"|\b(it|its|that|this|those|these|they|them|there)\b",
    re.IGNORECASE,
)
SHORT_QUESTION_WORDS = 5


def looks_like_follow_up(question: str) -> bool:
    return len(question.split()) <= SHORT_QUESTION_WORDS or bool(_FOLLOW_UP.search(question))


@dataclass
class Conversation:
    assistant: Assistant
    history: list[tuple[str, Answer]] = field(default_factory=list)

    def retrieval_query(self, question: str) -> str:
        if self.history and looks_like_follow_up(question):
            previous, _ = self.history[-1]
            return f"{previous} {question}"
        return question

    def ask(self, question: str) -> Answer:
        question = check_question(question)
        hits = self.assistant.retrieve(self.retrieval_query(question))
        answer = self.assistant.generator.generate(question, hits)
        self.history.append((question, answer))
        return answer
