"""`ragkit ingest [PATH...] --index DIR` and `ragkit remove SOURCE... --index DIR`.

`ingest` adds or updates what it is given and removes only files gone from inside those
paths; with no PATH it re-syncs every root the index remembers. `remove` drops sources.

The ingest command lives with the pipeline it drives: `ragkit.cli` names this module in its
command table, so nothing under `ragkit/` imports the `ingest` package.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ragkit.cli.common import add_index_option, index_dir, parse_groups, print_json
from ragkit.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from ingest.pipeline import IngestReport


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="index documents (incremental: only new or changed files are embedded)",
        description="Sync an index with files and folders: embeds new or changed files, "
        "drops the chunks of files gone from inside the given paths, does nothing when "
        "nothing changed. With no PATH, re-syncs every folder the index remembers.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="files or folders (default: the ones this index was built from)",
    )
    add_index_option(parser)
    parser.add_argument(
        "--groups",
        help="access groups for every file of this run, e.g. hr,managers; remembered with "
        "the folder (default: the groups remembered for it)",
    )
    parser.add_argument(
        "--allow-widen",
        action="store_true",
        help="let this run make files readable by more people than before (refused otherwise)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would change; write nothing"
    )
    parser.add_argument(
        "--model",
        help="sentence-transformers model name or local path, or hash:DIM (default: the model "
        "the index was built with; for a new index the bundled all-MiniLM-L6-v2). A different "
        "model rebuilds the index",
    )
    parser.add_argument(
        "--password-file", type=Path, help="file with passwords for encrypted PDFs, one per line"
    )
    parser.add_argument(
        "--max-file-mb", type=float, default=100.0, help="skip larger files (default 100)"
    )
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        help="chunk size in model tokens (default: the index's; 256 for a new index)",
    )
    parser.add_argument(
        "--re-extract",
        action="store_true",
        help="read every file again even when unchanged (after upgrading pypdf, trafilatura or "
        "Tesseract); only chunk texts that come out different are embedded",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def _read_passwords(path: Path | None) -> tuple[str, ...]:
    if path is None:
        return ()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read password file {path}: {exc.strerror}") from exc
    return tuple(line for line in lines if line)


def run(args: argparse.Namespace) -> int:
    from ingest.chunking import ChunkSettings
    from ingest.pipeline import IngestOptions, ingest

    for path in args.paths:
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"no such file or folder: {path}")
    options = IngestOptions(
        model=args.model,
        groups=None if args.groups is None else parse_groups(args.groups),
        allow_widen=args.allow_widen,
        passwords=_read_passwords(args.password_file),
        chunking=None if args.chunk_tokens is None else ChunkSettings(args.chunk_tokens),
        max_file_mb=args.max_file_mb,
        dry_run=args.dry_run,
        reextract=args.re_extract,
        progress=not args.no_progress and not args.json,
    )
    report = ingest(args.paths, index_dir(args), options)
    if args.json:
        print_json(report.to_json())
    else:
        print_ingest_report(report)
    return 0 if report.ok else 1


def print_ingest_report(report: IngestReport) -> None:
    if report.rebuild_reason:
        print(f"note: {report.rebuild_reason}")
    for note in report.notes:
        print(f"note: {note}")
    if report.widened:
        verb = "would widen" if report.dry_run else "widened (--allow-widen)"
        print(f"access {verb} for {len(report.widened)} file(s):")
        for line in report.widened:
            print(f"  {line}")
    verb = "Would change" if report.dry_run else "Synced"
    print(f"{verb} index {report.index_dir} in {report.seconds:.1f} s")
    labels = ["added", "updated", "unchanged", "removed", "skipped", "failed"]
    for status in labels:
        print(f"  {status:<10}{report.count(status):>6}")
    if report.duplicates:
        print(f"  {'duplicate':<10}{len(report.duplicates):>6}  (files identical to another one)")
    if not report.dry_run:
        print(f"  chunks    {report.chunks_total:>6}  ({report.embedded} embedded in this run)")
    if report.dry_run:
        for status in ("added", "updated", "removed"):
            for outcome in report.outcomes:
                if outcome.status == status:
                    why = f"  ({outcome.reason})" if outcome.reason else ""
                    print(f"  {status[0].upper()} {outcome.source}{why}")
    warned = [o for o in report.outcomes if o.warnings]
    if warned:  # non-fatal, but a page left out must not pass silently
        print("warnings:")
        for outcome in warned:
            for warning in outcome.warnings:
                print(f"  {outcome.source}: {warning}")
    for status in ("skipped", "failed"):
        rows = [o for o in report.outcomes if o.status == status]
        if rows:
            print(f"{status}:")
            for outcome in rows:
                print(f"  {outcome.source}: {outcome.reason}")


def add_remove_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "remove",
        help="remove documents from an index",
        description="Drop sources (as `ragkit sources` lists them) from the index. The index "
        "remembers the removal: later syncs of the folder holding the file skip it, until "
        "`ragkit ingest PATH_OF_THE_FILE` names it again.",
    )
    parser.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help="source names as `ragkit sources` lists them (e.g. leave/x.md, relative to the "
        "ingested folder), or paths of ingested files",
    )
    add_index_option(parser)
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be removed; write nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run_remove)


def run_remove(args: argparse.Namespace) -> int:
    from ingest.pipeline import remove_sources

    report = remove_sources(args.sources, index_dir(args), dry_run=args.dry_run)
    if args.json:
        print_json(report.to_json())
    else:
        verb = "Would remove" if report.dry_run else "Removed"
        for outcome in report.outcomes:
            print(f"{verb} {outcome.source}")
        print("Later syncs skip these files; `ragkit ingest PATH_OF_THE_FILE` brings one back.")
    return 0
