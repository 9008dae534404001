"""Ingest: sync an index directory with a set of files and folders.

The index mirrors the given paths. A run hashes every file (cheap), compares with the
manifest, and only loads, chunks and embeds files that are new or changed; chunks of files
that disappeared are dropped; chunk texts already in the index keep their stored vectors.
When nothing changed, no model is loaded and nothing is written. A change of embedding
model or chunk settings makes the stored vectors meaningless, so the index is rebuilt.

A file that fails to load keeps whatever the index already held for it: a bad save of a
policy must not silently remove the good version from answers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ingest.chunking import ChunkSettings, chunk_document
from ingest.discover import Candidate, discover, read_regular_file
from ingest.loaders import load_file
from ragkit.errors import LoadError
from ragkit.index.embedding import DEFAULT_MODEL, Embedder, load_embedder
from ragkit.index.records import Chunk, sha256_hex
from ragkit.index.store import load_index, read_manifest, write_generation, writer_lock

Status = Literal["added", "updated", "unchanged", "removed", "failed", "skipped"]


@dataclass(frozen=True)
class IngestOptions:
    model: str = DEFAULT_MODEL
    groups: tuple[str, ...] = ()  # applied to every file of this run (--groups)
    passwords: tuple[str, ...] = ()  # tried on encrypted PDFs (--password-file)
    chunking: ChunkSettings = field(default_factory=ChunkSettings)
    max_file_mb: float = 100.0
    dry_run: bool = False
    progress: bool = True
    batch_size: int = 64


@dataclass(frozen=True)
class FileOutcome:
    source: str
    status: Status
    reason: str = ""
    chunks: int = 0
    warnings: tuple[str, ...] = ()  # non-fatal problems: a skipped page, bad JSONL lines


@dataclass
class IngestReport:
    index_dir: Path
    outcomes: list[FileOutcome] = field(default_factory=list)
    rebuild_reason: str = ""
    dry_run: bool = False
    written: bool = False
    chunks_total: int = 0
    embedded: int = 0  # chunk texts that went through the model in this run
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "index": str(self.index_dir),
            "dry_run": self.dry_run,
            "written": self.written,
            "rebuild_reason": self.rebuild_reason,
            "counts": {
                s: self.count(s)
                for s in ("added", "updated", "unchanged", "removed", "failed", "skipped")
            },
            "chunks_total": self.chunks_total,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "files": [{**vars(o), "warnings": list(o.warnings)} for o in self.outcomes],
        }


def index_fingerprint(embedder: Embedder, settings: ChunkSettings) -> dict[str, Any]:
    return {**embedder.fingerprint(), **settings.fingerprint()}


def ingest(
    paths: Sequence[Path],
    index_dir: Path,
    options: IngestOptions = IngestOptions(),
    *,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Bring `index_dir` in line with `paths`; see the module docstring."""
    started = time.perf_counter()
    index_dir = Path(index_dir)
    embedder = embedder or load_embedder(options.model)
    report = IngestReport(index_dir=index_dir, dry_run=options.dry_run)
    found = discover(paths, max_bytes=int(options.max_file_mb * 2**20))
    report.outcomes += [FileOutcome(src, "skipped", why) for src, why in found.skipped]

    if options.dry_run:
        _plan(found.candidates, index_dir, embedder, options, report)
        report.seconds = time.perf_counter() - started
        return report
    with writer_lock(index_dir):
        _sync(found.candidates, index_dir, embedder, options, report)
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Plan:
    fingerprint: dict[str, Any]
    previous: dict[str, Any]  # manifest files of the live index, {} when rebuilding
    changed: list[tuple[Candidate, bytes, str, tuple[str, ...]]]  # candidate, data, hash, groups
    unchanged: list[str]
    removed: list[str]


def _plan(
    candidates: Sequence[Candidate],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    report: IngestReport,
) -> _Plan:
    fingerprint = index_fingerprint(embedder, options.chunking)
    manifest = read_manifest(index_dir)
    previous: dict[str, Any] = {}
    if manifest is not None:
        if manifest.get("fingerprint") != fingerprint:
            report.rebuild_reason = _describe_change(manifest.get("fingerprint", {}), fingerprint)
        else:
            previous = manifest["files"]
    plan = _Plan(fingerprint, previous, [], [], [])
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.source in seen:
            report.outcomes.append(
                FileOutcome(candidate.source, "failed", "two inputs give the same source path")
            )
            continue
        seen.add(candidate.source)
        try:
            data = read_regular_file(candidate.path, int(options.max_file_mb * 2**20))
        except OSError as exc:
            reason = f"unreadable: {exc.strerror or exc}"
            report.outcomes.append(FileOutcome(candidate.source, "failed", reason))
            continue
        digest = sha256_hex(data)
        groups = tuple(sorted({*candidate.groups, *options.groups}))
        old = previous.get(candidate.source)
        if old and old["hash"] == digest and tuple(old.get("rule_groups", ())) == groups:
            plan.unchanged.append(candidate.source)
            report.outcomes.append(
                FileOutcome(candidate.source, "unchanged", chunks=len(old["chunk_ids"]))
            )
        else:
            plan.changed.append((candidate, data, digest, groups))
    plan.removed = sorted(set(previous) - seen)
    report.outcomes += [FileOutcome(src, "removed") for src in plan.removed]
    if options.dry_run:
        for candidate, _, _, _ in plan.changed:
            status: Status = "updated" if candidate.source in previous else "added"
            report.outcomes.append(FileOutcome(candidate.source, status))
    return plan


def _sync(
    candidates: Sequence[Candidate],
    index_dir: Path,
    embedder: Embedder,
    options: IngestOptions,
    report: IngestReport,
) -> None:
    plan = _plan(candidates, index_dir, embedder, options, report)
    if not plan.changed and not plan.removed and not report.rebuild_reason:
        report.chunks_total = sum(len(plan.previous[s]["chunk_ids"]) for s in plan.unchanged)
        return  # nothing to do: no model, no write

    snapshot = load_index(index_dir) if plan.previous else None
    old_chunks = {c.chunk_id: c for c in snapshot.chunks} if snapshot else {}
    old_vectors = snapshot.vectors_by_id() if snapshot else {}
    files: dict[str, Any] = {s: plan.previous[s] for s in plan.unchanged}
    new_chunks: dict[str, list[Chunk]] = {}
    for candidate, data, digest, groups in _progress(plan.changed, options, "reading"):
        outcome, entry, chunks = _load_and_chunk(candidate, data, digest, groups, embedder, options)
        if outcome.status == "failed" and candidate.source in plan.previous:
            files[candidate.source] = plan.previous[candidate.source]  # keep the last good version
            outcome = FileOutcome(
                outcome.source, "failed", outcome.reason + " (kept the indexed version)"
            )
        elif entry is not None:
            status: Status = "updated" if candidate.source in plan.previous else "added"
            outcome = FileOutcome(
                candidate.source, status, chunks=len(chunks), warnings=outcome.warnings
            )
            files[candidate.source] = entry
            new_chunks[candidate.source] = chunks
        report.outcomes.append(outcome)

    if plan.previous and not new_chunks and not plan.removed and not report.rebuild_reason:
        # Only failures again: the live generation already holds everything there is.
        report.chunks_total = sum(len(entry["chunk_ids"]) for entry in files.values())
        return
    ordered: list[Chunk] = []
    for source in sorted(files):
        if source in new_chunks:
            ordered += new_chunks[source]
        else:
            ordered += [old_chunks[cid] for cid in files[source]["chunk_ids"]]
    to_embed = [c for c in ordered if c.chunk_id not in old_vectors]
    fresh = _embed(to_embed, embedder, options)
    vectors_by_id = {**old_vectors, **{c.chunk_id: fresh[i] for i, c in enumerate(to_embed)}}
    dim = int(fresh.shape[1]) if len(to_embed) else (snapshot.vectors_index.d if snapshot else 1)
    matrix = (
        np.stack([vectors_by_id[c.chunk_id] for c in ordered])
        if ordered
        else np.zeros((0, dim), dtype=np.float32)
    )
    manifest = {"fingerprint": plan.fingerprint, "files": files, "dim": dim}
    write_generation(index_dir, manifest, ordered, matrix)
    report.written = True
    report.embedded = len(to_embed)
    report.chunks_total = len(ordered)


def _load_and_chunk(
    candidate: Candidate,
    data: bytes,
    digest: str,
    groups: tuple[str, ...],
    embedder: Embedder,
    options: IngestOptions,
) -> tuple[FileOutcome, dict[str, Any] | None, list[Chunk]]:
    warnings: list[str] = []
    try:
        documents = load_file(
            candidate.path, candidate.source, passwords=options.passwords, warnings=warnings
        )
    except LoadError as exc:
        return FileOutcome(candidate.source, "failed", exc.reason), None, []
    chunks: list[Chunk] = []
    for doc in documents:
        doc_groups = tuple(sorted({*groups, *doc.groups}))
        chunks += chunk_document(
            doc,
            count_tokens=embedder.count_tokens,
            max_tokens=embedder.max_tokens,
            settings=options.chunking,
            doc_hash=digest,
            groups=doc_groups,
        )
    if not chunks:
        return FileOutcome(candidate.source, "failed", "no text to index"), None, []
    first = documents[0]
    entry = {
        "hash": digest,
        # Where the original lives, so a citation can open it (GET /v1/documents/{source}).
        "path": str(candidate.path.resolve()),
        "size": len(data),
        "title": first.title if len(documents) == 1 else candidate.path.name,
        "documents": len(documents),
        "pages": first.pages if len(documents) == 1 else None,
        "rule_groups": list(groups),
        "groups": sorted({g for c in chunks for g in c.groups}),
        "chunk_ids": [c.chunk_id for c in chunks],
        "ingested_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    outcome = FileOutcome(candidate.source, "added", chunks=len(chunks), warnings=tuple(warnings))
    return outcome, entry, chunks


def _embed(chunks: Sequence[Chunk], embedder: Embedder, options: IngestOptions) -> np.ndarray:
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    texts = [c.embedding_text for c in chunks]
    step = max(options.batch_size * 4, 1)  # a few batches per call, so the bar moves
    parts = []
    with _progress(None, options, "embedding", unit="chunk", total=len(texts)) as bar:
        for i in range(0, len(texts), step):
            parts.append(embedder.embed(texts[i : i + step], batch_size=options.batch_size))
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def _progress(items: Any, options: IngestOptions, label: str, **kwargs: Any) -> Any:
    from tqdm import tqdm

    # disable=None: a bar on a terminal, silence in logs and CI.
    disable = None if options.progress else True
    return tqdm(items, desc=label, unit=kwargs.pop("unit", "file"), disable=disable, **kwargs)


def _describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    changes = [
        f"{key} {old.get(key)!r} -> {new.get(key)!r}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]
    return "settings changed (" + ", ".join(changes) + "): rebuilding the whole index"
