"""Readers for the line-oriented formats: ragkit JSONL, contoso ground truth and BEIR.

- ragkit JSONL: `{"id", "question", "answer" | "answers", "sources", "answerable",
  "must_contain"?}`, sources being paths relative to the ingest root, optionally
  `path#page=N` (1-based).
- contoso ground truth JSONL: `{"question", "truth"}` with `[file.pdf#page=N]` citations.
- BEIR folder: `corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`; retrieval only.

They share the line-by-line reading (`json_lines`): a malformed line becomes a `Problem`
naming its line number and the rest of the file is still read, because one bad line should
not cost a long evaluation. SQuAD, one JSON document with its own corpus, is in
`ragkit.eval.squad`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragkit.errors import UsageError
from ragkit.eval.items import EvalDataset, EvalItem, Gold, Problem, beir_files

_PAGE = re.compile(r"^(?P<doc>.+?)#page=(?P<page>\d+)$")
_CITATION = re.compile(r"\[(?P<doc>[^\[\]#]+?\.\w{2,5})(?:#page=(?P<page>\d+))?\]")


def json_lines(path: Path, problems: list[Problem], label: str = "") -> Iterator[tuple[int, Any]]:
    """(line number, parsed record) for each non-blank line; bad JSON becomes a Problem."""
    prefix = f"{label} " if label else ""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(f"{prefix}line {number}", f"invalid JSON ({exc.msg})"))


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"'{name}' must be a string or a list of strings")


def parse_source(text: str) -> Gold:
    """`leave/a.md` -> Gold('leave/a.md'); `money/e.pdf#page=2` -> Gold('money/e.pdf', 2)."""
    text = text.strip().replace("\\", "/")
    match = _PAGE.match(text)
    if match is None:
        if not text:
            raise ValueError("an empty source")
        return Gold(text)
    page = int(match["page"])
    if page < 1:
        raise ValueError(f"page {page} in '{text}': pages are 1-based")
    return Gold(match["doc"], page)


def read_ragkit(path: Path) -> EvalDataset:
    problems: list[Problem] = []
    items: list[EvalItem] = []
    seen: set[str] = set()
    for number, record in json_lines(path, problems):
        try:
            item = _ragkit_item(record)
        except ValueError as exc:
            problems.append(Problem(f"line {number}", str(exc)))
            continue
        if item.id in seen:
            problems.append(Problem(f"line {number}", f"repeated id {item.id!r}"))
            continue
        seen.add(item.id)
        items.append(item)
    return EvalDataset(path, "ragkit", items, "path", problems)


def _ragkit_item(record: Any) -> EvalItem:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    item_id = record.get("id")
    if isinstance(item_id, bool) or not isinstance(item_id, str | int) or item_id == "":
        raise ValueError("missing 'id'")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("missing 'question'")
    answerable = record.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError(f"'answerable' must be true or false, not {answerable!r}")
    answers = _strings(record.get("answers", record.get("answer")), "answer")
    sources = tuple(parse_source(s) for s in _strings(record.get("sources"), "sources"))
    must_contain = _strings(record.get("must_contain"), "must_contain")
    return EvalItem(
        str(item_id),
        question.strip(),
        answers if answerable else (),
        sources,
        answerable,
        must_contain,
    )


def read_contoso(path: Path) -> EvalDataset:
    problems: list[Problem] = []
    items: list[EvalItem] = []
    for number, record in json_lines(path, problems):
        question = record.get("question") if isinstance(record, dict) else None
        truth = record.get("truth") if isinstance(record, dict) else None
        if not isinstance(question, str) or not question.strip():
            problems.append(Problem(f"line {number}", "missing 'question'"))
            continue
        if not isinstance(truth, str) or not truth.strip():
            problems.append(Problem(f"line {number}", "missing 'truth'"))
            continue
        gold = tuple(
            dict.fromkeys(
                Gold(m["doc"].strip(), int(m["page"]) if m["page"] else None)
                for m in _CITATION.finditer(truth)
            )
        )
        answer = " ".join(_CITATION.sub("", truth).split())
        items.append(EvalItem(f"q{number:03d}", question.strip(), (answer,), gold))
    return EvalDataset(path, "contoso", items, "basename", problems)


def read_beir(folder: Path, split: str = "test") -> EvalDataset:
    queries_path, qrels_path = beir_files(folder, split)
    if not qrels_path.is_file():
        raise UsageError(f"{folder} has no qrels/{split}.tsv: not a BEIR dataset")
    problems: list[Problem] = []
    queries: dict[str, str] = {}
    for number, record in json_lines(queries_path, problems, "queries.jsonl"):
        qid = record.get("_id") if isinstance(record, dict) else None
        text = record.get("text") if isinstance(record, dict) else None
        if qid is None or not isinstance(text, str) or not text.strip():
            problems.append(Problem(f"queries.jsonl line {number}", "needs '_id' and 'text'"))
            continue
        queries[str(qid)] = text.strip()
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[-1].strip().lower() == "score"):
                continue  # blank line or header
            where = f"qrels/{split}.tsv line {number}"
            if len(row) not in (3, 4):  # BEIR has 3 columns; TREC adds an iteration column
                problems.append(Problem(where, f"expected 3 tab-separated columns, got {len(row)}"))
                continue
            qid, doc, rel = row[0].strip(), row[-2].strip(), row[-1].strip()
            try:
                qrels.setdefault(qid, {})[doc] = int(rel)
            except ValueError:
                problems.append(Problem(where, f"relevance {rel!r} is not an integer"))
    items = []
    for qid, judged in qrels.items():
        if qid not in queries:
            problems.append(Problem(f"qrels/{split}.tsv", f"query {qid!r} is not in queries.jsonl"))
            continue
        gold = tuple(Gold(doc, None, rel) for doc, rel in judged.items() if rel > 0)
        items.append(EvalItem(qid, queries[qid], (), gold))
    return EvalDataset(folder, "beir", items, "doc_id", problems, retrieval_only=True)
