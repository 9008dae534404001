"""File loaders: one module per format, chosen by file suffix.

`load_file` is the only entry point the pipeline needs. Format modules are imported on first
use, so importing this package stays cheap (pypdf, python-docx and BeautifulSoup load only
when a file of that type turns up). Every per-file problem surfaces as a one-line `LoadError`;
non-fatal ones (a skipped PDF page, bad JSONL lines) go to `warnings` when the caller passes a
list, else to the "ingest.loaders" logger.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from ingest.loaders.base import LoadOptions, log
from ragkit.errors import LoadError
from ragkit.index.records import Document

__all__ = ["SUPPORTED_SUFFIXES", "load_file", "unsupported_reason"]

_MODULES = {
    ".pdf": "pdf",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".jsonl": "jsonl",
}
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_MODULES))


def unsupported_reason(suffix: str) -> str:
    named = f"'{suffix}'" if suffix else "(no extension)"
    return f"unsupported file type {named} (supported: {', '.join(SUPPORTED_SUFFIXES)})"


def load_file(
    path: Path,
    source: str,
    *,
    passwords: Sequence[str] = (),
    warnings: list[str] | None = None,
) -> list[Document]:
    """Load one file into Documents (one per file; one per record for .jsonl).

    `source` is the path relative to the ingest root with forward slashes. `passwords` are
    tried in turn on encrypted PDFs. Raises LoadError for anything that stops this file loading.
    """
    suffix = path.suffix.lower()
    module_name = _MODULES.get(suffix)
    if module_name is None:
        raise LoadError(source, unsupported_reason(suffix))

    def warn(message: str) -> None:
        if warnings is None:
            log.warning("%s: %s", source, message)
        else:
            warnings.append(message)

    options = LoadOptions(passwords=tuple(passwords), warn=warn)
    module = importlib.import_module(f"ingest.loaders.{module_name}")
    try:
        return module.load(path, source, options)
    except LoadError:
        raise
    except OSError as exc:
        raise LoadError(source, f"cannot read the file: {exc.strerror or exc}") from exc
    except Exception as exc:
        # One malformed file must not stop an ingest of thousands: report it and go on. The
        # cause stays chained for debugging.
        detail = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise LoadError(
            source, f"could not parse the {suffix} file ({type(exc).__name__}: {detail})"
        ) from exc
