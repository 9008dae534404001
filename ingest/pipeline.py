"""Ingest: sync an index directory with a set of files and folders.

The index remembers the roots it was built from (`ingest.roots`): a run syncs the paths it
is given (or, with none, every remembered root), removing only files that disappeared from
inside those paths. A run compares each file's stat stamp (size, mtime, ctime, inode) with
the one recorded when it was last read, and hashes only files whose stamp differs (see
`_stamp`); it then loads, chunks and embeds only files whose content or access rules
changed. A stored vector is reused when the
exact text that was embedded (context line + text) is unchanged, so renaming a title or a
heading re-embeds the chunks under it. When nothing changed, no model is loaded and nothing
is written. The index records per file the loader version that extracted it
(`ingest.loaders.LOADER_VERSIONS`): an unchanged file whose loader changed since (or with no
record: an index from an older ragkit) is re-extracted and re-chunked, reusing the stored
vector of every chunk text that came out the same, and the report says why. A change of
embedding model or chunk settings makes the stored vectors
meaningless, so the index is rebuilt (from the given paths and every remembered root).
Settings a run does not give (`IngestOptions.model` or `chunking` left None) are the ones the
index was built with, so a plain re-sync never rebuilds with defaults; only an explicitly
different value does.

`ragkit remove` (remove_sources) records each removed file's path in the manifest
(`excluded`): later syncs of the folder holding it skip it (reported as skipped), so a removal
lasts; `ragkit ingest` given that file itself brings it back.

Access never widens silently:
- A run that would let more people read any file than before (new groups, or public where
  it was restricted) stops before writing and lists those files, unless `allow_widen`.
- A file that fails to load keeps its indexed version only when that cannot be wider than
  the new rules: a Markdown file can declare its own groups, so when it fails its old chunks
  are dropped; other formats keep their old chunks restricted to the most restrictive of the
  old and new groups (dropped when those share no group). Files whose access rule file
  cannot be read fail, and their old chunks are dropped.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ingest import dedup
from ingest.chunking import ChunkSettings, chunk_document
from ingest.discover import Candidate, Scope, discover, most_restrictive, read_regular_file
from ingest.loaders import load_file, loader_change, loader_of
from ingest.roots import covers, plan_scopes, relocated
from ragkit.errors import ConfigError, LoadError, NothingToIndex, UsageError
from ragkit.index.embedding import DEFAULT_MODEL, Embedder, load_embedder
from ragkit.index.protocols import IndexSnapshot, IndexStore
from ragkit.index.records import Chunk, sha256_hex
from ragkit.index.segment import BM25_ANALYSER
from ragkit.index.store import LocalIndexStore, check_index_folder, open_store

# Formats whose files can declare their own access groups (front matter). When one fails to
# load, its new groups are unknown, so its old chunks cannot be kept.
_SELF_DECLARING = (".md", ".markdown")


class AccessWideningError(UsageError):
    """A run would let more people read some files than before; nothing was written."""


Status = Literal["added", "updated", "unchanged", "removed", "failed", "skipped"]


@dataclass(frozen=True)
class IngestOptions:
    # None: the model the index was built with (DEFAULT_MODEL for a new index). A different
    # value rebuilds a local index (a Milvus collection refuses it).
    model: str | None = None
    # Applied to every file of this run (--groups); None: each root's remembered groups.
    groups: tuple[str, ...] | None = None
    allow_widen: bool = False  # let this run make files readable by more people
    passwords: tuple[str, ...] = ()  # tried on encrypted PDFs (--password-file)
    chunking: ChunkSettings | None = None  # None: the index's chunk size, else ChunkSettings()
    max_file_mb: float = 100.0
    dry_run: bool = False
    # Read every file of the run again, as if its loader had changed (--re-extract): for a
    # dependency upgrade that extracts differently, which loader versions do not see.
    reextract: bool = False
    progress: bool = True
    batch_size: int = 64

    def __post_init__(self) -> None:
        # A string would be read letter by letter as groups ("hr" -> h, r): refuse it.
        groups = self.groups
        if groups is not None and (
            isinstance(groups, str) or not all(isinstance(g, str) and g.strip() for g in groups)
        ):
            raise ConfigError(
                f"IngestOptions.groups must be None or a tuple of group names, not {groups!r}"
            )


@dataclass(frozen=True)
class FileOutcome:
    source: str
    status: Status
    reason: str = ""
    chunks: int = 0
    warnings: tuple[str, ...] = ()  # non-fatal problems: a skipped page, bad JSONL lines


@dataclass
class IngestReport:
    index_dir: Path | str  # a folder, or a milvus: spec
    outcomes: list[FileOutcome] = field(default_factory=list)
    rebuild_reason: str = ""
    dry_run: bool = False
    written: bool = False
    chunks_total: int = 0
    embedded: int = 0  # chunk texts that went through the model in this run
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. remembered groups used
    duplicates: list[str] = field(default_factory=list)  # files identical to another file
    widened: list[str] = field(default_factory=list)  # "source: old -> new" (dry run / refused)

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
            "notes": list(self.notes),
            "duplicate_files": list(self.duplicates),
            "widened": list(self.widened),
            "seconds": round(self.seconds, 3),
            "files": [{**vars(o), "warnings": list(o.warnings)} for o in self.outcomes],
        }


def index_fingerprint(embedder: Embedder, settings: ChunkSettings | None) -> dict[str, Any]:
    chunking = (settings or ChunkSettings()).fingerprint()
    return {**embedder.fingerprint(), **chunking, "bm25": BM25_ANALYSER}


def remembered_settings(
    options: IngestOptions, manifest: dict[str, Any] | None
) -> tuple[str, ChunkSettings]:
    """The model and chunk settings of a run: those `options` gives, else those the index
    (`manifest`, None when there is none) was built with, else the defaults."""
    built = (manifest or {}).get("fingerprint") or {}
    model = options.model or str(built.get("model") or DEFAULT_MODEL)
    chunking = options.chunking
    if chunking is None:
        tokens = built.get("chunk_tokens")
        chunking = ChunkSettings(tokens) if isinstance(tokens, int) else ChunkSettings()
    return model, chunking


def ingest(
    paths: Sequence[Path],
    index_dir: Path | str,
    options: IngestOptions = IngestOptions(),
    *,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Sync `index_dir` with `paths` (none: the remembered roots); see the module docstring.

    Raises AccessWideningError (nothing written) when the run would widen access and
    `options.allow_widen` is false; UsageError for a bad path; IndexStoreError for a bad index.
    """
    started = time.perf_counter()
    store = open_store(index_dir)  # a folder, or milvus:PATH.db / milvus://HOST:PORT
    report = IngestReport(index_dir=store.location, dry_run=options.dry_run)
    try:
        if options.dry_run:
            if isinstance(store, LocalIndexStore):
                check_index_folder(store.index_dir)  # a dry run says what the run would refuse
            _run(paths, store, embedder, options, report)
        else:
            with store.writing():
                _run(paths, store, embedder, options, report)
    finally:
        store.close()
    report.seconds = time.perf_counter() - started
    return report


def remove_sources(
    sources: Sequence[str], index_dir: Path | str, *, dry_run: bool = False
) -> IngestReport:
    """Drop the given sources (as `ragkit sources` lists them) from the index.

    Each removed file's path is recorded as excluded, so later syncs of its folder skip it;
    `ragkit ingest PATH_OF_THAT_FILE` brings it back. Raises UsageError naming sources the
    index lacks.
    """
    started = time.perf_counter()
    store = open_store(index_dir)
    try:
        return _remove(store, sources, dry_run, started)
    finally:
        store.close()


def _source_names(given: str, files: dict[str, Any]) -> list[str]:
    """`given` if the index stores it as a source name; else the sources an ingested file at
    that path produced (a path under the ingested folder names its file); else [given]."""
    if given in files:
        return [given]
    real = os.path.realpath(given)
    return [s for s, entry in files.items() if entry.get("path") == real] or [given]


def _remove(
    store: IndexStore, sources: Sequence[str], dry_run: bool, started: float
) -> IngestReport:
    index_dir = store.location
    report = IngestReport(index_dir=index_dir, dry_run=dry_run)
    manifest = store.read_manifest()
    if manifest is None:
        raise UsageError(f"no index at {index_dir}: nothing to remove")
    if isinstance(store, LocalIndexStore):  # a copied index: its files' paths here
        manifest, _ = relocated(manifest, os.path.realpath(store.location))
    sources = [n for s in sources for n in _source_names(s, manifest["files"])]
    missing = [s for s in sources if s not in manifest["files"]]
    if missing:
        raise UsageError(f"not in index {index_dir}: {', '.join(missing)} (see `ragkit sources`)")
    report.outcomes += [FileOutcome(s, "removed") for s in dict.fromkeys(sources)]
    if dry_run:
        return report
    with store.writing():
        snapshot = store.load()
        drop = set(sources)
        touched = {cid for s in drop for cid in snapshot.files[s]["chunk_ids"]}
        old = _Old.read(snapshot, touched)
        files = {s: e for s, e in snapshot.files.items() if s not in drop}
        stored = _stored_after(old, files, {}, touched)
        old_vectors = _vectors_by_embedded_text(snapshot, old.stored)
        embedder = None
        if any(_embedded_key(c) not in old_vectors for c in stored):
            # A duplicate whose first copy was removed now stands alone: embed its own text.
            embedder = load_embedder(str(snapshot.fingerprint.get("model", DEFAULT_MODEL)))
        options = IngestOptions(progress=False)
        vectors, report.embedded = _vectors_for(stored, old_vectors, embedder, options)  # type: ignore[arg-type]
        if not stored:
            vectors = np.zeros((0, snapshot.dim), dtype=np.float32)
        gone = [snapshot.files[s].get("path") for s in drop]
        excluded = sorted({*snapshot.manifest.get("excluded", ()), *filter(None, gone)})
        manifest = {**snapshot.manifest, "files": files, "excluded": excluded}
        snapshot.close()
        _write(store, manifest, old.stored, stored, vectors)
    report.written = True
    report.chunks_total = sum(len(e["chunk_ids"]) for e in files.values())
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Old:
    """What a sync reads of the live index: the stored chunks it may rewrite.

    A sync that changes a few files reads only the stored chunks holding those files' old
    chunks, and (`add_merges`) those the new chunks would be merged with as duplicates, all
    looked up by chunk id and by (text, groups) through the store's indexes: its cost follows
    what changed, not the corpus. When the store cannot look rows up (`whole`: segments
    written before those indexes, or the Milvus store), every stored chunk is read.
    """

    snapshot: IndexSnapshot | None
    stored: list[Chunk]  # stored chunks read: the region this sync may rewrite
    whole: bool  # `stored` is every stored chunk
    chunks: dict[str, Chunk]  # every chunk `stored` stands for (duplicates expanded), by id

    @classmethod
    def read(cls, snapshot: IndexSnapshot | None, touched_ids: set[str]) -> _Old:
        if snapshot is None:
            return cls(None, [], True, {})
        found = snapshot.stored_with(touched_ids, ())
        stored = snapshot.live_chunks() if found is None else found
        return cls(snapshot, stored, found is None, {c.chunk_id: c for c in dedup.expand(stored)})

    def add_merges(self, chunks: Sequence[Chunk]) -> None:
        """Also read the stored chunks that these new chunks are duplicates of."""
        if self.whole or self.snapshot is None or not chunks:
            return
        have = {c.chunk_id for c in self.stored}
        found = self.snapshot.stored_with((), {(c.text, c.groups) for c in chunks}) or []
        more = [c for c in found if c.chunk_id not in have]
        self.stored += more
        self.chunks.update((c.chunk_id, c) for c in dedup.expand(more))


def _stored_after(
    old: _Old,
    files: dict[str, Any],
    new_chunks: dict[str, list[Chunk]],
    touched_ids: set[str],
) -> list[Chunk]:
    """The stored chunks that replace `old.stored`: every chunk of `files` that the region
    holds or that is new, in file order (sorted sources, then position), merged as duplicates.
    Restricted to the region, this is exactly what merging the whole index would give there,
    since a stored chunk outside it shares no chunk and no (text, groups) with it."""
    ordered: list[Chunk] = []
    for source in sorted(files):
        if source in new_chunks:
            ordered += new_chunks[source]
        elif old.whole:
            ordered += [old.chunks[cid] for cid in files[source]["chunk_ids"]]
        else:
            ordered += [
                old.chunks[cid]
                for cid in files[source]["chunk_ids"]
                if cid in old.chunks and cid not in touched_ids
            ]
    return dedup.merge(ordered)


@dataclass
class _Plan:
    fingerprint: dict[str, Any]
    previous: dict[str, Any]  # manifest files of the live index, {} when rebuilding
    roots: list[dict[str, Any]]  # what the manifest remembers after this run
    changed: list[tuple[Candidate, bytes, str, tuple[str, ...]]]  # candidate, data, hash, groups
    unchanged: list[str]
    removed: list[str]
    excluded: list[str]  # real paths `ragkit remove` took out, kept out by later syncs
    # source -> stat stamp taken before the file was read (None: changed too recently)
    stamps: dict[str, list[int] | None] = field(default_factory=dict)
    home: str | None = None  # the real path of a local index folder (`ingest.roots.relocated`)
    # source -> why an unchanged file is re-extracted (its loader changed since it was read)
    reextract: dict[str, str] = field(default_factory=dict)


def _run(
    paths: Sequence[Path],
    store: IndexStore,
    embedder: Embedder | None,
    options: IngestOptions,
    report: IngestReport,
) -> None:
    manifest = store.read_manifest()
    # a local index folder records where it lives: copied or moved with its documents, it
    # follows them (ingest.roots.relocated); the next write records the new place
    home = os.path.realpath(store.location) if isinstance(store, LocalIndexStore) else None
    if manifest is not None and home is not None:
        manifest, moved = relocated(manifest, home)
        report.notes += moved
    model, chunking = remembered_settings(options, manifest)
    options = dataclasses.replace(options, model=model, chunking=chunking)
    embedder = embedder or load_embedder(model)
    fingerprint = index_fingerprint(embedder, chunking)
    remembered = list(manifest.get("roots", [])) if manifest else []
    previous: dict[str, Any] = {}
    if manifest is not None:
        if manifest.get("format") != store.format:
            report.rebuild_reason = (
                f"index format {manifest.get('format')} -> {store.format}: rebuilding the index"
            )
            paths = [*paths, *(Path(r["path"]) for r in remembered)] if paths else []
        elif manifest["fingerprint"] != fingerprint:
            report.rebuild_reason = _describe_change(manifest["fingerprint"], fingerprint)
            # A rebuild must not lose what other roots brought in: sync them all.
            paths = [*paths, *(Path(r["path"]) for r in remembered)] if paths else []
        else:
            previous = manifest["files"]
    scopes, roots, notes = plan_scopes(paths, remembered, options.groups)
    report.notes += notes
    existing = [scope for scope in scopes if os.path.lexists(scope.path)]
    found = discover(scopes=existing, max_bytes=int(options.max_file_mb * 2**20))
    report.outcomes += [FileOutcome(src, "skipped", why) for src, why in found.skipped]
    report.outcomes += [FileOutcome(src, "failed", why) for src, why in found.failed]
    failed = {src for src, _ in found.failed}
    # A file removed with `ragkit remove` stays out, unless this run names that very file.
    named = {os.path.realpath(p) for p in paths if not os.path.isdir(p)}
    excluded = {str(p) for p in (manifest or {}).get("excluded", ())} - named
    candidates = []
    for candidate in found.candidates:
        if os.path.realpath(candidate.path) in excluded:
            path = candidate.path
            reason = f"removed with `ragkit remove` (`ragkit ingest {path}` brings it back)"
            report.outcomes.append(FileOutcome(candidate.source, "skipped", reason))
        else:
            candidates.append(candidate)
    plan = _plan(candidates, scopes, fingerprint, previous, roots, options, report, failed)
    plan.home = home
    plan.excluded = sorted(p for p in excluded if os.path.lexists(p))  # gone files: forgotten
    if options.dry_run:
        report.widened = _widened_by_rules(plan)
        return
    _sync(plan, store, embedder, options, report, manifest)


def _plan(
    candidates: Sequence[Candidate],
    scopes: Sequence[Scope],
    fingerprint: dict[str, Any],
    previous: dict[str, Any],
    roots: list[dict[str, Any]],
    options: IngestOptions,
    report: IngestReport,
    failed: set[str],
) -> _Plan:
    """What changed. Files that failed discovery (unreadable access rules) are not seen, so
    their indexed copies are removed with the rest (fail closed); they are reported once."""
    plan = _Plan(fingerprint, previous, roots, [], [], [], [])
    seen: set[str] = set()
    for candidate in candidates:
        real = os.path.realpath(candidate.path)
        old = previous.get(candidate.source)
        if candidate.source in seen or (
            old and old.get("path") not in (None, real) and not _in_scopes(old["path"], scopes)
        ):
            where = old.get("path") if old else "another input"
            reason = f"'{candidate.source}' is already indexed from {where}; ingest their "
            reason += "common parent folder, or `ragkit remove` it first"
            if old and candidate.source not in seen:  # the indexed file stays as it is
                plan.unchanged.append(candidate.source)
                reason += " (kept the indexed version)"
            report.outcomes.append(FileOutcome(candidate.source, "failed", reason))
            seen.add(candidate.source)
            continue
        seen.add(candidate.source)
        groups = tuple(sorted({*candidate.groups, *candidate.run_groups}))
        same_rules = bool(old) and tuple(old.get("rule_groups", ())) == groups
        loader = loader_of(candidate.path.suffix)
        same_loader = (
            old is not None
            and loader is not None
            and old.get("loader") == loader
            and not options.reextract
        )
        stamp = _stamp(candidate.path)
        if (
            same_rules
            and same_loader
            and old is not None
            and stamp is not None
            and old.get("stamp") == stamp
            and old.get("path") == real
        ):
            plan.unchanged.append(candidate.source)  # not even read (see _stamp)
            report.outcomes.append(
                FileOutcome(candidate.source, "unchanged", chunks=len(old["chunk_ids"]))
            )
            continue
        try:
            data = read_regular_file(candidate.path, int(options.max_file_mb * 2**20))
        except OSError as exc:
            reason = f"unreadable: {exc.strerror or exc}"
            report.outcomes.append(FileOutcome(candidate.source, "failed", reason))
            continue
        digest = sha256_hex(data)
        plan.stamps[candidate.source] = _settled(stamp)
        if same_rules and old["hash"] == digest and same_loader:
            plan.unchanged.append(candidate.source)
            report.outcomes.append(
                FileOutcome(candidate.source, "unchanged", chunks=len(old["chunk_ids"]))
            )
        else:
            if same_rules and old is not None and old["hash"] == digest and loader is not None:
                # only the loader (or --re-extract) makes it change: say so
                recorded = old.get("loader")
                why = loader_change(recorded, loader)
                plan.reextract[candidate.source] = (
                    "asked for (--re-extract)" if recorded == loader else why
                )
            plan.changed.append((candidate, data, digest, groups))
    # Only files that disappeared from inside the paths of this run are removed.
    plan.removed = sorted(
        source
        for source, entry in previous.items()
        if source not in seen and _in_scopes(entry.get("path"), scopes)
    )
    report.outcomes += [FileOutcome(src, "removed") for src in plan.removed if src not in failed]
    plan.unchanged += [s for s in previous if s not in seen and s not in plan.removed]
    report.notes += _reextract_notes(plan, seen, options.dry_run)
    if options.dry_run:
        for candidate, _, _, _ in plan.changed:
            status: Status = "updated" if candidate.source in previous else "added"
            cause = plan.reextract.get(candidate.source)
            reason = f"re-extracted: {cause}" if cause else ""
            report.outcomes.append(FileOutcome(candidate.source, status, reason))
    return plan


def _reextract_notes(plan: _Plan, seen: set[str], dry_run: bool) -> list[str]:
    """One note per reason files are re-extracted ("3 files re-extracted: the PDF loader
    changed (version 1 -> 2)"), and one for indexed files outside this run's paths whose
    loader changed: a sync of their folder re-extracts them."""
    verb = "would be re-extracted" if dry_run else "re-extracted"
    counts: dict[str, int] = {}
    for why in plan.reextract.values():
        counts[why] = counts.get(why, 0) + 1
    notes = [f"{_files(n)} {verb}: {why}" for why, n in counts.items()]
    outside = [
        source
        for source in plan.unchanged
        if source not in seen
        and (loader := loader_of(Path(source).suffix)) is not None
        and plan.previous[source].get("loader") != loader
    ]
    if outside:
        were = "was" if len(outside) == 1 else "were"
        notes.append(
            f"{_files(len(outside))} outside the paths of this run {were} extracted by an "
            "older loader version; `ragkit ingest` with no PATH re-extracts them"
        )
    return notes


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


STAMP_SETTLE_NS = 2_000_000_000  # a file changed this recently is hashed again next time


def _stamp(path: Path) -> list[int] | None:
    """[size, mtime_ns, ctime_ns, inode] of a file, None when it cannot be stat'ed.

    A file whose stamp equals the one recorded when it was last read is unchanged and is not
    read or hashed again (at a million chunks, hashing every file costs seconds). The inode
    change time is in it because no tool can set it back: copying old content in with its
    old mtime (`rsync -t`, `touch -r`) still changes ctime. As git does against "racy"
    files, a stamp is recorded only once the file has been still for STAMP_SETTLE_NS: a
    write within the same clock tick as the read would leave the stamp unchanged.
    """
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]


def _settled(stamp: list[int] | None) -> list[int] | None:
    if stamp is None or time.time_ns() - max(stamp[1], stamp[2]) < STAMP_SETTLE_NS:
        return None
    return stamp


def _in_scopes(real_path: str | None, scopes: Sequence[Scope]) -> bool:
    # An entry without a path predates remembered roots: the old mirror semantics apply.
    return real_path is None or any(covers(scope, real_path) for scope in scopes)


def _sync(
    plan: _Plan,
    store: IndexStore,
    embedder: Embedder,
    options: IngestOptions,
    report: IngestReport,
    manifest: dict[str, Any] | None,
) -> None:
    # Also rewritten (the manifest alone): remembered roots or exclusions that changed, and
    # stamps of unchanged files that were read this time, so the next run skips them unread.
    roots_changed = manifest is not None and (
        manifest.get("roots") != plan.roots
        or manifest.get("excluded", []) != plan.excluded
        or manifest.get("home") != plan.home
        or any(
            stamp != plan.previous[s].get("stamp")
            for s, stamp in plan.stamps.items()
            if s in plan.previous and s in plan.unchanged
        )
    )
    if not plan.changed and not plan.removed and not report.rebuild_reason and not roots_changed:
        report.chunks_total = sum(len(plan.previous[s]["chunk_ids"]) for s in plan.unchanged)
        report.duplicates = _duplicates({s: plan.previous[s] for s in plan.unchanged})
        return  # nothing to do: no model, no write

    snapshot = store.load() if plan.previous else None
    changing = [c.source for c, *_ in plan.changed if c.source in plan.previous]
    touched = {
        cid for source in [*changing, *plan.removed] for cid in plan.previous[source]["chunk_ids"]
    }
    old = _Old.read(snapshot, touched)
    files: dict[str, Any] = {s: _restamped(plan.previous[s], plan, s) for s in plan.unchanged}
    new_chunks: dict[str, list[Chunk]] = {}
    widened: list[str] = []
    for candidate, data, digest, groups in _progress(plan.changed, options, "reading"):
        outcome, entry, chunks = _load_and_chunk(candidate, data, digest, groups, embedder, options)
        source = candidate.source
        previous = plan.previous.get(source)
        if outcome.status == "failed" and previous is not None:
            kept = _fail_closed(candidate, previous, groups, old.chunks)
            if kept is None:
                outcome = FileOutcome(
                    source,
                    "failed",
                    outcome.reason + " (its indexed version was dropped: it could be readable "
                    "by more people than the new access rules allow)",
                )
            else:
                entry, chunks = kept
                files[source] = entry
                new_chunks[source] = chunks
                outcome = FileOutcome(
                    source, "failed", outcome.reason + " (kept the indexed version)"
                )
        elif entry is not None:
            entry["stamp"] = plan.stamps.get(source)
            status: Status = "updated" if previous is not None else "added"
            why = plan.reextract.get(source, "")
            reason = f"re-extracted: {why}" if why else ""
            outcome = FileOutcome(
                source, status, reason, chunks=len(chunks), warnings=outcome.warnings
            )
            files[source] = entry
            new_chunks[source] = chunks
            if previous is not None and _widens(previous, entry):
                widened.append(
                    f"{source}: {_describe_access(previous)} -> {_describe_access(entry)}"
                )
        report.outcomes.append(outcome)
    if widened and not options.allow_widen:
        report.widened = widened
        raise AccessWideningError(
            f"this run would let more people read {len(widened)} file(s): "
            + "; ".join(widened[:5])
            + ("; ..." if len(widened) > 5 else "")
            + ". Nothing was written; pass --allow-widen if that is intended"
        )
    report.widened = widened
    report.duplicates = _duplicates(files)

    dropped = [s for s in plan.previous if s not in files]  # removed, or failed closed
    if (
        plan.previous
        and not new_chunks
        and not dropped
        and not report.rebuild_reason
        and not roots_changed
    ):
        # Only failures again: the live generation already holds everything there is.
        report.chunks_total = sum(len(entry["chunk_ids"]) for entry in files.values())
        return
    old.add_merges([c for chunks in new_chunks.values() for c in chunks])
    stored = _stored_after(old, files, new_chunks, touched)
    old_vectors = _vectors_by_embedded_text(snapshot, old.stored) if snapshot else {}
    vectors, embedded = _vectors_for(stored, old_vectors, embedder, options)
    dim = int(vectors.shape[1]) if len(vectors) else (snapshot.dim if snapshot else 1)
    new_manifest = {
        "fingerprint": plan.fingerprint,
        "files": files,
        "dim": dim,
        "roots": plan.roots,
        "excluded": plan.excluded,
    }
    if plan.home is not None:
        new_manifest["home"] = plan.home
    if snapshot is not None:
        snapshot.close()
    _write(store, new_manifest, old.stored if plan.previous else None, stored, vectors)
    report.written = True
    report.embedded = embedded
    report.chunks_total = sum(len(entry["chunk_ids"]) for entry in files.values())


def _restamped(entry: dict[str, Any], plan: _Plan, source: str) -> dict[str, Any]:
    """An unchanged file's record, with the stamp of this run's read when it was read (a
    touched file hashed equal): later runs then skip it again. Written only when the run
    writes for other reasons."""
    if source not in plan.stamps:
        return entry
    return {**entry, "stamp": plan.stamps[source]}


def _vectors_for(
    stored: Sequence[Chunk],
    old_vectors: dict[str, np.ndarray],
    embedder: Embedder,
    options: IngestOptions,
) -> tuple[np.ndarray, int]:
    """The (len(stored), dim) matrix, embedding only texts with no stored vector; and how
    many texts went through the model."""
    keys = [_embedded_key(c) for c in stored]
    to_embed: dict[str, Chunk] = {}
    for key, chunk in zip(keys, stored, strict=True):
        if key not in old_vectors and key not in to_embed:
            to_embed[key] = chunk
    fresh = _embed(list(to_embed.values()), embedder, options)
    vectors = {**old_vectors, **dict(zip(to_embed, fresh, strict=True))}
    if not stored:
        dim = next(iter(vectors.values())).shape[0] if vectors else 0
        return np.zeros((0, dim), dtype=np.float32), 0
    return np.stack([vectors[key] for key in keys]), len(to_embed)


def _duplicates(files: dict[str, Any]) -> list[str]:
    return dedup.duplicate_files({source: entry["hash"] for source, entry in files.items()})


def _embedded_key(chunk: Chunk) -> str:
    """Vectors are reused by the exact text that was embedded (context line + text); the
    fingerprint is the same for the whole index, since a change of it rebuilds."""
    return sha256_hex(chunk.embedding_text)


def _vectors_by_embedded_text(
    snapshot: IndexSnapshot, stored: Sequence[Chunk]
) -> dict[str, np.ndarray]:
    """Stored vectors of these stored chunks, by the text that was embedded for them."""
    by_id = snapshot.vectors_for(c.chunk_id for c in stored)
    return {_embedded_key(c): by_id[c.chunk_id] for c in stored if c.chunk_id in by_id}


def _write(
    store: IndexStore,
    manifest: dict[str, Any],
    old: Sequence[Chunk] | None,
    stored: Sequence[Chunk],
    vectors: np.ndarray,
) -> None:
    """Write `stored` as the live index. Against a live index (`old`: its stored chunks) only
    the difference is written: chunks not stored exactly so before go into a new segment,
    chunks no longer stored become tombstones (the store compacts past its thresholds)."""
    if old is None:
        store.write_generation(manifest, stored, vectors)
        return
    before = set(old)
    after = set(stored)
    dropped = {c.chunk_id for c in before - after}
    fresh = [i for i, c in enumerate(stored) if c not in before or c.chunk_id in dropped]
    added = [stored[i] for i in fresh]
    store.write_changes(manifest, dropped, added, vectors[fresh] if fresh else vectors[:0])


def _fail_closed(
    candidate: Candidate,
    old: dict[str, Any],
    groups: tuple[str, ...],
    old_chunks: dict[str, Chunk],
) -> tuple[dict[str, Any], list[Chunk]] | None:
    """The old version of a file that now fails to load, restricted so that nobody the new
    rules exclude can read it; None when it must be dropped instead."""
    if candidate.path.suffix.lower() in _SELF_DECLARING:
        return None  # its new front matter may restrict it further, and cannot be read
    chunks = [old_chunks[cid] for cid in old["chunk_ids"] if cid in old_chunks]
    restricted = []
    for chunk in chunks:
        narrowed = most_restrictive(chunk.groups, groups)
        if narrowed is None:
            return None
        restricted.append(dataclasses.replace(chunk, groups=narrowed))
    entry = {
        **old,
        "groups": sorted({g for c in restricted for g in c.groups}),
        "public": any(not c.groups for c in restricted),
    }
    return entry, restricted


def _access(entry: dict[str, Any]) -> tuple[bool, set[str]]:
    public = entry.get("public", not entry.get("groups"))
    return bool(public), set(entry.get("groups", ()))


def _widens(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether someone could read the new version who could not read the old one."""
    old_public, old_groups = _access(old)
    new_public, new_groups = _access(new)
    if old_public:
        return False
    return new_public or bool(new_groups - old_groups)


def _describe_access(entry: dict[str, Any]) -> str:
    public, groups = _access(entry)
    named = ", ".join(sorted(groups))
    if public:
        return "everyone" + (f" (and {named})" if named else "")
    return f"[{named}]"


def _widened_by_rules(plan: _Plan) -> list[str]:
    """For a dry run, which nothing loads: widening seen in the rule and run groups alone."""
    widened = []
    for candidate, _, _, groups in plan.changed:
        old = plan.previous.get(candidate.source)
        if old is None:
            continue
        before = {"groups": old.get("rule_groups", []), "public": not old.get("rule_groups")}
        after = {"groups": list(groups), "public": not groups}
        if _widens(before, after):
            widened.append(
                f"{candidate.source}: {_describe_access(before)} -> {_describe_access(after)}"
            )
    return widened


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
    except NothingToIndex as exc:  # a redirect stub: nothing to index, nothing wrong
        return FileOutcome(candidate.source, "skipped", exc.reason), None, []
    except LoadError as exc:
        return FileOutcome(candidate.source, "failed", exc.reason), None, []
    chunks: list[Chunk] = []
    for doc in documents:
        doc_groups = tuple(sorted({*groups, *doc.groups}))
        chunks += chunk_document(
            doc,
            count_tokens=embedder.count_tokens,
            max_tokens=embedder.max_tokens,
            settings=options.chunking or ChunkSettings(),
            doc_hash=digest,
            groups=doc_groups,
        )
    if not chunks:
        return FileOutcome(candidate.source, "failed", "no text to index"), None, []
    first = documents[0]
    entry = {
        "hash": digest,
        "size": len(data),
        "title": first.title if len(documents) == 1 else candidate.path.name,
        "documents": len(documents),
        "pages": first.pages if len(documents) == 1 else None,
        # Where the original lives: the scope of later runs, and what a citation opens
        # (GET /v1/documents/{source} serves it while its sha256 still matches).
        "path": os.path.realpath(candidate.path),
        "rule_groups": list(groups),
        # the loader version that extracted it: a later version re-extracts it (_plan)
        "loader": loader_of(candidate.path.suffix),
        "groups": sorted({g for c in chunks for g in c.groups}),
        "public": any(not c.groups for c in chunks),
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
