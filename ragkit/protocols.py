"""The seams of the question path, as small `typing.Protocol`s.

    question ── Retriever.retrieve ──> list[Hit] ── Generator.generate ──> Answer
                                                 └─ Generator.stream_answer ──> str... Answer

Backends implement them structurally (no base class): `HybridRetriever` (dense + BM25),
`ExtractiveGenerator`, `HFGenerator`, `ChatModelGenerator`, and anything an app writes. The
index core's own seams (`Embedder`, `IndexStore`, `IndexSnapshot`) live in
`ragkit.index.protocols` and are re-exported here so one import names them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from ragkit.index.protocols import Embedder, IndexSnapshot, IndexStore
from ragkit.types import Answer, Hit

__all__ = ["Embedder", "Generator", "IndexSnapshot", "IndexStore", "Retriever"]


@runtime_checkable
class Retriever(Protocol):
    """Question -> the k chunks that best answer it, among those `groups` may read."""

    def retrieve(
        self, question: str, *, k: int = 5, groups: frozenset[str] = frozenset()
    ) -> list[Hit]:
        """At most k hits, best first, ranks 1..k; [] for an empty question or nothing readable.

        A chunk outside `groups`' view never takes a place or shifts a score. Raises
        UsageError for k < 1.
        """
        ...


@runtime_checkable
class Generator(Protocol):
    """Question + retrieved hits -> a cited Answer, or an abstention."""

    name: str

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        """A grounded answer whose citations quote the hits verbatim, or `abstained=True` with
        `ragkit.types.REFUSAL`. `Answer.passages` is `hits`."""
        ...

    def stream_answer(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Text pieces as they are produced (joining to the answer's text), then the Answer."""
        ...
