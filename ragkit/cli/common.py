"""Options shared by several commands, and output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ragkit.errors import UsageError


def add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        type=Path,
        default=os.environ.get("RAGKIT_INDEX"),
        help="index directory (default: $RAGKIT_INDEX)",
    )


def index_dir(args: argparse.Namespace) -> Path:
    if not args.index:
        raise UsageError("no index directory: pass --index DIR or set RAGKIT_INDEX")
    return Path(args.index)


def parse_groups(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    groups = tuple(sorted({g.strip() for g in value.split(",") if g.strip()}))
    for group in groups:
        if not group.replace("-", "").replace("_", "").isalnum():
            raise UsageError(f"bad group name '{group}': use letters, digits, '-' and '_'")
    return groups


def print_json(record: Any) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
