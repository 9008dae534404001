"""Training and held-out data for the adaptation ladder, built from public QA sets.

Sources (all read from disk, nothing downloads):

    squad2   SQuAD 2.0 dev half (`squad2-cs224n-dev`): answerable questions teach short cited
             answers, unanswerable ones (written against a passage that lacks the answer)
             teach the refusal
    xquad    XQuAD Spanish and German (`xquad-multi`): answers beyond English
    sample   the sample corpus's own questions (`sample_corpus/eval.jsonl`) over its Markdown

Splits never share a source unit: SQuAD/XQuAD by article title (XQuAD's articles are SQuAD
v1.1 dev articles, so one title goes to one side for every language), the sample corpus by
document. The split is a hash of the title or path (`held_out`), so it is stable whatever the
sizes asked for.

Passages are chunks of at most `CHUNK_CHARS` characters (whole sentences), as ingestion makes
them, which keeps training prompts short. Each record carries its contexts:

    passages  the gold chunk plus `distractors` BM25 neighbours, in a seeded random order
              (training), or the BM25 top `k` for the question (held-out "grounded")
    retrieved training records only: the BM25 top `k` over the training pool, so a
              validation split carved from them (`as_grounded`) is scored the way the
              held-out split is, where the retriever can miss the gold chunk
    oracle    the gold chunk alone (held-out "oracle")

For an unanswerable SQuAD question the "gold" chunk is the one of its paragraph that BM25
ranks first for it: the plausible passage that still lacks the answer. Records are in the
eval JSONL format (`id`, `question`, `answer`, `sources`, `answerable`) plus `answers` (every
gold span), `passages`, `oracle`, `origin` and `split`, so `ragkit tune --data` and the
ladder read them directly.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError

CHUNK_CHARS = 300
_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+[\"')\]]*|$)\s*")


@dataclass(frozen=True)
class Passage:
    source: str  # "<file>#<article or path>/<n>": unique per chunk
    title: str
    text: str
    doc: str  # split unit: article title or document path
    start: int  # offset in the paragraph or document

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "title": self.title, "text": self.text}


def held_out(unit: str, share: float) -> bool:
    """Whether split unit `unit` (an article title or a path) is in the held-out part."""
    digest = hashlib.sha256(unit.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def sentence_chunks(text: str, limit: int = CHUNK_CHARS) -> list[tuple[int, str]]:
    """(offset, chunk) pieces of whole sentences, each at most `limit` characters if it can."""
    chunks: list[tuple[int, str]] = []
    start, current = 0, ""
    for match in _SENTENCE.finditer(text):
        sentence = match.group()
        if current and len(current) + len(sentence) > limit:
            chunks.append((start, current.strip()))
            start, current = match.start(), ""
        current += sentence
    if current.strip():
        chunks.append((start, current.strip()))
    return chunks


@dataclass
class Question:
    qid: str
    question: str
    answers: list[str]
    answerable: bool
    gold: Passage | None
    pool: str  # passages compete for retrieval within one pool (origin, language, split)
    origin: str
    must_contain: list[str]
    paragraph: str = ""  # SQuAD: source prefix of the question's paragraph's chunks
    documents: tuple[str, ...] = ()  # sample corpus: the gold documents


def squad_questions(path: Path, origin: str, lang: str, share: float) -> tuple[list, list]:
    """(questions, passages) of a SQuAD-format file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read SQuAD file {path}: {exc}") from exc
    questions: list[Question] = []
    passages: list[Passage] = []
    for article in data:
        title = str(article.get("title", ""))
        split = "test" if held_out(title, share) else "train"
        pool = f"{origin}:{lang}:{split}"
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            context = paragraph["context"]
            chunks = [
                Passage(f"{path.name}#{title}/{p}.{n}", title.replace("_", " "), text, pool, off)
                for n, (off, text) in enumerate(sentence_chunks(context))
            ]
            passages += chunks
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible", False))
                spans = [a for a in qa.get("answers", []) if isinstance(a, dict)]
                gold = None
                if not impossible and spans:
                    at = int(spans[0].get("answer_start", -1))
                    gold = next(
                        (c for c in chunks if c.start <= at < c.start + len(c.text) + 1), None
                    )
                    if gold is None or spans[0]["text"] not in gold.text:
                        continue  # the span straddles two chunks: no single gold passage
                questions.append(
                    Question(
                        f"{origin}-{lang}-{qa['id']}",
                        qa["question"].strip(),
                        list(dict.fromkeys(a["text"] for a in spans)),
                        not impossible,
                        gold,
                        pool,
                        origin,
                        [],
                    )
                )
                questions[-1].paragraph = f"{path.name}#{title}/{p}."
    return questions, passages


def sample_questions(eval_path: Path, root: Path, share: float) -> tuple[list, list]:
    """(questions, passages) of the sample corpus: Markdown blocks packed into chunks."""
    passages: list[Passage] = []
    for file in sorted(root.rglob("*.md")):
        source = file.relative_to(root).as_posix()
        split = "test" if held_out(source, share) else "train"
        text = file.read_text(encoding="utf-8")
        headings = [ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("# ")]
        title = headings[0] if headings else file.stem.replace("-", " ")
        blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
        packed, current = [], ""
        for block in blocks:
            if current and len(current) + len(block) > CHUNK_CHARS:
                packed.append(current)
                current = ""
            current = f"{current}\n\n{block}".strip()
        packed += [current] if current else []
        passages += [
            Passage(f"{source}#{n}", title, chunk, f"sample:en:{split}", n)
            for n, chunk in enumerate(packed)
        ]
    questions = []
    for line in eval_path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        sources = [str(s) for s in record.get("sources", [])]
        unit = sources[0] if sources else record["id"]
        split = "test" if held_out(unit, share) else "train"
        questions.append(
            Question(
                f"sample-{record['id']}",
                record["question"],
                [record["answer"]] if record.get("answerable") else [],
                bool(record.get("answerable")),
                None,
                f"sample:en:{split}",
                "sample",
                list(record.get("must_contain") or []),
                documents=tuple(sources),
            )
        )
    return questions, passages


def build(
    data_root: Path | str,
    sample_root: Path | str,
    *,
    train_size: int,
    test_size: int,
    test_share: float = 0.3,
    distractors: int = 2,
    k: int = 3,
    seed: int = 0,
    quotas: dict[str, float] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train records, held-out records); `quotas`: share of each origin in both splits."""
    from ragkit.retrieval.sparse import BM25Index

    data_root, sample_root = Path(data_root), Path(sample_root)
    quotas = quotas or {"squad2": 0.7, "xquad": 0.1, "sample": 0.2}
    questions: list[Question] = []
    passages: list[Passage] = []
    squad = data_root / "squad2-cs224n-dev" / "data" / "dev-v2.0.json"
    for path, origin, lang in (
        (squad, "squad2", "en"),
        (data_root / "xquad-multi" / "xquad.es.json", "xquad", "es"),
        (data_root / "xquad-multi" / "xquad.de.json", "xquad", "de"),
    ):
        if not path.is_file():
            raise ConfigError(f"{path} is missing: the ladder data needs ../shared/data")
        q, p = squad_questions(path, origin, lang, test_share)
        questions, passages = questions + q, passages + p
    # The sample corpus is small (a few dozen questions): half of its documents are held out.
    q, p = sample_questions(sample_root / "eval.jsonl", sample_root, 0.5)
    questions, passages = questions + q, passages + p

    pools: dict[str, list[Passage]] = {}
    for passage in passages:
        pools.setdefault(passage.doc, []).append(passage)
    indexes = {
        name: BM25Index([f"{p.title}\n{p.text}" for p in items]) for name, items in pools.items()
    }

    def search(question: Question, n: int) -> list[Passage]:
        rows, _ = indexes[question.pool].search(question.question, n)
        return [pools[question.pool][int(r)] for r in rows]

    rng = random.Random(seed)
    out: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    sizes = {"train": train_size, "test": test_size}
    for split in ("train", "test"):
        for origin, share in quotas.items():
            wanted = round(sizes[split] * share)
            candidates = [q for q in questions if q.origin == origin and q.pool.endswith(split)]
            rng.shuffle(candidates)
            # Balance answerable and unanswerable where the source has both.
            kinds = [
                [q for q in candidates if q.answerable],
                [q for q in candidates if not q.answerable],
            ]
            picked = _interleave(kinds)
            made = 0
            for question in picked:
                if made >= wanted:
                    break
                record = _record(question, split, search, pools, distractors, k, rng)
                if record is not None:
                    out[split].append(record)
                    made += 1
    return out["train"], out["test"]


def _interleave(groups: Sequence[Sequence[Question]]) -> Iterable[Question]:
    longest = max((len(g) for g in groups), default=0)
    for i in range(longest):
        for group in groups:
            if i < len(group):
                yield group[i]


def _record(question, split, search, pools, distractors, k, rng) -> dict[str, Any] | None:
    gold = _gold(question, search, pools)
    if gold is None:
        return None
    if split == "train":
        others = [p for p in search(question, distractors + 4) if p.source != gold.source]
        context = [gold, *others[:distractors]]
        rng.shuffle(context)
    else:
        context = search(question, k)
    record = {
        "id": question.qid,
        "question": question.question,
        "answer": question.answers[0] if question.answers else "",
        "answers": question.answers,
        "sources": [gold.source] if question.answerable else [],
        "answerable": question.answerable,
        "passages": [p.to_json() for p in context],
        "oracle": [gold.to_json()],
        "origin": question.origin,
        "split": split,
    }
    if split == "train":
        record["retrieved"] = [p.to_json() for p in search(question, k)]
    if question.origin == "sample" and question.must_contain:
        record["must_contain"] = question.must_contain
    return record


def _gold(question: Question, search, pools) -> Passage | None:
    if question.origin == "sample":
        sources = question.documents
        pool = pools[question.pool]
        ranked = search(question, len(pool))
        if not question.answerable:
            return ranked[0] if ranked else None
        query = " ".join([question.question, *question.answers]).lower()
        in_doc = [p for p in pool if p.source.split("#")[0] in sources]
        if not in_doc:
            return None
        words = set(re.findall(r"\w\w+", query))
        return max(in_doc, key=lambda p: len(words & set(re.findall(r"\w\w+", p.text.lower()))))
    if question.answerable:
        return question.gold
    prefix = question.paragraph
    candidates = [p for p in search(question, 50) if p.source.startswith(prefix)]
    if candidates:
        return candidates[0]
    return next((p for p in pools[question.pool] if p.source.startswith(prefix)), None)


def record_unit(record: dict[str, Any]) -> str:
    """The split unit of a record `build` wrote: its article title (SQuAD, XQuAD: one title is
    one article in every language) or its document path (the sample corpus)."""
    source = str((record.get("oracle") or [{}])[0].get("source", record["id"]))
    file, _, rest = source.partition("#")
    if file.endswith(".json"):  # "<squad file>#<title>/<paragraph>.<chunk>"
        return "article:" + rest.rsplit("/", 1)[0]
    return "doc:" + file


def split_validation(
    records: Sequence[dict[str, Any]], share: float = 0.15
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, validation) of training records, by article or document (`record_unit`).

    Hyperparameters are chosen on the validation part, never on the held-out split; the
    hash is salted so this cut is independent of the train/held-out one.
    """
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_unit.setdefault(record_unit(record), []).append(record)
    # Whole units in a seeded-hash order until the share is reached: a hash threshold alone
    # swings widely when there are only a few dozen articles.
    order = sorted(by_unit, key=lambda u: hashlib.sha256(f"validation:{u}".encode()).digest())
    chosen: set[str] = set()
    size = 0
    for unit in order:
        if size >= share * len(records):
            break
        chosen.add(unit)
        size += len(by_unit[unit])
    train = [r for r in records if record_unit(r) not in chosen]
    validation = [r for r in records if record_unit(r) in chosen]
    return train, validation


def as_grounded(record: dict[str, Any]) -> dict[str, Any]:
    """A training record shown as the held-out split shows its records: `passages` is the BM25
    top k (`retrieved`), not the gold chunk plus distractors, so answerable questions whose gold
    the retriever misses count as they do on the held-out split. A record without `retrieved`
    (written before that field existed) is a ConfigError: rebuild the data."""
    if "retrieved" not in record:
        raise ConfigError(
            f"record {record.get('id')!r} has no 'retrieved' passages: rebuild the ladder data "
            "(tests/bench/ladder_data.py)"
        )
    out = {k: v for k, v in record.items() if k != "retrieved"}
    out["passages"] = record["retrieved"]
    return out


def write_jsonl(records: Sequence[dict[str, Any]], path: Path | str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(path)
