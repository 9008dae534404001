"""YAML and JSON that ragkit reads, parsed so that a mapping may not name a key twice.

PyYAML and `json` both keep the last of two equal keys without a word, so a keys file with
`groups: []` and then `groups: [managers]` in one entry silently grants managers, and a
reviewer reading the first line sees no access at all. Here a repeated key is an error
naming the key (and, for YAML, its line), raised as `DuplicateKeyError` (a ValueError).
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateKeyError(ValueError):
    """A mapping names the same key twice; the message names the key and where."""


def loads_json(text: str) -> Any:
    """`json.loads`, refusing an object that repeats a key. Raises json.JSONDecodeError too."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for key, value in pairs:
            if key in record:
                raise DuplicateKeyError(f"the key {key[:60]!r} appears twice in one object")
            record[key] = value
        return record

    return json.loads(text, object_pairs_hook=unique)


def loads_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing a mapping that repeats a key. Raises yaml.YAMLError too."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        loader.flatten_mapping(node)  # merge keys (<<) first, as SafeLoader does
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise DuplicateKeyError(f"the key {str(key)[:60]!r} appears twice (line {line})")
            seen.add(key)
        return loader.construct_mapping(node, deep=True)

    UniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping
    )
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
