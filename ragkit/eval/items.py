"""The records every dataset format is read into, and how gold sources match indexed chunks.

Readers (`ragkit.eval.formats`, `ragkit.eval.squad`) produce an `EvalDataset` of `EvalItem`s
whose gold sources are `Gold` documents; the runner, the metrics and the coverage warnings only
ever see these. The formats name documents differently (a path relative to the ingest root, a
bare file name, a record id after `#`), so each dataset carries its `MatchMode` and every
comparison of a gold document with a chunk source goes through `doc_matches`.

A module of its own so that the readers and the dispatch in `ragkit.eval.datasets` can both
import it without importing each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ragkit.index.records import Chunk

MatchMode = Literal["path", "basename", "doc_id"]


@dataclass(frozen=True)
class Gold:
    """A relevant document (path, file name or record id), optionally one page of it."""

    doc: str
    page: int | None = None
    relevance: int = 1

    @property
    def key(self) -> str:
        return self.doc if self.page is None else f"{self.doc}#page={self.page}"


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    gold: tuple[Gold, ...] = ()
    answerable: bool = True
    must_contain: tuple[str, ...] = ()
    passages: tuple[str, ...] = ()  # gold passage text, when the dataset carries it (SQuAD)


@dataclass(frozen=True)
class Problem:
    where: str  # "line 7", "qrels/test.tsv line 3", "data[0].paragraphs[2].qas[1]"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class EvalDataset:
    path: Path
    format: str
    items: list[EvalItem]
    match: MatchMode
    problems: list[Problem] = field(default_factory=list)
    retrieval_only: bool = False  # no answers to grade (BEIR)
    paragraphs: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # SQuAD: id -> (title, text)

    @property
    def gold_docs(self) -> set[str]:
        return {gold.doc for item in self.items for gold in item.gold}

    def sha256(self) -> str:
        """Digest of the dataset's files, so a resumed run can tell the dataset changed."""
        digest = hashlib.sha256()
        files = [self.path] if self.path.is_file() else beir_files(self.path)
        for path in files:
            digest.update(path.read_bytes())
        return digest.hexdigest()


def beir_files(folder: Path, split: str = "test") -> list[Path]:
    """The files a BEIR dataset's questions and judgements are read from (not the corpus)."""
    return [folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]


# ---------------------------------------------------------------------------- matching


def doc_key(source: str, mode: MatchMode) -> str:
    """A chunk source as the dataset names documents."""
    if mode == "basename":
        return source.rsplit("/", 1)[-1]
    if mode == "doc_id":
        return source.split("#", 1)[1] if "#" in source else source
    return source


def doc_matches(gold_doc: str, source: str, mode: MatchMode) -> bool:
    """Whether a chunk source is the gold document.

    Paths match when equal or when one ends with the other at a '/' boundary, so an index
    built from a parent folder (`corpus/leave/a.md`) still matches `leave/a.md`.
    """
    if mode != "path":
        return doc_key(source, mode) == doc_key(gold_doc, mode)
    return source == gold_doc or source.endswith("/" + gold_doc) or gold_doc.endswith("/" + source)


def chunk_matches(gold: Gold, chunk: Chunk, mode: MatchMode) -> bool:
    """Document-level match, and page-level when the gold names a page."""
    if not doc_matches(gold.doc, chunk.source, mode):
        return False
    if gold.page is None:
        return True
    if chunk.page is None:
        return False
    return chunk.page <= gold.page <= (chunk.page_end or chunk.page)
