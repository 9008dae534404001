"""YAML and JSON parsing that refuses duplicate keys.

PyYAML and the json module silently keep the last of two equal keys, so `groups: []` followed
by `groups: [managers]` reads as restricted in one tool and public in another reader's eyes.
Everything ragkit reads that can carry access rules or keys (rule files, front matter, JSONL
records, keys.yaml, manifests) goes through these instead.

    load_yaml(text) -> Any        raises yaml.YAMLError (a ConstructorError) on a repeated key
    loads_json(text) -> Any       raises ValueError (DuplicateKeyError) on a repeated key
"""

from __future__ import annotations

import functools
import json
from typing import Any


class DuplicateKeyError(ValueError):
    """A JSON object holds the same key twice; the message names the key."""


def loads_json(text: str | bytes) -> Any:
    return json.loads(text, object_pairs_hook=_json_pairs)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError(f"duplicate key '{key}'")
        result[key] = value
    return result


def load_yaml(text: str) -> Any:
    """`yaml.safe_load` that raises yaml.YAMLError on a duplicate key in any mapping."""
    loader = _strict_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@functools.cache
def _strict_loader() -> Any:
    import yaml  # lazily: `import ragkit` stays fast

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: SafeLoader reports it itself
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"duplicate key '{key}'",
                        key_node.start_mark,
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader
