"""Retrieval: the chunks of an index that best answer a question, for the groups asking.

`HybridRetriever` fuses dense (FAISS) and BM25 search; `ragkit.retrieval.langchain.RagkitRetriever`
wraps it as a LangChain `BaseRetriever`. Importing this package loads neither torch, FAISS,
bm25s nor LangChain: they load when an index is opened or a query is embedded.
"""

from ragkit.retrieval.hybrid import HybridRetriever, RetrieverSettings

__all__ = ["HybridRetriever", "RetrieverSettings"]
