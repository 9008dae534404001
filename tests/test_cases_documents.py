"""The document cases of ../shared/cases (copied into tests/fixtures/cases) give their right
values through the real command line and the bundled embedding model.

- 06-md-headings-only: heading text is content; a heading-only file is indexed.
- 18-html-boilerplate: only a page's main content is indexed.
- 10-cjk-no-whitespace: Chinese is segmented for BM25 and 。 ends a sentence.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from ragkit.cli import main

CASES = Path(__file__).parent / "fixtures" / "cases"


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def index_of(tmp_path_factory: pytest.TempPathFactory):
    """`ragkit ingest CASE/docs --json` once per case: (index path, ingest report)."""
    built: dict[str, tuple[Path, dict]] = {}

    def build(case: str) -> tuple[Path, dict]:
        if case not in built:
            index = tmp_path_factory.mktemp(case) / "index"
            code, out = run("ingest", str(CASES / case / "docs"), "--index", str(index), "--json")
            assert code == 0, out
            built[case] = (index, json.loads(out))
        return built[case]

    return build


def search(index: Path, query: str, k: int = 3) -> list[dict]:
    code, out = run("search", query, "--index", str(index), "-k", str(k), "--json")
    assert code == 0
    return json.loads(out)["hits"]


def ask(index: Path, question: str) -> dict:
    code, out = run("ask", question, "--index", str(index), "--json")
    assert code == 0
    return json.loads(out)


def chunk_records(index: Path) -> list[dict]:
    from ragkit.index.store import load_index

    return [c.to_json() for c in load_index(index).live_chunks()]


# ---- 06: headings only ----


def test_heading_only_file_and_trailing_heading_are_indexed(index_of) -> None:
    index, report = index_of("06-md-headings-only")
    files = {f["source"]: f for f in report["files"]}
    assert {s: f["status"] for s, f in files.items()} == {
        "hotline.md": "added",
        "security.md": "added",
    }
    assert all(not f["warnings"] for f in files.values())
    # Nothing dropped: every line of every file is in some chunk's text or heading path.
    embedded = "\n".join(
        f"{c['title']} {' '.join(c['headings'])} {c['text']}" for c in chunk_records(index)
    )
    for path in (CASES / "06-md-headings-only" / "docs").iterdir():
        for line in path.read_text(encoding="utf-8").splitlines():
            assert line.lstrip("# ").strip() in embedded, line
    hits = search(index, "0800 555 0199", k=1)
    assert hits[0]["source"] == "hotline.md" and "0800 555 0199" in hits[0]["text"]


def test_fact_in_a_heading_is_answered(index_of) -> None:
    index, _ = index_of("06-md-headings-only")
    answer = ask(index, "Which extension do I report a lost badge to?")
    assert not answer["abstained"]
    assert "extension 4417" in answer["answer"]
    assert answer["citations"][0]["source"] == "security.md"


# ---- 18: HTML boilerplate ----


def test_only_the_article_of_an_intranet_page_is_indexed(index_of) -> None:
    index, report = index_of("18-html-boilerplate")
    assert report["counts"]["added"] == 1
    texts = [f"{c['title']}\n{' '.join(c['headings'])}\n{c['text']}" for c in chunk_records(index)]
    assert any("contracted hours" in text for text in texts)
    for text in texts:
        for furniture in ("cookies", "Popular pages", "Car park", "Privacy notice", "IT help"):
            assert furniture not in text
    hit = search(index, "cookies popular pages", k=1)
    assert all("cookie" not in h["text"].lower() for h in hit)


# ---- 10: Chinese without spaces ----


def test_chinese_handbook_is_segmented_and_answered_by_sentence(index_of) -> None:
    index, _ = index_of("10-cjk-no-whitespace")
    assert {c["language"] for c in chunk_records(index)} == {"zh"}
    hit = search(index, "午餐补贴", k=1)[0]
    assert hit["section"].endswith("餐补")
    answer = ask(index, "加班后打车的报销上限是多少？")
    assert not answer["abstained"]
    assert "单次上限为一百五十元" in answer["answer"]
    assert len(answer["answer"]) < 60  # the sentence, not the whole 交通 paragraph
    assert answer["citations"][0]["section"].endswith("交通")
