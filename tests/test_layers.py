"""The layers import one way: `ingest/` -> `ragkit.index` (and `ragkit.errors`); nothing under
`ragkit/` imports `ingest`; `ragkit.index` imports none of retrieval, generators, eval, serve.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in `path` names, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("ragkit"), ids=lambda p: str(p.relative_to(ROOT)))
def test_ragkit_never_imports_ingest(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m == "ingest" or m.startswith("ingest.")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize(
    "path", python_files("ragkit/index"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_index_core_imports_only_itself_and_errors(path: Path) -> None:
    # ragkit.strict: leaf parsers (no ragkit imports) that refuse duplicate keys.
    allowed = ("ragkit.index", "ragkit.errors", "ragkit.text", "ragkit.cache", "ragkit.strict")
    bad = {
        m
        for m in imported_modules(path)
        if (m == "ragkit" or m.startswith("ragkit.")) and not m.startswith(allowed)
    }
    assert not bad, f"{path.relative_to(ROOT)} reaches up into {sorted(bad)}"


def test_the_query_path_loads_no_ingest_module() -> None:
    """Importing every library module under ragkit/ (all but the CLI table) loads no `ingest`."""
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in python_files("ragkit")
        if "cli" not in p.relative_to(ROOT).parts and "serve" not in p.relative_to(ROOT).parts
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m == 'ingest' or m.startswith('ingest.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
