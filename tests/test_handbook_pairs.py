"""The hand-written handbook question/answer pairs are well formed and true to their documents.

`training/reader/handbook_pairs.jsonl` holds employee-style questions over the real Sourcegraph
and 18F handbooks and over Portuguese policy texts in ../shared/data (or $RAGKIT_SHARED_DATA).
Every `must_contain` string must occur verbatim in its document's normalised text, so a typo in
a pair (or a document that changed under it) fails here rather than silently lowering a score.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
PAIRS = REPO / "training" / "reader" / "handbook_pairs.jsonl"
KINDS = {"fact", "list", "table", "yesno", "procedure", "rephrased"} | {
    "near-miss",
    "entity-swap",
    "off-topic",
}
UNANSWERABLE_KINDS = {"near-miss", "entity-swap", "off-topic"}
LANGS = {"en", "pt"}
MAX_PER_DOC = 8
MAX_WORDS = 6  # a must_contain string is a short fact: a number with its unit, a name, a phrase
KEYS = {"id", "doc", "lang", "question", "answerable", "kind", "must_contain"}

_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url) and ![alt](src) keep their text
_EMPHASIS = re.compile(r"[*`]|(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])")  # *, **, `, _x_ and __x__
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # Markdown backslash escapes: \_ \. \= render bare
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def normalise(text: str) -> str:
    """Lower-case text with Markdown escapes, links and emphasis removed, whitespace collapsed.

    The same function is applied to a document and to each `must_contain` string, so a string
    matches when a reader could copy it from the rendered page (curly quotes count as straight).
    """
    text = _ESCAPE.sub(r"\1", text.translate(_QUOTES))
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.lower().split())


def load_pairs() -> list[dict]:
    lines = PAIRS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def pairs() -> list[dict]:
    return load_pairs()


@pytest.fixture(scope="module")
def shared() -> Path:
    if not (SHARED_DATA / "sourcegraph-handbook").is_dir():
        pytest.skip(f"../shared/data absent ({SHARED_DATA} not found; set RAGKIT_SHARED_DATA)")
    return SHARED_DATA


def test_normalise_strips_markdown_noise():
    assert normalise("Take **25  days**\n of [PTO](https://x.y) _now_") == "take 25 days of pto now"
    assert normalise("snake_case stays") == "snake_case stays"
    assert normalise("it\u2019s `code`") == "it's code"
    assert normalise("2022\\. 182 \\+ 154 \\= 336") == "2022. 182 + 154 = 336"


def test_schema(pairs):
    ids = Counter(pair["id"] for pair in pairs)
    assert not [i for i, n in ids.items() if n > 1], "duplicate ids"
    for pair in pairs:
        where = pair.get("id", pair)
        assert pair.keys() >= KEYS, f"{where}: missing {KEYS - pair.keys()}"
        assert pair["lang"] in LANGS, where
        assert pair["kind"] in KINDS, where
        assert pair["question"].strip().endswith(("?", ".")), where
        assert isinstance(pair["must_contain"], list), where
        assert all(isinstance(s, str) and s.strip() for s in pair["must_contain"]), where
        long = [s for s in pair["must_contain"] if len(s.split()) > MAX_WORDS]
        assert not long, f"{where}: must_contain is the fact, not the sentence: {long}"
        if pair["answerable"]:
            assert pair["kind"] not in UNANSWERABLE_KINDS, where
            assert pair["must_contain"], f"{where}: an answerable pair needs must_contain"
            if pair["kind"] == "list":
                assert len(pair["must_contain"]) >= 2, f"{where}: a list needs its items"
        else:
            assert pair["kind"] in UNANSWERABLE_KINDS, where
            assert pair["must_contain"] == [], where
            assert pair.get("missing", "").strip(), f"{where}: say what is missing"


def test_the_question_does_not_give_the_answer_away(pairs):
    # A pair whose required string is already in the question is passed by echoing it back.
    echoed = [
        f"{p['id']}: {needle!r}"
        for p in pairs
        for needle in p["must_contain"]
        if normalise(needle) in normalise(p["question"])
    ]
    assert not echoed, "\n".join(echoed)
    questions = Counter(normalise(p["question"]) for p in pairs)
    assert not [q for q, n in questions.items() if n > 1], "duplicate questions"


def test_per_document_cap(pairs):
    over = {d: n for d, n in Counter(p["doc"] for p in pairs).items() if n > MAX_PER_DOC}
    assert not over, f"more than {MAX_PER_DOC} pairs on one document: {over}"


def test_must_contain_is_verbatim_in_the_document(pairs, shared):
    texts: dict[str, str] = {}
    wrong = []
    for pair in pairs:
        path = shared / pair["doc"]
        assert path.is_file(), f"{pair['id']}: {pair['doc']} does not exist"
        if pair["doc"] not in texts:
            texts[pair["doc"]] = normalise(path.read_text(encoding="utf-8"))
        for needle in pair["must_contain"]:
            if normalise(needle) not in texts[pair["doc"]]:
                wrong.append(f"{pair['id']}: {needle!r} not in {pair['doc']}")
    assert not wrong, "\n".join(wrong)


def test_portuguese_pairs_use_portuguese_documents(pairs):
    for pair in pairs:
        portuguese_doc = pair["doc"].startswith(("mozilla-legal-docs-pt/pt-BR/", "contributor-"))
        assert (pair["lang"] == "pt") == portuguese_doc, pair["id"]
