"""Ingestion: documents -> structure-aware chunks -> embeddings -> a FAISS index on disk.

    from ingest import ingest, IngestOptions
    report = ingest([Path("policies")], Path(".index"), IngestOptions(groups=("hr",)))

Submodules load lazily; the heavy ones (faiss, torch) only when a run needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ingest.pipeline import IngestOptions, IngestReport, ingest

__all__ = ["IngestOptions", "IngestReport", "ingest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ingest import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
