"""File loaders: one module per format, chosen by file suffix.

`load_file` is the only entry point the pipeline needs. Format modules are imported on first
use, so importing this package stays cheap (pypdf, python-docx and BeautifulSoup load only
when a file of that type turns up). Every per-file problem surfaces as a one-line `LoadError`;
non-fatal ones (a skipped PDF page, bad JSONL lines) go to `warnings` when the caller passes a
list, else to the "ingest.loaders" logger.

Each loader has a version (`LOADER_VERSIONS`); the index records, per file, the loader and
version that extracted it (`loader_of`), so a sync re-extracts exactly the files whose loader
changed since (ingest.pipeline).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

from ingest.loaders.base import LoadOptions, log
from ragkit.errors import LoadError
from ragkit.index.records import Document

__all__ = [
    "LOADER_VERSIONS",
    "SUPPORTED_SUFFIXES",
    "load_file",
    "loader_change",
    "loader_of",
    "unsupported_reason",
]

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

# The version of each loader's output. BUMP a loader's number in the same commit as any change
# that makes it extract something different from the same bytes: text, blocks, headings,
# tables, pages, title, declared groups or language (a fix to the PDF running-footer rule, to
# HTML boilerplate removal, to OCR...). A change in a module it uses counts (base.py: every
# loader using the changed function; pdf_*.py, OCR included: "pdf"; markdown.declared_language:
# "markdown" and "jsonl"). The index records per file the version that extracted it, and the
# next sync re-extracts (re-chunks, re-embeds changed texts of) exactly the files of a bumped
# loader; without a bump, indexes keep the old extraction of unchanged files forever.
# tests/test_loader_versions.py fails when a loader's output on its fixture changes unbumped.
LOADER_VERSIONS: dict[str, int] = {
    "docx": 1,
    "html": 1,
    "jsonl": 1,
    "markdown": 1,
    "pdf": 1,
    "text": 1,
}
_LABELS = {
    "docx": "DOCX",
    "html": "HTML",
    "jsonl": "JSONL",
    "markdown": "Markdown",
    "pdf": "PDF",
    "text": "text",
}


def unsupported_reason(suffix: str) -> str:
    named = f"'{suffix}'" if suffix else "(no extension)"
    return f"unsupported file type {named} (supported: {', '.join(SUPPORTED_SUFFIXES)})"


def loader_of(suffix: str) -> dict[str, object] | None:
    """The loader that reads files with `suffix` (".pdf") and its version, as the manifest
    records it per file: {"format": "pdf", "version": 1}; None for an unsupported suffix."""
    name = _MODULES.get(suffix.lower())
    return None if name is None else {"format": name, "version": LOADER_VERSIONS[name]}


def loader_change(old: object, new: dict[str, object]) -> str:
    """Why a file is re-extracted, from the loader record the manifest holds for it (`old`:
    None for an index written before loader versions) and `loader_of` now (`new`):
    "the PDF loader changed (version 1 -> 2)"."""
    label = _LABELS.get(str(new["format"]), str(new["format"]))
    if not isinstance(old, dict) or "format" not in old:
        return "no loader version recorded (an index written by an older ragkit; once only)"
    if old["format"] == new["format"]:
        return f"the {label} loader changed (version {old.get('version')} -> {new['version']})"
    was = _LABELS.get(str(old["format"]), str(old["format"]))
    return f"now read by the {label} loader, not the {was} loader"


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
