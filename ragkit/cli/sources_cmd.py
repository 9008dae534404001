"""`ragkit sources`: the documents in the index."""

from __future__ import annotations

import argparse
import textwrap
from typing import TYPE_CHECKING

from ragkit.cli.common import add_index_option, index_dir, parse_groups, print_json

if TYPE_CHECKING:  # pragma: no cover
    from ragkit.sources import SourceInfo


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sources",
        help="list the documents in the index",
        description="List the indexed documents an asker with --groups may read (without "
        "--groups: the documents readable without a group). Documents restricted to other "
        "groups are neither listed nor counted.",
    )
    add_index_option(parser)
    parser.add_argument("--groups", help="the asker's access groups, e.g. managers")
    parser.add_argument("--json", action="store_true", help="one JSON object per document")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ragkit.sources import list_sources

    rows = list_sources(index_dir(args), frozenset(parse_groups(args.groups)))
    if args.json:
        for row in rows:
            print_json(row.to_json())
        return 0
    print(sources_header(len(rows), parse_groups(args.groups)))
    for row in rows:
        print(source_lines(row))
    return 0


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def sources_header(count: int, groups: tuple[str, ...]) -> str:
    """Whose view the list is: never a count of what the asker cannot read."""
    view = f"by groups {', '.join(groups)}" if groups else "without a group"
    return f"{plural(count, 'document')} readable {view}"


def source_lines(row: SourceInfo) -> str:
    """The full title (wrapped), then source, size, groups and when it was ingested."""
    facts = [plural(row.chunks, "chunk")]
    if row.pages:
        facts.append(plural(row.pages, "page"))
    if row.groups:
        facts.append("groups " + ",".join(row.groups))
    facts.append(f"ingested {row.ingested_at}")
    lines = textwrap.wrap(row.title, 78, initial_indent="  ", subsequent_indent="  ")
    lines += textwrap.wrap(
        f"{row.source} ({'; '.join(facts)})",
        78,
        initial_indent="      ",
        subsequent_indent="        ",
    )
    return "\n".join(lines)
