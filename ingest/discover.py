"""Find the files to ingest under the given paths, and the access groups each one gets.

Folders are walked recursively in sorted order (by path, files and folders interleaved),
following symlinks but never into the same real folder twice, so a link loop ends instead of
hanging. Hidden files and folders are ignored
silently; everything else that will not be loaded (unsupported type, over the size limit,
broken link, loop, duplicate) is listed in `skipped` with a reason, so nothing vanishes unseen.

Access rules: a `.ragkit-access.yaml` in a folder applies to that folder and everything below::

    groups: [managers]                 # every file here and below
    files:                             # or per file; these win over `groups`
      "salary-*.md": [managers, hr]    # no slash: matches the name at any depth
      "reviews/*.md": [hr]             # with a slash: anchored at this folder; ** spans folders

For each file, the deepest rule file with something to say about it wins (within one file, the
last matching pattern wins); `groups: []` makes a file public again. Rule files in the folders
above an ingest root count too, so ingesting a subfolder cannot dodge its parent's rules. A
rule file that cannot be read, or has an unknown key, stops discovery with a ConfigError: a
typo must never silently make restricted files public.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.loaders import SUPPORTED_SUFFIXES, unsupported_reason
from ragkit.errors import ConfigError, UsageError

ACCESS_FILE = ".ragkit-access.yaml"
IGNORE_FILE = (
    ".ragkitignore"  # glob patterns, one a line, like .gitignore: files that aren't documents
)
DEFAULT_MAX_BYTES = 100 * 2**20


@dataclass(frozen=True)
class Candidate:
    """A file to load. `source` is its path relative to `root`, with forward slashes."""

    path: Path
    source: str
    root: Path
    groups: tuple[str, ...] = ()  # from access rule files; empty means everyone


@dataclass
class DiscoveryResult:
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


@dataclass(frozen=True)
class AccessRule:
    folder: Path
    groups: tuple[str, ...] | None  # None: this rule file says nothing folder-wide
    files: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def groups_for(self, path: Path) -> tuple[str, ...] | None:
        relative = path.relative_to(self.folder).as_posix()
        found = self.groups
        for pattern, groups in self.files:
            if _matches(relative, pattern):
                found = groups
        return found


def discover(paths: Sequence[Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> DiscoveryResult:
    """List the loadable files under `paths` (files or folders) and what was skipped and why."""
    walker = _Walker(max_bytes)
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"{path}: no such file or folder; check the path")
        if path.is_dir():
            walker.walk_folder(path)
        else:
            walker.add_file(path, path.name, path.parent, explicit=True)
    return walker.result


def groups_for(candidate: Candidate) -> tuple[str, ...]:
    """Access groups for a candidate from the rule files above it (also set on `groups`)."""
    return _AccessRules().groups(candidate.path.absolute())


class _Walker:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.result = DiscoveryResult()
        self.seen_files: dict[str, str] = {}  # real path -> source that claimed it
        self.seen_sources: dict[str, Path] = {}  # source -> root, to catch clashes
        self.rules = _AccessRules()

    def walk_folder(self, root: Path) -> None:
        real_root = os.path.realpath(root)
        self._walk(root, root, frozenset({real_root}), {real_root}, ())

    def _walk(
        self,
        folder: Path,
        root: Path,
        ancestors: frozenset[str],
        walked: set[str],
        ignores: tuple[tuple[Path, tuple[str, ...]], ...],
    ) -> None:
        # Our own walk rather than os.walk: files and folders interleave in one sorted order,
        # and a folder reached again through a link is reported, not silently dropped.
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            self.result.skipped.append(
                (_source(folder, root), f"cannot read folder: {exc.strerror}")
            )
            return
        ignores = (*ignores, (folder, read_ignore_file(folder / IGNORE_FILE)))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if _ignored(path, ignores):
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if not is_dir:
                self.add_file(path, _source(path, root), root)
                continue
            real = os.path.realpath(path)
            if real in ancestors or real in walked:
                reason = (
                    "symlink loop" if real in ancestors else "symlink to a folder already included"
                )
                self.result.skipped.append((_source(path, root), reason))
                continue
            walked.add(real)
            self._walk(path, root, ancestors | {real}, walked, ignores)

    def add_file(self, path: Path, source: str, root: Path, *, explicit: bool = False) -> None:
        skipped = self.result.skipped
        try:
            size = path.stat().st_size
        except OSError as exc:
            loop = exc.errno == errno.ELOOP
            skipped.append((source, "symlink loop" if loop else "broken symlink"))
            return
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            skipped.append((source, unsupported_reason(suffix)))
            return
        if size > self.max_bytes:
            skipped.append(
                (
                    source,
                    f"file is {size / 2**20:.1f} MB, over the {self.max_bytes / 2**20:g} MB "
                    "limit; raise it with --max-file-mb",
                )
            )
            return
        real = os.path.realpath(path)
        if real in self.seen_files:
            skipped.append((source, f"same file as '{self.seen_files[real]}' (a symlink)"))
            return
        if source in self.seen_sources and self.seen_sources[source] != root:
            skipped.append(
                (
                    source,
                    f"another input ({self.seen_sources[source]}) has a file with this name; "
                    "ingest their common parent folder instead",
                )
            )
            return
        self.seen_files[real] = source
        self.seen_sources[source] = root
        candidate = Candidate(path, source, root, self.rules.groups(path.absolute()))
        self.result.candidates.append(candidate)


def read_ignore_file(ignore_file: Path) -> tuple[str, ...]:
    try:
        lines = ignore_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{ignore_file}: cannot read it ({type(exc).__name__}); fix or remove it"
        ) from exc
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _ignored(path: Path, ignores: tuple[tuple[Path, tuple[str, ...]], ...]) -> bool:
    for folder, patterns in ignores:
        relative = path.relative_to(folder).as_posix()
        if any(_matches(relative, pattern) for pattern in patterns):
            return True
    return False


def _source(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else "."


class _AccessRules:
    """Rule files found so far, per folder; one instance per discovery, so edits are seen."""

    def __init__(self) -> None:
        self._by_folder: dict[Path, tuple[AccessRule, ...]] = {}

    def groups(self, path: Path) -> tuple[str, ...]:
        found: tuple[str, ...] = ()
        for rule in self._chain(path.parent):  # outermost first, so deeper ones override
            groups = rule.groups_for(path)
            if groups is not None:
                found = groups
        return found

    def _chain(self, folder: Path) -> tuple[AccessRule, ...]:
        if folder not in self._by_folder:
            inherited = () if folder.parent == folder else self._chain(folder.parent)
            rule_file = folder / ACCESS_FILE
            if rule_file.is_file():
                inherited = (*inherited, read_rule_file(rule_file))
            self._by_folder[folder] = inherited
        return self._by_folder[folder]


def read_rule_file(rule_file: Path) -> AccessRule:
    def fail(problem: str) -> ConfigError:
        return ConfigError(
            f"{rule_file}: {problem}; expected 'groups: [name, ...]' and/or "
            "'files: {\"pattern\": [name, ...]}' (fix it: access rules are never guessed)"
        )

    try:
        data = yaml.safe_load(rule_file.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise fail(f"cannot read access rules ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise fail("not a YAML mapping")
    unknown = sorted(str(key) for key in data if key not in ("groups", "files"))
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}")
    groups = None if data.get("groups") is None else _names(data["groups"], "groups", fail)
    files = data.get("files") or {}
    if not isinstance(files, dict):
        raise fail("'files' must map glob patterns to group lists")
    patterns = tuple(
        (str(pattern), _names(names, f"files.{pattern}", fail)) for pattern, names in files.items()
    )
    return AccessRule(rule_file.parent, groups, patterns)


def _names(value: object, key: str, fail: Callable[[str], ConfigError]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise fail(f"'{key}' must be a list of group names")
    return tuple(name.strip() for name in value if name.strip())


def _matches(relative: str, pattern: str) -> bool:
    """gitignore-like: a pattern without '/' matches the file name at any depth; one with '/'
    is anchored at the rule file's folder, '*' stays within one folder and '**' spans any."""
    pattern = pattern.strip("/")
    if "/" not in pattern:
        return fnmatch.fnmatchcase(relative.rsplit("/", 1)[-1], pattern)
    return _match_parts(relative.split("/"), pattern.split("/"))


def _match_parts(parts: list[str], pattern: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match_parts(parts[index:], pattern[1:]) for index in range(len(parts) + 1))
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0], pattern[0])
        and _match_parts(parts[1:], pattern[1:])
    )
