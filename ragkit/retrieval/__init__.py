"""Retrieval: the chunks of an index that best answer a question, for the groups asking.

`HybridRetriever` fuses dense (FAISS) and BM25 search; `ragkit.retrieval.langchain.RagkitRetriever`
wraps it as a LangChain `BaseRetriever`. Importing this package loads neither torch, FAISS,
bm25s nor LangChain: they load when an index is opened or a query is embedded.
"""

from pathlib import Path
from typing import Any

from ragkit.retrieval.hybrid import HybridRetriever, RetrieverSettings

__all__ = ["HybridRetriever", "RetrieverSettings", "open_retriever"]


def open_retriever(spec: Path | str, embedder: Any = None) -> Any:
    """The retriever over the index a `--index`/`--store` value names: a folder (hybrid, in
    process, following re-ingests: `LiveRetriever`) or milvus:PATH.db / milvus://HOST:PORT
    (hybrid, inside Milvus)."""
    from ragkit.index.milvus_store import is_milvus

    if is_milvus(spec):
        from ragkit.retrieval.milvus import MilvusRetriever

        return MilvusRetriever.from_spec(str(spec), embedder)
    from ragkit.retrieval.live import LiveRetriever

    return LiveRetriever(Path(spec), embedder)
