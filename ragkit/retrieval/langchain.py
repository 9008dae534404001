"""LangChain adapters at the edge: a ragkit `Retriever` as a `BaseRetriever`, the index's
embedder as `Embeddings`, and the conversions between `Hit` and LangChain `Document`.

    from ragkit.retrieval import HybridRetriever
    from ragkit.retrieval.langchain import RagkitEmbeddings, RagkitRetriever

    docs = RagkitRetriever(retriever=HybridRetriever.from_index(".index"), k=4).invoke("sick pay?")
    vector = RagkitEmbeddings.from_index(".index").embed_query("sick pay?")  # list[float]

Each Document's metadata carries what a citation needs: chunk_id, source, title, page,
section (and its headings), the fused score, the rank and the chunk's groups. The adapter's
`k` and `groups` are defaults; one call may override them (`invoke(q, k=3, groups=[...])`),
which is how the chain passes a request's own access groups. The core never sees LangChain
types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, field_validator

from ragkit.access import check_groups
from ragkit.errors import IndexStoreError
from ragkit.index.protocols import Embedder
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.index.vector_cache import cache_view
from ragkit.protocols import Retriever
from ragkit.types import Hit


class RagkitRetriever(BaseRetriever):
    """`invoke(question)` -> the k best readable chunks as LangChain Documents, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = Field(default=5, ge=1)
    groups: frozenset[str] = frozenset()

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> frozenset[str]:
        return check_groups(value)  # "managers" is one group, not eight letters

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        groups: Iterable[str] | None = None,
    ) -> list[Document]:
        asker = self.groups if groups is None else check_groups(groups)
        with cache_view(asker):  # embedding caches are kept apart per asker's groups
            hits = self.retriever.retrieve(query, k=self.k if k is None else k, groups=asker)
        return [hit_to_document(hit) for hit in hits]


def hit_to_document(hit: Hit) -> Document:
    chunk = hit.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "chunk_id": chunk.chunk_id,
            "source": chunk.source,
            "title": chunk.title,
            "sources": list(chunk.sources),
            "page": chunk.page,
            "section": chunk.section,
            "headings": list(chunk.headings),
            "score": hit.score,
            "rank": hit.rank,
            "groups": list(chunk.groups),
        },
    )


def document_to_hit(document: Document, rank: int) -> Hit:
    """A Document from any LangChain retriever as a Hit; missing metadata gets neutral values
    (source "", no page, no section, score 0, the id derived from source and text)."""
    meta = document.metadata
    text = document.page_content
    source = str(meta.get("source") or "")
    headings = meta.get("headings")
    if headings is None:
        section = str(meta.get("section") or "")
        headings = section.split(" > ") if section else []
    page = meta.get("page")
    chunk = Chunk(
        chunk_id=str(meta.get("chunk_id") or document.id or chunk_id_for(source, text)),
        source=source,
        title=str(meta.get("title") or ""),
        text=text,
        start=0,
        end=len(text),
        page=page if isinstance(page, int) else None,
        headings=tuple(str(h) for h in headings),
        doc_hash="",
        groups=tuple(meta.get("groups") or ()),
    )
    score = meta.get("score")
    return Hit(chunk, float(score) if score is not None else 0.0, rank)


def documents_to_hits(documents: Sequence[Document]) -> list[Hit]:
    """Documents in retrieval order -> hits ranked 1..n."""
    return [document_to_hit(doc, rank) for rank, doc in enumerate(documents, start=1)]


class RagkitEmbeddings(Embeddings):
    """The index's embedding model as LangChain `Embeddings`, for other LangChain components.

    `embed_documents(texts)` -> one list of `dim` floats per text; `embed_query(text)` -> one
    list. Vectors are L2-normalised (cosine = dot product), the same ones the index holds for
    the same text. Questions and documents share one encoder (all-MiniLM-L6-v2 has no query
    prefix). Index chunks are embedded under their title and heading path
    (`Chunk.embedding_text`); pass that form to reproduce a stored vector.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    @classmethod
    def from_index(cls, index_dir: Path | str) -> RagkitEmbeddings:
        """The model the index at `index_dir` was built with (no weights load until first use).
        Raises IndexStoreError when there is no index or it does not record its model."""
        from ragkit.index.embedding import load_embedder
        from ragkit.index.store import read_head

        manifest = read_head(Path(index_dir))
        model = ((manifest or {}).get("fingerprint") or {}).get("model")
        if not model:
            raise IndexStoreError(
                f"no index with a recorded embedding model at {index_dir}: "
                "build one with `ragkit ingest DOCS --index DIR`"
            )
        return cls(load_embedder(model))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors: list[list[float]] = self.embedder.embed(texts).tolist()  # (n, dim)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def __repr__(self) -> str:
        model: Any = getattr(self.embedder, "model_id", type(self.embedder).__name__)
        return f"RagkitEmbeddings({model})"
