"""The README's `ragkit ask --json` shape lists every key the command emits, at every level
(the answer, each citation and its `also` entries, each passage): a field added to
`Answer.to_json`, `Citation.to_json` or `Hit.to_json` fails here until the README says it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import TINY_CORPUS

from ragkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
Shape = dict[str, "Shape | None"]  # key -> the shape of its object (or list items), or None


def parse_shape(text: str) -> Shape:
    """`{"a", "b": [{"c"}]}` -> {"a": None, "b": {"c": None}}: the README's pseudo-JSON, keys
    only (a list stands for its items)."""
    tokens = re.findall(r'"[^"]*"|[{}\[\]:,]', text)
    at = 0

    def obj() -> Shape:
        nonlocal at
        assert tokens[at] == "{", tokens[at:]
        at += 1
        shape: Shape = {}
        while tokens[at] != "}":
            key = tokens[at].strip('"')
            at += 1
            value = None
            if tokens[at] == ":":
                at += 1
                opened = tokens[at] == "["
                at += opened
                value = obj()
                if opened:
                    assert tokens[at] == "]", tokens[at:]
                    at += 1
            shape[key] = value
            if tokens[at] == ",":
                at += 1
        at += 1
        return shape

    return obj()


def emitted(value: Any) -> Shape:
    """The keys of a JSON object and, for an object or a list of objects under a key, of those
    objects (merged over the list's items)."""
    shape: Shape = {}
    for key, inner in value.items():
        items = inner if isinstance(inner, list) else [inner]
        nested = [emitted(i) for i in items if isinstance(i, dict)]
        shape[key] = _merge(nested) if nested else None
    return shape


def _merge(shapes: list[Shape]) -> Shape:
    merged: Shape = {}
    for shape in shapes:
        for key, inner in shape.items():
            before = merged.get(key)
            merged[key] = _merge([s for s in (before, inner) if s]) if before or inner else None
    return merged


def missing(shape: Shape, documented: Shape, where: str = "") -> list[str]:
    out = []
    for key, inner in shape.items():
        if key not in documented:
            out.append(f"{where}{key}")
        elif inner:
            out += missing(inner, documented[key] or {}, f"{where}{key}.")
    return out


def readme_shape() -> Shape:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"`--json` gives `(\{.*?\})`", readme, re.DOTALL)
    assert found, "the README's asking section states the --json shape: `--json` gives `{...}`"
    return parse_shape(found.group(1))


def test_parse_shape_reads_nested_keys():
    assert parse_shape('{"a", "b": [{"c", "d": [{"e"}]}], "f": {"g"}}') == {
        "a": None,
        "b": {"c": None, "d": {"e": None}},
        "f": {"g": None},
    }
    assert missing({"a": None, "b": {"c": None, "x": None}}, {"a": None, "b": {"c": None}}) == [
        "b.x"
    ]


@pytest.fixture(scope="module")
def duplicated_index(tmp_path_factory) -> Path:
    """The tiny corpus with one file stored twice, so a citation has an `also` entry."""
    from ingest.pipeline import IngestOptions, ingest

    root = tmp_path_factory.mktemp("corpus")
    for name, text in TINY_CORPUS.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "copy").mkdir()
    (root / "copy" / "expenses.md").write_text(TINY_CORPUS["expenses.md"], encoding="utf-8")
    index = tmp_path_factory.mktemp("index")
    assert ingest([root], index, IngestOptions(model="hash:256", progress=False)).ok
    return index


def test_readme_lists_every_key_ask_json_emits(capsys, duplicated_index):
    question = "How much are meals reimbursed per day?"
    assert main(["ask", question, "--index", str(duplicated_index), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["citations"] and record["citations"][0]["also"], record  # every level filled
    assert missing(emitted(record), readme_shape()) == []
