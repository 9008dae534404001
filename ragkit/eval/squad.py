"""SQuAD v1.1 and v2.0 JSON: questions over paragraphs, and the paragraphs as a corpus.

A SQuAD file is its own corpus: the gold "document" of a question is the paragraph it was
asked about. Paragraphs get ids derived from their text (`paragraph_id`), so
`write_squad_corpus` can write them as a BEIR `corpus.jsonl` to ingest and the index's
sources (`corpus.jsonl#<id>`) match the questions' gold whatever order they were written in.
`is_impossible` questions (v2.0) are unanswerable: the right answer is to abstain. Malformed
entries become `Problem`s named by their JSON path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ragkit.errors import UsageError
from ragkit.eval.items import EvalDataset, EvalItem, Gold, Problem


def paragraph_id(context: str) -> str:
    """Content-derived id of a SQuAD paragraph: the same text always gets the same id."""
    return "p" + hashlib.sha256(context.encode("utf-8")).hexdigest()[:15]


def read_squad(path: Path) -> EvalDataset:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} line {exc.lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UsageError(f"{path} is not SQuAD JSON: expected {{'data': [articles]}}")
    problems: list[Problem] = []
    items: list[EvalItem] = []
    paragraphs: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()
    for a, article in enumerate(data["data"]):
        title = str(article.get("title", "")) if isinstance(article, dict) else ""
        for p, paragraph in enumerate(_list(article, "paragraphs")):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not context.strip():
                problems.append(Problem(f"data[{a}].paragraphs[{p}]", "missing 'context'"))
                continue
            pid = paragraph_id(context)
            paragraphs[pid] = (title, context)
            for q, qa in enumerate(_list(paragraph, "qas")):
                where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                try:
                    item = _squad_item(qa, pid, context)
                except ValueError as exc:
                    problems.append(Problem(where, str(exc)))
                    continue
                if item.id in seen:
                    problems.append(Problem(where, f"repeated id {item.id!r}"))
                    continue
                seen.add(item.id)
                items.append(item)
    return EvalDataset(path, "squad", items, "doc_id", problems, paragraphs=paragraphs)


def _list(record: Any, key: str) -> list[Any]:
    value = record.get(key) if isinstance(record, dict) else None
    return value if isinstance(value, list) else []


def _squad_item(qa: Any, pid: str, context: str) -> EvalItem:
    if not isinstance(qa, dict):
        raise ValueError("not a JSON object")
    qid, question = qa.get("id"), qa.get("question")
    if not isinstance(qid, str) or not qid:
        raise ValueError("missing 'id'")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("missing 'question'")
    impossible = qa.get("is_impossible", False) is True
    answers = tuple(
        dict.fromkeys(
            a["text"]
            for a in _list(qa, "answers")
            if isinstance(a, dict) and isinstance(a.get("text"), str)
        )
    )
    if not impossible and not answers:
        raise ValueError("an answerable question with no answers")
    return EvalItem(qid, question.strip(), answers, (Gold(pid),), not impossible, (), (context,))


def write_squad_corpus(dataset: EvalDataset, path: Path | str) -> int:
    """Write a SQuAD dataset's paragraphs as a BEIR corpus.jsonl for `ragkit ingest`."""
    if not dataset.paragraphs:
        raise UsageError(f"{dataset.path} has no paragraphs to write (format {dataset.format})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for pid, (title, text) in dataset.paragraphs.items():
            record = {"_id": pid, "title": title.replace("_", " "), "text": text}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(dataset.paragraphs)
