"""ragkit: offline question answering over an organisation's documents, with citations.

Importing this package is cheap: heavy libraries (torch, transformers, faiss,
sentence-transformers, langchain) load only when a function that needs them runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "build_chain", "load_chain"]

if TYPE_CHECKING:  # pragma: no cover
    from ragkit.chain import build_chain, load_chain


def __getattr__(name: str) -> Any:
    # Lazy attribute access keeps `import ragkit` fast (PEP 562).
    if name in ("build_chain", "load_chain"):
        from ragkit import chain

        return getattr(chain, name)
    raise AttributeError(f"module 'ragkit' has no attribute {name!r}")
