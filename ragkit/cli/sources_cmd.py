"""`ragkit sources`: the documents in the index."""

from __future__ import annotations

import argparse

from ragkit.cli.common import add_index_option, index_dir, parse_groups, print_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sources", help="list the documents in the index")
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
    print(f"{len(rows)} documents")
    for row in rows:
        pages = f"{row.pages} pages" if row.pages else ""
        groups = f"[{','.join(row.groups)}]" if row.groups else ""
        print(f"  {row.title[:40]:<40} {row.chunks:>4} chunks {pages:>9} {groups}")
        print(f"      {row.source}  (ingested {row.ingested_at})")
    return 0
