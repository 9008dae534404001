"""The retriever of a long-lived process: always the index's live generation, swapped atomically.

A server, a chat session or an app holding the LangChain chain outlives many `ragkit
ingest` runs. `LiveRetriever` reads the index's CURRENT pointer before each question (one
small file read); when a writer has made a new generation live, it loads that snapshot, builds
a fresh `HybridRetriever` over it, and swaps the pair in under a lock. Each question is
answered by one (snapshot, retriever) pair from start to end, so its hits, the answer quoting
them, its citations and a `/v1/sources` listing taken after it all come from one generation:
a document restricted or deleted by the last ingest is never quoted once the pointer names
the generation without it.

Questions that arrive while the new generation loads wait for it rather than read the old one
(tens of ms to a second for 10,000 chunks: the BM25 matrix is rebuilt). A generation built
with another embedding model gets that model loaded; the same model's embedder is reused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from ragkit.index.embedding import Embedder
from ragkit.index.records import Chunk
from ragkit.index.store import IndexSnapshot, live_generation_name, load_index
from ragkit.retrieval.hybrid import HybridRetriever, RetrieverSettings
from ragkit.types import Hit


@dataclass(frozen=True)
class Loaded:
    """One generation as a process serves it: the snapshot and the retriever built over it."""

    snapshot: IndexSnapshot
    retriever: HybridRetriever


class LiveRetriever:
    """A `Retriever` over whatever generation of `index_dir` is live when a question arrives."""

    def __init__(
        self,
        index_dir: Path | str,
        embedder: Embedder | None = None,
        settings: RetrieverSettings = RetrieverSettings(),  # noqa: B008 (frozen)
    ) -> None:
        self.index_dir = Path(index_dir)
        self.settings = settings
        self._lock = threading.Lock()
        self._loaded = self._load(embedder)
        self.reloads = 0  # generations swapped in after the first: for tests and logs

    def current(self) -> Loaded:
        """The live generation's (snapshot, retriever), loading it first if a writer swapped."""
        with self._lock:
            if live_generation_name(self.index_dir) != self._loaded.snapshot.path.name:
                self._loaded = self._load(self._loaded.retriever.embedder)
                self.reloads += 1
            return self._loaded

    def retrieve(
        self, question: str, *, k: int = 5, groups: frozenset[str] = frozenset()
    ) -> list[Hit]:
        return self.current().retriever.retrieve(question, k=k, groups=groups)

    def snapshot(self) -> IndexSnapshot:
        """The generation the next question will be answered from."""
        return self.current().snapshot

    def warm_up(self) -> None:
        self.current().retriever.warm_up()

    @property
    def embedder(self) -> Embedder:
        return self._loaded.retriever.embedder

    @property
    def chunks(self) -> list[Chunk]:
        """Every live chunk of the current generation (reads the whole store: small tools)."""
        return self.current().snapshot.live_chunks()

    def _load(self, embedder: Embedder | None) -> Loaded:
        snapshot = load_index(self.index_dir)  # retries by itself across a swap
        if embedder is not None and embedder.fingerprint().get("model") != (
            snapshot.fingerprint.get("model")
        ):
            embedder = None  # rebuilt with another model: load that one
        return Loaded(snapshot, HybridRetriever.from_snapshot(snapshot, embedder, self.settings))
