"""The documents in an index, as an asker with given access groups may see them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ragkit.errors import IndexStoreError
from ragkit.index.records import readable_by
from ragkit.index.store import open_store


@dataclass(frozen=True)
class SourceInfo:
    source: str
    title: str
    pages: int | None
    chunks: int
    groups: tuple[str, ...]
    ingested_at: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "groups": list(self.groups)}


def list_sources(index_dir: Path | str, groups: frozenset[str] = frozenset()) -> list[SourceInfo]:
    """Documents readable with `groups`; restricted ones are not listed, not even counted."""
    store = open_store(index_dir)
    manifest = store.read_manifest()
    if manifest is None:
        store.load()  # raises the right "no index" message
        raise IndexStoreError(f"{index_dir} holds no index")
    return sources_in(manifest, groups)


def sources_in(manifest: dict[str, Any], groups: frozenset[str] = frozenset()) -> list[SourceInfo]:
    """The documents of one generation's manifest readable with `groups`."""
    rows = []
    for source, entry in sorted(manifest["files"].items()):
        doc_groups = tuple(entry.get("groups", ()))
        if not readable_by(doc_groups, groups):
            continue
        rows.append(
            SourceInfo(
                source=source,
                title=entry.get("title", source),
                pages=entry.get("pages"),
                chunks=len(entry.get("chunk_ids", ())),
                groups=doc_groups,
                ingested_at=entry.get("ingested_at", ""),
            )
        )
    return rows
