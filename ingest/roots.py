"""The roots an index remembers, and what one run of `ragkit ingest` covers.

The manifest keeps `roots`: each file or folder ever given to `ragkit ingest` (real paths),
with the run-level groups (`--groups`) it was given. A run then means what people expect:

- `ragkit ingest PATH...` adds or updates what is under PATH and removes only files that
  disappeared from inside PATH; the rest of the index stays. A PATH inside a remembered
  folder keeps that folder's source names (`policies/hr/x.md` stays `hr/x.md`).
- `ragkit ingest` with no PATH re-syncs every remembered root.
- A root given again without `--groups` keeps its remembered groups (with a note), so a
  later run cannot quietly make restricted files public; `--groups` replaces them.
- A folder given that contains remembered roots absorbs them.
- An index folder remembers where it was written (`home`, its real path). Copied or moved
  elsewhere together with its documents (a project folder holding both), it follows the
  documents at the same place relative to it (`relocated`): the first sync finds them
  unchanged (hashed, not re-embedded) and records the new paths. Only roots inside the folder
  that holds the index follow it, only when the same relative path exists at the new place,
  and only for a copy (the old index is still there) or a move of the documents too (the
  old root is gone): an index moved alone keeps following its documents where they are.

    plan_scopes(paths, remembered, run_groups) -> (scopes, roots to remember, notes)
    relocated(manifest, home) -> (manifest with rebased paths, notes)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ingest.discover import Scope
from ragkit.errors import UsageError

Root = dict[str, Any]  # {"path": real path, "kind": "folder" | "file", "groups": [...]}


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def relocated(manifest: dict[str, Any], home: str) -> tuple[dict[str, Any], list[str]]:
    """`manifest` with its remembered roots, file paths and exclusions rebased when the index
    now lives at `home` (a real path) but was written at `manifest["home"]`: a root inside
    the old home's parent folder moves to the same relative place under the new home's parent
    when something exists there and the index was copied (its old home exists) or the root is
    gone from its old place (moved with the index). A manifest with no home (written before
    indexes recorded it), or written here, is returned as it is. The "home" key itself is
    left as written, so the caller can tell that the next write must record the new one."""
    written = manifest.get("home")
    if not written or written == home:
        return manifest, []
    old_base, new_base = os.path.dirname(written), os.path.dirname(home)
    # a copy (the index is still at its old home too) or a move of the whole project (the
    # root is gone from its old place); an index moved alone keeps its roots where they are,
    # even when a folder of the same name happens to sit beside its new place
    copied = os.path.lexists(written)
    moves: dict[str, str] = {}
    for root in manifest.get("roots", []):
        path = root["path"]
        if inside(path, old_base) and path != old_base:
            moved = os.path.join(new_base, os.path.relpath(path, old_base))
            there = os.path.lexists(moved)
            if moved != path and there and (copied or not os.path.lexists(path)):
                moves[path] = moved
    if not moves:
        return manifest, []

    def rebase(path: str) -> str:
        for old, new in moves.items():
            if inside(path, old):
                return new + path[len(old) :]
        return path

    files = {
        source: {**entry, "path": rebase(entry["path"])} if entry.get("path") else entry
        for source, entry in manifest.get("files", {}).items()
    }
    roots = [{**root, "path": rebase(root["path"])} for root in manifest.get("roots", [])]
    excluded = [rebase(path) for path in manifest.get("excluded", [])]
    notes = [
        f"this index was written at {written}: it follows {old} at {new}"
        for old, new in moves.items()
    ]
    return {**manifest, "files": files, "roots": roots, "excluded": excluded}, notes


def covers(scope: Scope, real_path: str) -> bool:
    """Whether a file at `real_path` lies within what `scope` syncs."""
    own = os.path.realpath(scope.path)
    return (
        inside(real_path, own)
        if scope.path.is_dir() or scope.path == scope.root
        else real_path == own
    )


def plan_scopes(
    paths: Sequence[Path],
    remembered: Sequence[Root],
    run_groups: tuple[str, ...] | None,
) -> tuple[list[Scope], list[Root], list[str]]:
    """Scopes for this run, the roots to remember after it, and notes for the user.

    Scopes whose path no longer exists (remembered roots that are gone) come last; they only
    mark where files disappeared.

    `run_groups` None means `--groups` was not given. Raises UsageError when no path is given
    and the index remembers none.
    """
    roots = [dict(root) for root in remembered]
    notes: list[str] = []
    gone: list[Scope] = []
    if not paths:
        if not roots:
            raise UsageError(
                "no PATH given and this index remembers no folders: run "
                "`ragkit ingest PATH... --index DIR` first"
            )
        # A remembered root that no longer exists: its files disappeared, and so does it.
        for root in [r for r in roots if not os.path.lexists(r["path"])]:
            notes.append(f"{root['path']} no longer exists: its files are removed from the index")
            gone.append(Scope(Path(root["path"]), Path(root["path"]), ()))
            roots.remove(root)
        paths = [Path(root["path"]) for root in roots]
    for given in paths:
        if not Path(given).exists() and not Path(given).is_symlink():
            raise UsageError(f"{given}: no such file or folder; check the path")
    reals = list(dict.fromkeys(os.path.realpath(p) for p in paths))
    # A path inside another folder of this run is synced with it, not twice.
    reals = [
        r for r in reals if not any(o != r and os.path.isdir(o) and inside(r, o) for o in reals)
    ]
    scopes: list[Scope] = []
    for real in reals:
        root = _containing_root(real, roots)
        if root is None:
            kind = "folder" if os.path.isdir(real) else "file"
            if kind == "folder":  # a folder given absorbs the roots inside it
                roots = [r for r in roots if not inside(r["path"], real)]
            root = {"path": real, "kind": kind, "groups": list(run_groups or ())}
            roots.append(root)
        elif run_groups is None:
            if root["groups"]:
                notes.append(
                    f"using the groups remembered for {root['path']}: "
                    f"{', '.join(root['groups'])} (pass --groups to change them)"
                )
        elif root["path"] == real:
            root["groups"] = list(run_groups)
        groups = tuple(root["groups"]) if run_groups is None else run_groups
        base = root["path"] if root["kind"] == "folder" else os.path.dirname(root["path"])
        scopes.append(Scope(Path(real), Path(base), groups))
    return [*scopes, *gone], sorted(roots, key=lambda r: r["path"]), notes


def _containing_root(real: str, roots: Sequence[Root]) -> Root | None:
    for root in roots:
        if root["kind"] == "folder" and inside(real, root["path"]):
            return root
        if root["kind"] == "file" and real == root["path"]:
            return root
    return None
