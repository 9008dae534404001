"""The run's files that make it resumable: results.jsonl and config.json.

Every record is appended to results.jsonl as soon as it exists, so a killed run loses at most
the line it was writing; a rerun reads the file back and skips what is done. config.json holds
a digest of everything the results depend on, so a rerun with other settings is refused rather
than mixed into the same results. Kept apart from the loop so the report can read results
without importing it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ragkit.errors import UsageError


def read_results(path: Path) -> list[dict[str, Any]]:
    """Records of results.jsonl; a line cut short by a killed run is dropped (and rewritten)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # killed mid-write: drop the partial last line
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    records = []
    for line in data.decode("utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def latest_records(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The last record per (question id, condition)."""
    return {(r["id"], r["condition"]): r for r in records}


def check_config(out_dir: Path, identity: Mapping[str, Any]) -> None:
    """Write config.json, or refuse when an earlier run in `out_dir` used other settings."""
    path = out_dir / "config.json"
    if path.exists() and (out_dir / "results.jsonl").exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(
            k for k in set(previous) | set(identity) if previous.get(k) != identity.get(k)
        )
        if changed:
            raise UsageError(
                f"{out_dir} holds results of a run with other settings ({', '.join(changed)} "
                "differ): pass a new --out, or delete that folder to start again"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(identity, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise UsageError(f"cannot read --system-prompt {path}: {exc.strerror}") from exc


def identity_digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
