"""Access groups as they enter from outside: one check for the CLI, Python, HTTP and keys files.

Groups decide what an asker may read, so a malformed value must be refused, never reshaped:
`frozenset("managers")` is the groups m, a, n, g, e, r, s, and `frozenset(None)` a TypeError
deep inside retrieval. Accepted: a list, tuple or set of names, or one string of
comma-separated names (as `--groups hr,managers` and keys files write them). A name is
letters (any script), digits, '-' and '_'.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ragkit.errors import UsageError

_EXAMPLE = "e.g. ['hr', 'managers'] or 'hr,managers'"


def check_groups(value: Any, *, what: str = "groups") -> frozenset[str]:
    """The access groups `value` names; UsageError naming `what` when it is not group names."""
    if isinstance(value, str):
        names: Iterable[Any] = [name.strip() for name in value.split(",") if name.strip()]
    elif isinstance(value, list | tuple | set | frozenset):
        names = value
    else:
        shown = "None" if value is None else type(value).__name__
        raise UsageError(f"{what} must be a list of group names ({_EXAMPLE}), not {shown}")
    for name in names:
        if not isinstance(name, str):
            raise UsageError(
                f"{what} must hold group names as text, not {type(name).__name__} {name!r:.40}"
            )
        if not is_group_name(name):
            raise UsageError(
                f"bad group name {name!r:.60} in {what}: use letters, digits, '-' and '_'"
            )
    return frozenset(names)


def is_group_name(name: str) -> bool:
    return bool(name) and name.replace("-", "").replace("_", "").isalnum()
