"""A loader whose output changes must have its version bumped (ingest.loaders.LOADER_VERSIONS).

Indexes re-extract a file only when its loader's version changed since it was read, so an
output change shipped without a bump leaves every existing index with the old extraction.
This test pins a digest of each loader's output on committed documents, recorded beside the
version that produced it (tests/fixtures/loader_outputs.json). When it fails after a loader
change: bump that loader's version, then record the new digests with
`PYTHONPATH=. python tests/test_loader_versions.py` (a change that leaves the output the same
needs neither). A dependency upgrade that changes the output (pypdf, trafilatura,
markdown-it-py...) fails it too, and calls for the same: library versions are not part of a
loader's version, so without a bump indexes keep what the older library extracted. Scanned
pages are left out: their text depends on the installed Tesseract.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECORD = REPO / "tests" / "fixtures" / "loader_outputs.json"
CASES = REPO / "tests" / "fixtures" / "cases"
# BEIR-shaped records: titles, metadata, a declared language, an empty text.
JSONL = (
    b'{"_id": "a1", "title": "Annual leave", "text": "Staff get 25 days.", '
    b'"metadata": {"lang": "en", "year": 2025}}\n'
    b'{"_id": "f1", "title": "F\xc3\xa9rias", "text": "S\xc3\xa3o 22 dias \xc3\xbateis.", '
    b'"metadata": {"language": "pt-BR"}}\n'
    b'{"_id": "e1", "title": "Empty", "text": ""}\n'
)


def inputs(tmp: Path) -> dict[str, list[Path]]:
    """The committed documents each loader's digest is taken over, by loader name."""
    (tmp / "records.jsonl").write_bytes(JSONL)
    samples = REPO / "sample_corpus"
    return {
        "docx": sorted(samples.rglob("*.docx")),
        "html": sorted(CASES.rglob("*.html")),
        "jsonl": [tmp / "records.jsonl"],
        "markdown": sorted([*samples.rglob("*.md"), *CASES.rglob("*.md")]),
        "pdf": sorted([*samples.rglob("*.pdf"), *(CASES / "08-pdf-page-break").rglob("*.pdf")]),
        "text": sorted(samples.rglob("*.txt")),
    }


def digests(tmp: Path) -> dict[str, str]:
    from ingest.loaders import load_file

    out = {}
    for name, paths in inputs(tmp).items():
        assert paths, f"no input for the {name} loader"
        h = hashlib.sha256()
        for path in paths:
            warnings: list[str] = []
            documents = load_file(path, path.name, warnings=warnings)
            record = [dataclasses.asdict(d) for d in documents], warnings
            h.update(json.dumps(record, sort_keys=True, default=str).encode())
        out[name] = h.hexdigest()
    return out


def current(tmp: Path) -> dict[str, dict[str, object]]:
    from ingest.loaders import LOADER_VERSIONS

    found = digests(tmp)
    return {name: {"version": LOADER_VERSIONS[name], "sha256": found[name]} for name in found}


def test_every_loader_output_change_comes_with_a_version_bump(tmp_path):
    from ingest.loaders import LOADER_VERSIONS

    recorded = json.loads(RECORD.read_text())
    now = current(tmp_path)
    assert sorted(now) == sorted(LOADER_VERSIONS)
    for name, entry in now.items():
        was = recorded.get(name, {})
        if entry["sha256"] != was.get("sha256"):
            assert entry["version"] != was.get("version"), (
                f"the {name} loader's output changed with its version still "
                f"{entry['version']}: indexes would keep the old extraction. Bump "
                f"LOADER_VERSIONS[{name!r}] (ingest/loaders/__init__.py), then record: "
                "PYTHONPATH=. python tests/test_loader_versions.py"
            )
        assert entry == was, (
            f"the {name} loader is at version {entry['version']}, recorded at "
            f"{was.get('version')}: record it (PYTHONPATH=. python tests/test_loader_versions.py)"
        )


if __name__ == "__main__":  # record the digests of the loaders as they are now
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        RECORD.write_text(json.dumps(current(Path(folder)), indent=2, sort_keys=True) + "\n")
    print(f"recorded {RECORD.relative_to(REPO)}", file=sys.stderr)
