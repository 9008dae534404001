"""LangChain adapter: any ragkit `Retriever` as a `BaseRetriever`, usable in LCEL chains.

    from ragkit.retrieval import HybridRetriever
    from ragkit.retrieval.langchain import RagkitRetriever

    docs = RagkitRetriever(retriever=HybridRetriever.from_index(".index"), k=4).invoke("sick pay?")

Each Document's metadata carries what a citation needs: chunk_id, source, page, section,
the fused score and the chunk's groups. The access groups are fixed per adapter instance,
so one adapter serves one asker (or one role); the core never sees LangChain types.
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from ragkit.protocols import Retriever
from ragkit.types import Hit


class RagkitRetriever(BaseRetriever):
    """`invoke(question)` -> the k best readable chunks as LangChain Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = Field(default=5, ge=1)
    groups: frozenset[str] = frozenset()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.retriever.retrieve(query, k=self.k, groups=self.groups)
        return [hit_to_document(hit) for hit in hits]


def hit_to_document(hit: Hit) -> Document:
    chunk = hit.chunk
    return Document(
        page_content=chunk.text,
        id=chunk.chunk_id,
        metadata={
            "chunk_id": chunk.chunk_id,
            "source": chunk.source,
            "page": chunk.page,
            "section": chunk.section,
            "score": hit.score,
            "groups": list(chunk.groups),
        },
    )
