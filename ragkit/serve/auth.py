"""API keys and the access groups they grant.

A keys file is JSON or YAML (chosen by content, not by extension)::

    keys:
      - name: hr-app                 # shown in logs instead of the key; unique
        key: "rk-7Hq...long-random"  # at least 16 characters
        groups: [hr, managers]
      - name: intranet
        key_sha256: "9f86d0..."      # or the key's SHA-256 (hex): the file then holds no secret
        groups: []                   # public documents only

A presented key is hashed with SHA-256 and compared with `hmac.compare_digest` against every
stored digest, with no early exit, so response time says neither whether nor which key
matched. Keys are never logged and never appear in error messages: entries are named by
`name` or position.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.access import check_groups
from ragkit.errors import ConfigError, UsageError
from ragkit.serve.openai_compat import ApiError
from ragkit.strict import DuplicateKeyError, load_yaml, loads_json

MIN_KEY_CHARS = 16
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Caller:
    """Who is asking: the key's name ("anonymous" without auth) and its access groups."""

    name: str
    groups: frozenset[str]


@dataclass(frozen=True)
class _Entry:
    name: str
    digest: bytes  # sha256 of the key
    groups: frozenset[str]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class KeyRing:
    """The configured keys; `lookup` finds a presented key's caller in constant time."""

    def __init__(self, entries: list[_Entry]) -> None:
        if not entries:
            raise ConfigError("the keys file holds no keys: add at least one, or use --no-auth")
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_mapping(cls, keys: Mapping[str, frozenset[str] | set[str] | list[str]]) -> KeyRing:
        """From {key: groups}; entries are named key-1, key-2, ... in insertion order."""
        return cls(
            [
                _Entry(
                    f"key-{n}", _digest(_check_key(key, f"key-{n}")), _check_groups(g, f"key-{n}")
                )
                for n, (key, g) in enumerate(keys.items(), start=1)
            ]
        )

    def lookup(self, presented: str) -> Caller | None:
        """The caller for a presented key, or None. Every entry is compared, always."""
        digest = _digest(presented)
        found: _Entry | None = None
        for entry in self._entries:
            if hmac.compare_digest(digest, entry.digest):
                found = entry  # no break: the loop's duration must not depend on the match
        return None if found is None else Caller(found.name, found.groups)


def load_keys(path: Path | str) -> KeyRing:
    """Read a keys file (see the module docstring); ConfigError names what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read keys file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"keys file {path} is not UTF-8 text") from exc
    return parse_keys(_parse(text, path), str(path))


def _parse(text: str, path: Path) -> Any:
    # A key given twice is an error, never "the last one wins" (see ragkit.strict).
    try:
        return loads_json(text)
    except DuplicateKeyError as exc:
        raise ConfigError(f"keys file {path}: {exc}; give each field once") from None
    except json.JSONDecodeError:
        pass
    import yaml

    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        # The problem mark gives line and column; the offending text itself may be a key.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(exc, "problem", "") or "")
        if problem.startswith("duplicate key"):
            raise ConfigError(f"keys file {path}: {problem}{where}; give each field once") from None
        raise ConfigError(f"keys file {path} is neither valid JSON nor YAML{where}") from None


def parse_keys(data: Any, origin: str = "keys file") -> KeyRing:
    """A KeyRing from the parsed file: {"keys": [{"name", "key" | "key_sha256", "groups"}]}."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ConfigError(
            f'{origin}: expected a mapping with a "keys" list, e.g. '
            '{"keys": [{"name": "hr-app", "key": "...", "groups": ["managers"]}]}'
        )
    entries: list[_Entry] = []
    names: set[str] = set()
    digests: set[bytes] = set()
    for n, item in enumerate(data["keys"], start=1):
        if not isinstance(item, dict):
            raise ConfigError(f"{origin}: keys entry {n} is not a mapping")
        name = item.get("name") or f"key-{n}"
        where = f"{origin}: keys entry {n} ({name})"
        if not isinstance(name, str):
            raise ConfigError(f"{where}: name must be text")
        unknown = set(item) - {"name", "key", "key_sha256", "groups"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
                "allowed: name, key, key_sha256, groups"
            )
        if ("key" in item) == ("key_sha256" in item):
            raise ConfigError(f"{where}: give exactly one of key and key_sha256")
        if "key" in item:
            digest = _digest(_check_key(item["key"], where))
        else:
            hexdigest = item["key_sha256"]
            if not isinstance(hexdigest, str) or not _HEX64.match(hexdigest.lower()):
                raise ConfigError(f"{where}: key_sha256 must be 64 hex digits")
            digest = bytes.fromhex(hexdigest)
        if name in names:
            raise ConfigError(f"{where}: the name is used twice; names must be unique")
        if digest in digests:
            raise ConfigError(f"{where}: the same key appears twice; give each client its own")
        names.add(name)
        digests.add(digest)
        entries.append(_Entry(name, digest, _check_groups(item.get("groups", []), where)))
    return KeyRing(entries)


def _check_key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise ConfigError(f"{where}: key must be text")
    if len(key) < MIN_KEY_CHARS or key != key.strip():
        raise ConfigError(
            f"{where}: key is too short or has surrounding spaces; use {MIN_KEY_CHARS}+ "
            "characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return key


def _check_groups(groups: Any, where: str) -> frozenset[str]:
    try:
        return check_groups(groups)
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer KEY` (what the OpenAI SDK sends) or `X-API-Key`."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-api-key", "").strip() or None


@dataclass(frozen=True)
class Authenticator:
    """Request headers to a Caller, or a 401 ApiError. See `create_app` for the rules."""

    keyring: KeyRing | None
    no_auth: bool
    anonymous_groups: frozenset[str] = frozenset()

    def caller(self, headers: Mapping[str, str]) -> Caller:
        presented = presented_key(headers)
        if presented is not None and self.keyring is not None:
            found = self.keyring.lookup(presented)
            if found is None:
                raise ApiError(401, "invalid API key", code="invalid_api_key")
            return found
        if self.no_auth:
            return Caller("anonymous", self.anonymous_groups)
        raise ApiError(
            401,
            "no API key: send it as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
            code="missing_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
