"""Find the files to ingest under the given paths, and the access groups each one gets.

Folders are walked recursively in sorted order (by path, files and folders interleaved).
Only regular files are read: a FIFO, a device or a socket (or a link to one, `/dev/zero`) is
skipped with a reason, never opened, so a run can neither hang nor abort on one. Symlinks are
followed only when their target lies inside the ingest root: a link to `/etc/shadow` or to the
server's keys is skipped. A folder is never entered twice, so a link loop ends. A file reached
through several paths (itself and links to it) is indexed once, under its own path when that
is among them, with the most restrictive groups of all of its paths and of its real location:
links can never make a restricted file readable by more people. When those groups have nothing
in common the file is refused. Hidden files and folders are ignored silently; everything else
that will not be loaded (unsupported type, over the size limit, broken link, loop, special
file, link out of the root) is listed in `skipped` with a reason, so nothing vanishes unseen.

Access rules: a `.ragkit-access.yaml` in a folder applies to that folder and everything below::

    groups: [managers]                 # every file here and below
    files:                             # or per file; these win over `groups`
      "salary-*.md": [managers, hr]    # no slash: matches the name at any depth
      "reviews/*.md": [hr]             # with a slash: anchored at this folder; ** spans folders

For each file, the deepest rule file with something to say about it wins (within one file, the
last matching pattern wins); `groups: []` makes a file public again. Rule files in the folders
above an ingest root count too, so ingesting a subfolder cannot dodge its parent's rules. A
rule file that cannot be read, has an unknown or duplicate key, or a near-miss name
(`.ragkit-access.yml`, `ragkit-access.yaml`, ...) makes every file it could govern `failed`
with the reason (the pipeline then also drops their indexed copies): a typo must never
silently make restricted files public. `groups_for` raises the ConfigError itself.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.loaders import SUPPORTED_SUFFIXES, unsupported_reason
from ragkit.errors import ConfigError, UsageError
from ragkit.strict import load_yaml

ACCESS_FILE = ".ragkit-access.yaml"
# Names an admin might write for the rule file; finding one is an error, not a silent no-op.
_ACCESS_NEAR_MISSES = (
    ".ragkit-access.yml",
    ".ragkit-access.YAML",
    ".ragkit-access",
    ".ragkit_access.yaml",
    ".ragkit_access.yml",
    "ragkit-access.yaml",
    "ragkit-access.yml",
    ".ragkit-acces.yaml",
    ".ragkitaccess.yaml",
)
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
    run_groups: tuple[str, ...] = ()  # given for the run (--groups, or remembered with a root)


@dataclass(frozen=True)
class Scope:
    """One path to sync: `path` (a file or folder) with sources relative to `root`, which is
    `path` itself for a folder given on its own, or a folder above it (a remembered root)."""

    path: Path
    root: Path
    run_groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, path: Path, run_groups: tuple[str, ...] = ()) -> Scope:
        return cls(path, path if path.is_dir() else path.parent, run_groups)


@dataclass
class DiscoveryResult:
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # access rules unreadable


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


def discover(
    paths: Sequence[Path] = (),
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    scopes: Sequence[Scope] | None = None,
) -> DiscoveryResult:
    """List the loadable files under `paths` (files or folders), or under `scopes` when given,
    and what was skipped or failed and why."""
    walker = _Walker(max_bytes)
    for scope in scopes if scopes is not None else [Scope.of(Path(p)) for p in paths]:
        path = scope.path
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"{path}: no such file or folder; check the path")
        walker.run_groups = scope.run_groups
        if path.is_dir():
            walker.walk_folder(path, scope.root)
        else:
            walker.add_file(path, _source(path, scope.root), scope.root)
    return walker.finish()


def groups_for(candidate: Candidate) -> tuple[str, ...]:
    """Access groups for a candidate from the rule files above it (also set on `groups`)."""
    return _AccessRules().groups(candidate.path.absolute())


def most_restrictive(*group_sets: tuple[str, ...]) -> tuple[str, ...] | None:
    """Groups that are at least as restrictive as each of `group_sets`; None if none can be.

    A chunk is readable by anyone in one of its groups, and `()` means everyone. Someone in a
    group of the intersection passes every set, so the intersection never lets in more people
    than any one set; public sets add no restriction. Disjoint non-public sets: None.
    """
    restricted = [set(groups) for groups in group_sets if groups]
    if not restricted:
        return ()
    common = set.intersection(*restricted)
    return tuple(sorted(common)) if common else None


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file, refusing anything else without blocking on it.

    O_NONBLOCK keeps a FIFO swapped in after discovery from hanging the open; the fstat check
    refuses it (and devices) on the descriptor actually opened; reading at most max_bytes + 1
    keeps a file that grew past the limit from being read whole. Raises OSError.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"not a regular file ({_kind(info.st_mode)})")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise OSError(errno.EFBIG, f"file grew over the {max_bytes / 2**20:g} MB limit")
    return data


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


_Ignores = tuple[tuple[Path, tuple[str, ...]], ...]


class _Walker:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.result = DiscoveryResult()
        # (device, inode) -> every path reaching that file: symlinks and hard links alike
        self.by_file: dict[tuple[int, int], list[Candidate]] = {}
        self.link_counts: dict[tuple[int, int], int] = {}
        self.seen_sources: dict[str, Path] = {}  # source -> root, to catch clashes
        self.rules = _AccessRules()
        self.linked_folders: list[tuple[Path, frozenset[str], _Ignores]] = []
        self.run_groups: tuple[str, ...] = ()

    def walk_folder(self, folder: Path, root: Path) -> None:
        real_folder = os.path.realpath(folder)
        walked = {real_folder}
        self._walk(folder, root, frozenset({real_folder}), walked, ())
        # Linked folders last, so a folder's own path wins over a link's path to it.
        while self.linked_folders:
            path, ancestors, ignores = self.linked_folders.pop(0)
            self._enter(path, root, ancestors, walked, ignores)

    def finish(self) -> DiscoveryResult:
        """One candidate per real file, with the most restrictive groups of all its paths."""
        for key, reaching in self.by_file.items():
            reals = list(dict.fromkeys(os.path.realpath(c.path) for c in reaching))
            own = [c for c in reaching if os.path.abspath(c.path) == reals[0]]
            keep = own[0] if own else reaching[0]
            if self.link_counts[key] > len(reals):
                self.result.skipped.append(
                    (
                        keep.source,
                        f"has {self.link_counts[key]} hard links but only {len(reals)} inside "
                        "what was given: the others' access rules are unknown; ingest a copy",
                    )
                )
                continue
            # Each real location's rules count even when it was not walked (a hidden or
            # ignored folder, or a folder above the root).
            try:
                at_real = [self.rules.groups(Path(real)) for real in reals]
            except ConfigError as exc:
                self.result.failed.append((keep.source, f"access rules cannot be read: {exc}"))
                continue
            groups = most_restrictive(*at_real, *(c.groups for c in reaching))
            at_real_text = " and ".join(str(list(g)) for g in at_real)
            if groups is None:
                paths = ", ".join(f"'{c.source}' {list(c.groups)}" for c in reaching)
                self.result.skipped.append(
                    (
                        keep.source,
                        f"reached through paths whose access groups share no group ({paths}; "
                        f"its own folder gives {at_real_text}): fix the link or the rules",
                    )
                )
                continue
            self.result.candidates.append(
                Candidate(keep.path, keep.source, keep.root, groups, keep.run_groups)
            )
            for other in reaching:
                if other is not keep:
                    linked = os.path.realpath(other.path) != os.path.abspath(other.path)
                    kind = "a symlink" if linked else "a hard link"
                    self.result.skipped.append(
                        (other.source, f"same file as '{keep.source}' ({kind})")
                    )
        return self.result

    def _walk(
        self,
        folder: Path,
        root: Path,
        ancestors: frozenset[str],
        walked: set[str],
        ignores: _Ignores,
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
            if entry.is_symlink():
                self.linked_folders.append((path, ancestors, ignores))
            else:
                self._enter(path, root, ancestors, walked, ignores)

    def _enter(
        self,
        path: Path,
        root: Path,
        ancestors: frozenset[str],
        walked: set[str],
        ignores: _Ignores,
    ) -> None:
        real = os.path.realpath(path)
        if not _inside(real, os.path.realpath(root)):
            self.result.skipped.append(
                (_source(path, root), f"symlink to a folder outside the ingest root ({real})")
            )
            return
        if real in ancestors or real in walked:
            reason = "symlink loop" if real in ancestors else "symlink to a folder already included"
            self.result.skipped.append((_source(path, root), reason))
            return
        walked.add(real)
        self._walk(path, root, ancestors | {real}, walked, ignores)

    def add_file(self, path: Path, source: str, root: Path) -> None:
        skipped = self.result.skipped
        try:
            info = path.stat()
        except OSError as exc:
            loop = exc.errno == errno.ELOOP
            skipped.append((source, "symlink loop" if loop else "broken symlink"))
            return
        size = info.st_size
        real = os.path.realpath(path)
        if not _inside(real, os.path.realpath(root)):
            skipped.append((source, f"symlink to a file outside the ingest root ({real})"))
            return
        if not stat.S_ISREG(info.st_mode):
            skipped.append((source, f"{_kind(info.st_mode)}, not a regular file; not read"))
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
        if source in self.seen_sources and self.seen_sources[source] != root:
            skipped.append(
                (
                    source,
                    f"another input ({self.seen_sources[source]}) has a file with this name; "
                    "ingest their common parent folder instead",
                )
            )
            return
        self.seen_sources[source] = root
        try:
            groups = self.rules.groups(path.absolute())
        except ConfigError as exc:
            self.result.failed.append((source, f"access rules cannot be read: {exc}"))
            return
        candidate = Candidate(path, source, root, groups, self.run_groups)
        key = (info.st_dev, info.st_ino)
        self.by_file.setdefault(key, []).append(candidate)
        self.link_counts[key] = info.st_nlink


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
            for name in _ACCESS_NEAR_MISSES:
                near = folder / name
                if os.path.lexists(near) and not (rule_file.exists() and near.samefile(rule_file)):
                    raise ConfigError(
                        f"{near}: access rules must be in a file named exactly "
                        f"'{ACCESS_FILE}'; rename it (or delete it): rules are never guessed"
                    )
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
        data = load_yaml(rule_file.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise fail(f"cannot read access rules ({_yaml_problem(exc)})") from exc
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


def _yaml_problem(exc: BaseException) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{getattr(exc, 'problem', None) or type(exc).__name__}{where}"


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
