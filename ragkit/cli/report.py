"""Human-readable output for ingest reports and index listings (80 columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ingest.pipeline import IngestReport


def print_ingest_report(report: IngestReport) -> None:
    if report.rebuild_reason:
        print(f"note: {report.rebuild_reason}")
    verb = "Would change" if report.dry_run else "Synced"
    print(f"{verb} index {report.index_dir} in {report.seconds:.1f} s")
    labels = ["added", "updated", "unchanged", "removed", "skipped", "failed"]
    for status in labels:
        print(f"  {status:<10}{report.count(status):>6}")
    if not report.dry_run:
        print(f"  chunks    {report.chunks_total:>6}  ({report.embedded} embedded in this run)")
    if report.dry_run:
        for status in ("added", "updated", "removed"):
            for outcome in report.outcomes:
                if outcome.status == status:
                    print(f"  {status[0].upper()} {outcome.source}")
    for status in ("skipped", "failed"):
        rows = [o for o in report.outcomes if o.status == status]
        if rows:
            print(f"{status}:")
            for outcome in rows:
                print(f"  {outcome.source}: {outcome.reason}")
