"""Options shared by several commands, and output helpers."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ragkit.errors import RagkitError, UsageError


def add_index_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index",
        "--store",
        dest="index",
        default=os.environ.get("RAGKIT_INDEX"),
        help="index directory, or milvus:PATH.db (Milvus Lite) or milvus://HOST:19530 "
        "(default: $RAGKIT_INDEX)",
    )


def index_dir(args: argparse.Namespace) -> Path:
    """The --index folder; a milvus: spec is returned as given (a str)."""
    if not args.index:
        raise UsageError("no index directory: pass --index DIR or set RAGKIT_INDEX")
    value = str(args.index)
    if value.startswith("milvus:"):
        return value
    # A URI with another scheme is a mistake, not a folder name: Path would fold its '//'.
    if _URI.match(value):
        raise UsageError(
            f"unknown store {value!r}: --index/--store takes a folder, milvus:PATH.db "
            "(Milvus Lite) or milvus://HOST:PORT (a Milvus server)"
        )
    return Path(value)


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def parse_groups(value: str | None) -> tuple[str, ...]:
    from ragkit.access import check_groups

    return tuple(sorted(check_groups(value or "", what="--groups")))


def print_json(record: Any) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def add_assistant_options(parser: argparse.ArgumentParser, *, generator: bool = True) -> None:
    add_index_option(parser)
    parser.add_argument("-k", type=int, default=5, help="passages to retrieve (default 5)")
    parser.add_argument("--groups", help="the asker's access groups, e.g. managers")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")
    if not generator:
        return
    from ragkit.generators.registry import LLM_HELP

    parser.add_argument(
        "--llm", default=os.environ.get("RAGKIT_LLM", "extractive"), help=f"{LLM_HELP}; $RAGKIT_LLM"
    )
    parser.add_argument(
        "--adapter",
        type=Path,
        help="adapter folder from `ragkit tune` (any --method: prompt, p-tuning, prefix, lora, "
        "full), loaded on a local --llm (smollm2, gguf:PATH or hf:MODEL) of the base it was "
        "trained on",
    )
    parser.add_argument(
        "--system-prompt", type=Path, help="file replacing the default system prompt"
    )


def build_assistant(args: argparse.Namespace, *, generator: bool = True) -> Any:
    from ragkit.assistant import Assistant, check_k

    if not generator:
        from ragkit.retrieval import open_retriever

        return Assistant(
            open_retriever(index_dir(args)),
            None,
            check_k(args.k),
            frozenset(parse_groups(args.groups)),
        )
    return Assistant.from_index(
        index_dir(args),
        llm=args.llm,
        k=args.k,
        groups=parse_groups(args.groups),
        adapter=args.adapter,
        system_prompt=args.system_prompt,
    )


def run_batch(path: Path, answer: Callable[[str], dict[str, Any]]) -> int:
    """One JSON line per request of a JSONL file, with its id; a bad request gets an error line."""
    failures = 0
    for request_id, question, error in read_jsonl_requests(path, "question"):
        if error is None:
            try:
                print_json({"id": request_id, **answer(question)})
                continue
            except RagkitError as exc:
                error = str(exc)
        failures += 1
        print_json({"id": request_id, "error": error})
    return 1 if failures else 0


def read_jsonl_requests(path: Path, key: str) -> list[tuple[str, Any, str | None]]:
    """(id, text, error) per line of a query file; a bad line gets an error, not an abort."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text: save it as UTF-8 JSONL") from exc
    requests: list[tuple[str, Any, str | None]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            requests.append((f"line-{number}", None, f"{path}:{number}: not valid JSON"))
            continue
        if not isinstance(record, dict):
            requests.append((f"line-{number}", None, f"{path}:{number}: not a JSON object"))
            continue
        request_id = str(record.get("id", f"line-{number}"))
        if key not in record:
            requests.append((request_id, None, f"{path}:{number}: no '{key}' field"))
            continue
        requests.append((request_id, record[key], None))
    return requests
