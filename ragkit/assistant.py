"""The assistant: retrieve passages for a question, then generate a grounded answer.

This is the core that the CLI, the HTTP server and the evaluation harness call with the
project's own types. `ragkit.chain.load_chain` wraps it as a LangChain Runnable for apps.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.access import check_groups
from ragkit.errors import UsageError
from ragkit.index.vector_cache import cache_view
from ragkit.protocols import Generator, Retriever
from ragkit.types import Answer, Hit

MAX_QUESTION_CHARS = 4000  # a question, not a document: longer input is almost always a paste error
MAX_K = 50


def check_question(question: Any) -> str:
    if not isinstance(question, str):
        raise UsageError(f"a question must be text, not {type(question).__name__}")
    text = question.strip()
    if not text:
        raise UsageError("the question is empty: ask something, e.g. 'How many days of leave?'")
    if len(text) > MAX_QUESTION_CHARS:
        raise UsageError(
            f"the question is {len(text):,} characters; the limit is {MAX_QUESTION_CHARS:,}: "
            "ask a shorter question"
        )
    return text


def check_k(k: Any) -> int:
    try:
        if isinstance(k, bool):
            raise TypeError
        k = operator.index(k)  # int, numpy integers; not 2.5, "5" or None
    except TypeError:
        raise UsageError(
            f"k must be a whole number from 1 to {MAX_K}, not {type(k).__name__}"
        ) from None
    if not 1 <= k <= MAX_K:
        raise UsageError(f"-k {k} is out of range: use 1 to {MAX_K}")
    return k


@dataclass
class Assistant:
    retriever: Retriever
    generator: Generator
    k: int = 5
    groups: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.groups = check_groups(self.groups)

    @classmethod
    def from_index(
        cls,
        index_dir: Path | str,
        *,
        llm: str = "extractive",
        k: int = 5,
        groups: Sequence[str] = (),
        adapter: Path | str | None = None,
        system_prompt: Path | str | None = None,
    ) -> Assistant:
        from ragkit.generators.registry import load_generator
        from ragkit.retrieval import open_retriever

        retriever = open_retriever(index_dir)
        generator = load_generator(
            llm, embedder=retriever.embedder, adapter=adapter, system_prompt=system_prompt
        )
        return cls(retriever, generator, check_k(k), check_groups(groups))

    def warm_up(self) -> None:
        """Load every model now, for a long-lived process (server, chat, batch, evaluation).

        A single cold question is fastest on the numpy encoder, which needs no torch import;
        once many questions follow, the bulk encoder pays for its loading (about 2x faster
        per call), and the first answer no longer waits for weights.
        """
        # warm_up is optional on both seams: a remote retriever or model has nothing to load.
        for part in (self.retriever, self.generator):
            warm_up = getattr(part, "warm_up", None)
            if warm_up is not None:
                warm_up()

    def retrieve(
        self, question: str, *, k: int | None = None, groups: Sequence[str] | None = None
    ) -> list[Hit]:
        question = check_question(question)
        asker = self.groups if groups is None else check_groups(groups)
        with cache_view(asker):
            return self.retriever.retrieve(
                question, k=check_k(k if k is not None else self.k), groups=asker
            )

    def ask(
        self, question: str, *, k: int | None = None, groups: Sequence[str] | None = None
    ) -> Answer:
        hits = self.retrieve(question, k=k, groups=groups)
        with cache_view(self.groups if groups is None else check_groups(groups)):
            return self.generator.generate(question.strip(), hits)

    def ungrounded(self, question: str) -> Answer:
        """The generator with no passages: what it says from its own knowledge, if any."""
        with cache_view(self.groups):
            return self.generator.generate(check_question(question), [])

    def stream(
        self, question: str, *, k: int | None = None, groups: Sequence[str] | None = None
    ) -> Iterator[list[Hit] | str | Answer]:
        """Yields the hits, then answer text pieces as they are generated, then the Answer."""
        hits = self.retrieve(question, k=k, groups=groups)
        yield hits
        asker = self.groups if groups is None else check_groups(groups)
        pieces = self.generator.stream_answer(question.strip(), hits)
        try:
            while True:  # the view is entered per step: each may run in another worker thread
                with cache_view(asker):
                    piece = next(pieces, None)
                if piece is None:
                    return
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:  # a client that hung up stops the generation too
                close()
