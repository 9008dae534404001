"""Evaluation datasets: four formats read into one `EvalItem` list.

- ragkit JSONL: `{"id", "question", "answer" | "answers", "sources", "answerable",
  "must_contain"?}`, sources being paths relative to the ingest root, optionally
  `path#page=N` (1-based).
- BEIR folder: `corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`; retrieval only.
- SQuAD JSON, v1.1 and v2.0 (`is_impossible` questions are unanswerable). The corpus is the
  paragraphs: `write_squad_corpus` writes them as a BEIR `corpus.jsonl` to ingest, each
  paragraph's id derived from its text.
- contoso ground truth JSONL: `{"question", "truth"}` with `[file.pdf#page=N]` citations.

Malformed lines or entries are skipped and reported as `Problem`s naming the line number
(or JSON path). How gold sources match indexed chunks depends on the format (`MatchMode`):
a path relative to the ingest root, a bare file name, or a record id after `#`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ingest.records import Chunk
from ragkit.errors import UsageError

MatchMode = Literal["path", "basename", "doc_id"]
FORMATS = ("ragkit", "beir", "squad", "contoso")

_PAGE = re.compile(r"^(?P<doc>.+?)#page=(?P<page>\d+)$")
_CITATION = re.compile(r"\[(?P<doc>[^\[\]#]+?\.\w{2,5})(?:#page=(?P<page>\d+))?\]")


@dataclass(frozen=True)
class Gold:
    """A relevant document (path, file name or record id), optionally one page of it."""

    doc: str
    page: int | None = None
    relevance: int = 1

    @property
    def key(self) -> str:
        return self.doc if self.page is None else f"{self.doc}#page={self.page}"


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    gold: tuple[Gold, ...] = ()
    answerable: bool = True
    must_contain: tuple[str, ...] = ()
    passages: tuple[str, ...] = ()  # gold passage text, when the dataset carries it (SQuAD)


@dataclass(frozen=True)
class Problem:
    where: str  # "line 7", "qrels/test.tsv line 3", "data[0].paragraphs[2].qas[1]"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class EvalDataset:
    path: Path
    format: str
    items: list[EvalItem]
    match: MatchMode
    problems: list[Problem] = field(default_factory=list)
    retrieval_only: bool = False  # no answers to grade (BEIR)
    paragraphs: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # SQuAD: id -> (title, text)

    @property
    def gold_docs(self) -> set[str]:
        return {gold.doc for item in self.items for gold in item.gold}

    def sha256(self) -> str:
        """Digest of the dataset's files, so a resumed run can tell the dataset changed."""
        digest = hashlib.sha256()
        files = [self.path] if self.path.is_file() else _beir_files(self.path)
        for path in files:
            digest.update(path.read_bytes())
        return digest.hexdigest()


# ---------------------------------------------------------------------------- matching


def doc_key(source: str, mode: MatchMode) -> str:
    """A chunk source as the dataset names documents."""
    if mode == "basename":
        return source.rsplit("/", 1)[-1]
    if mode == "doc_id":
        return source.split("#", 1)[1] if "#" in source else source
    return source


def doc_matches(gold_doc: str, source: str, mode: MatchMode) -> bool:
    """Whether a chunk source is the gold document.

    Paths match when equal or when one ends with the other at a '/' boundary, so an index
    built from a parent folder (`corpus/leave/a.md`) still matches `leave/a.md`.
    """
    if mode != "path":
        return doc_key(source, mode) == doc_key(gold_doc, mode)
    return source == gold_doc or source.endswith("/" + gold_doc) or gold_doc.endswith("/" + source)


def chunk_matches(gold: Gold, chunk: Chunk, mode: MatchMode) -> bool:
    """Document-level match, and page-level when the gold names a page."""
    if not doc_matches(gold.doc, chunk.source, mode):
        return False
    if gold.page is None:
        return True
    if chunk.page is None:
        return False
    return chunk.page <= gold.page <= (chunk.page_end or chunk.page)


# ---------------------------------------------------------------------------- loading


def load_dataset(path: Path | str, format: str = "auto") -> EvalDataset:
    """Read a dataset file or folder; malformed entries land in `.problems`, not in `.items`."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such dataset: {path}")
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise UsageError(f"unknown dataset format '{format}': use auto, {', '.join(FORMATS)}")
    reader = {
        "ragkit": read_ragkit,
        "beir": read_beir,
        "squad": read_squad,
        "contoso": read_contoso,
    }
    dataset = reader[fmt](path)
    if not dataset.items:
        shown = "; ".join(map(str, dataset.problems[:5]))
        raise UsageError(f"{path}: no usable questions" + (f" ({shown})" if shown else ""))
    return dataset


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "queries.jsonl").is_file():
            return "beir"
        raise UsageError(f"{path} is a folder but not a BEIR dataset (no queries.jsonl)")
    if path.suffix.lower() == ".json":
        return "squad"
    for _, record in _json_lines(path, []):
        return "contoso" if isinstance(record, dict) and "truth" in record else "ragkit"
    return "ragkit"


def _json_lines(path: Path, problems: list[Problem], label: str = "") -> Iterator[tuple[int, Any]]:
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
    for number, record in _json_lines(path, problems):
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
    for number, record in _json_lines(path, problems):
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


def _beir_files(folder: Path, split: str = "test") -> list[Path]:
    return [folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]


def read_beir(folder: Path, split: str = "test") -> EvalDataset:
    queries_path, qrels_path = _beir_files(folder, split)
    if not qrels_path.is_file():
        raise UsageError(f"{folder} has no qrels/{split}.tsv: not a BEIR dataset")
    problems: list[Problem] = []
    queries: dict[str, str] = {}
    for number, record in _json_lines(queries_path, problems, "queries.jsonl"):
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


# ---------------------------------------------------------------------------- gold coverage


def gold_coverage(dataset: EvalDataset, sources: Iterable[str]) -> tuple[set[str], set[str]]:
    """(gold documents found in the index, gold documents matching no indexed source)."""
    sources = set(sources)
    found = {
        doc for doc in dataset.gold_docs if any(doc_matches(doc, s, dataset.match) for s in sources)
    }
    return found, dataset.gold_docs - found


def coverage_warnings(
    dataset: EvalDataset, sources: Iterable[str], index_name: str = "the index"
) -> list[str]:
    sources = sorted(set(sources))
    found, missing = gold_coverage(dataset, sources)
    if not missing:
        return []
    examples = ", ".join(repr(d) for d in sorted(missing)[:3])
    if found:
        return [
            f"{len(missing)} of {len(dataset.gold_docs)} gold sources match nothing in "
            f"{index_name} (e.g. {examples}): those questions cannot score on retrieval"
        ]
    indexed = ", ".join(repr(s) for s in sources[:3]) or "nothing"
    message = (
        f"NONE of the {len(missing)} gold sources in {dataset.path} match a document in "
        f"{index_name}: gold names e.g. {examples}; the index holds e.g. {indexed}. This nearly "
        "always means a path mismatch: ingest the folder the dataset's paths are relative to"
    )
    if dataset.format == "squad":
        message += (
            f". SQuAD paragraphs are the corpus: `ragkit eval {dataset.path} --write-corpus "
            "squad-corpus/corpus.jsonl`, then `ragkit ingest squad-corpus --index DIR`"
        )
    elif dataset.format == "beir":
        message += (
            f". Ingest {dataset.path / 'corpus.jsonl'} (sources look like corpus.jsonl#<_id>)"
        )
    return [message]


def access_warnings(
    dataset: EvalDataset, chunks: Iterable[Chunk], groups: Iterable[str]
) -> list[str]:
    """A warning naming the questions whose gold the asker's groups cannot read at all."""
    asker = frozenset(groups)
    readers: dict[str, set[bool]] = {}  # gold doc -> {readable?} over its chunks
    needed: set[str] = set()
    for chunk in chunks:
        for doc in dataset.gold_docs:
            if doc_matches(doc, chunk.source, dataset.match):
                readable = not chunk.groups or bool(asker.intersection(chunk.groups))
                readers.setdefault(doc, set()).add(readable)
                if not readable:
                    needed.update(chunk.groups)
    hidden = {doc for doc, seen in readers.items() if True not in seen}
    ids = [i.id for i in dataset.items if i.gold and all(g.doc in hidden for g in i.gold)]
    if not ids:
        return []
    shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
    return [
        f"{len(ids)} question(s) ({shown}) have gold documents readable only by groups "
        f"{', '.join(sorted(needed))}; asked as groups {', '.join(sorted(asker)) or 'none'}, "
        f"they cannot be answered: pass --groups {','.join(sorted(needed))} to evaluate them "
        "as such a reader"
    ]
