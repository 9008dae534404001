"""Training examples for adapter tuning, built exactly as inference builds prompts.

Each record of the eval-format JSONL (`id`, `question`, `answer`, `sources`, `answerable`)
becomes one or two examples, the prompt always from `ragkit.prompt.build_messages` over the
passages the retriever returns for the question (or the record's own `passages`, which
`ragkit.tune.public` writes: gold plus retrieved distractors):

- answerable, gold retrieved: target = the reference answer with "[n]" markers pointing at the
  gold passages' numbers in the prompt, so the model learns to cite;
- answerable, chosen for refusal (a seeded `refusal_share` of them): the same question with
  the gold passages dropped from the context, target = `REFUSAL`;
- unanswerable: target = `REFUSAL`.

An answerable question whose gold passage the retriever misses is skipped and counted: the
answer may or may not be in the other passages, so neither target would be safe.

`encode_example` gives token ids and labels; only the answer tokens (and the end-of-sequence
token) carry a loss, the prompt's labels are -100.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError
from ragkit.generators.hf import encode, fit_prompt
from ragkit.strict import loads_json
from ragkit.text.segment import split_sentences
from ragkit.types import REFUSAL, Hit

Retrieve = Callable[[str], list[Hit]]
_MARKER = re.compile(r"\[\d{1,2}\]")
REQUIRED = ("id", "question", "answer", "sources", "answerable")


@dataclass(frozen=True)
class TrainExample:
    qid: str
    kind: str  # "answer", "refusal" (gold dropped) or "unanswerable"
    question: str
    hits: tuple[Hit, ...]
    target: str


def read_records(path: Path | str) -> list[dict[str, Any]]:
    """Eval-format records; a bad line is a ConfigError naming the file and line."""
    records = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read training data {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = json_line(path, number, line)
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise ConfigError(
                f"{path}:{number}: missing {missing}; each line needs {list(REQUIRED)}"
            )
        if "passages" in record:
            check_passages(path, number, "passages", record["passages"])
        records.append(record)
    if not records:
        raise ConfigError(f"training data {path} has no records")
    return records


def json_line(path: Path | str, number: int, line: str) -> dict[str, Any]:
    """One JSONL line as an object, read strictly (`ragkit.strict`: a repeated key is an error,
    not a silent last-one-wins); a bad line is a ConfigError naming the file and line."""
    try:
        record = loads_json(line)
    except ValueError as exc:  # json.JSONDecodeError and strict.DuplicateKeyError
        reason = getattr(exc, "msg", None) or str(exc)
        raise ConfigError(f"{path}:{number}: not valid JSON ({reason}); fix that line") from exc
    if not isinstance(record, dict):
        raise ConfigError(f"{path}:{number}: each line must be a JSON object, not {record!r:.40}")
    return record


def check_passages(path: Path | str, number: int, key: str, value: Any) -> None:
    """`value` is a list of {"source", "text"} objects (what `record_hits` reads)."""
    ok = isinstance(value, list) and all(
        isinstance(p, dict) and isinstance(p.get("source"), str) and isinstance(p.get("text"), str)
        for p in value
    )
    if not ok:
        raise ConfigError(
            f'{path}:{number}: "{key}" must be a list of {{"source": ..., "text": ...}} objects'
        )


def file_sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cite(answer: str, numbers: Sequence[int]) -> str:
    """Put "[n]" markers before each sentence's end: "25 days [1]." (what the parser reads)."""
    text = answer.strip()
    if not numbers or _MARKER.search(text):
        return text
    markers = "".join(f"[{n}]" for n in numbers)
    pieces, cursor = [], 0
    for _, end in split_sentences(text):
        body = text[cursor:end]
        stop = len(body.rstrip(".!?"))
        if stop < len(body):  # a sentence with terminal punctuation: "25 days [1]."
            pieces.append(f"{body[:stop]} {markers}{body[stop:]}")
        else:
            pieces.append(body)
        cursor = end
    cited = "".join(pieces) + text[cursor:]
    return cited if cited != text else f"{text} {markers}"


def record_hits(record: dict[str, Any], key: str = "passages") -> list[Hit]:
    """A record's own contexts (`ragkit.tune.public` writes them) as hits, in their order."""
    from ragkit.index.records import Chunk, chunk_id_for, sha256_hex

    hits = []
    for rank, passage in enumerate(record.get(key) or [], start=1):
        source, text = str(passage["source"]), str(passage["text"])
        title = str(passage.get("title", ""))
        chunk = Chunk(
            chunk_id_for(source, text),
            source,
            title,
            text,
            0,
            len(text),
            None,
            (title,) if title else (),
            sha256_hex(text),
        )
        hits.append(Hit(chunk, 1.0 / rank, rank))
    return hits


def build_examples(
    records: Sequence[dict[str, Any]],
    retrieve: Retrieve,
    *,
    top_k: int = 4,
    refusal_share: float = 0.25,
    seed: int = 0,
) -> tuple[list[TrainExample], Counter]:
    """(examples, counts by kind plus "skipped") from eval-format records."""
    rng = random.Random(seed)
    examples: list[TrainExample] = []
    counts: Counter = Counter()
    for record in records:
        qid, question = str(record["id"]), str(record["question"])
        retrieved = record_hits(record) if "passages" in record else list(retrieve(question))
        if not record["answerable"]:
            examples.append(
                TrainExample(qid, "unanswerable", question, tuple(retrieved[:top_k]), REFUSAL)
            )
            counts["unanswerable"] += 1
            continue
        sources = {str(s).replace("\\", "/") for s in record["sources"]}
        hits = tuple(retrieved[:top_k])
        gold = [n for n, hit in enumerate(hits, start=1) if hit.chunk.source in sources]
        if not gold:
            counts["skipped"] += 1
            continue
        examples.append(TrainExample(qid, "answer", question, hits, cite(record["answer"], gold)))
        counts["answer"] += 1
        if rng.random() < refusal_share:
            others = tuple(h for h in retrieved if h.chunk.source not in sources)[:top_k]
            examples.append(TrainExample(qid, "refusal", question, others, REFUSAL))
            counts["refusal"] += 1
    return examples, counts


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]  # -100 on the prompt

    @property
    def answer_tokens(self) -> int:
        return sum(label != -100 for label in self.labels)


def encode_example(
    tokenizer: Any, example: TrainExample, system_prompt: str | None, budget: int | None
) -> tuple[Encoded | None, bool]:
    """(ids with answer-only labels, whether passages were cut to fit `budget`).

    None when fitting dropped a passage the target cites: that example cannot be trained on.
    """
    answer = encode(tokenizer, example.target)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    room = None if budget is None else budget - len(answer) - len(eos) - 1
    fitted = fit_prompt(tokenizer, example.question, example.hits, system_prompt, room)
    cited = [int(m[1:-1]) for m in _MARKER.findall(example.target)]
    if cited and max(cited) > fitted.passages:
        return None, fitted.cut
    # The generator continues the rendered prompt; after "Assistant:" that means a space.
    if not tokenizer.decode(fitted.ids[-1:]).endswith(("\n", " ")):
        answer = encode(tokenizer, " " + example.target)
    target = answer + eos
    return Encoded(fitted.ids + target, [-100] * len(fitted.ids) + target), fitted.cut


def load_examples(
    path: Path | str,
    retrieve: Retrieve,
    tokenizer: Any,
    *,
    system_prompt: str | None,
    budget: int | None,
    top_k: int = 4,
    refusal_share: float = 0.25,
    seed: int = 0,
) -> tuple[list[Encoded], dict[str, int]]:
    """Read, retrieve, build and encode: (trainable examples, counts by kind, "skipped", "cut")."""
    examples, counts = build_examples(
        read_records(path), retrieve, top_k=top_k, refusal_share=refusal_share, seed=seed
    )
    encoded = [encode_example(tokenizer, e, system_prompt, budget) for e in examples]
    counts["cut"] = sum(cut for _, cut in encoded)
    counts["skipped"] += sum(item is None for item, _ in encoded)
    if counts["cut"]:
        warnings.warn(
            f"{path}: passages cut in {counts['cut']} examples to fit {budget} tokens",
            stacklevel=2,
        )
    return [item for item, _ in encoded if item is not None], dict(counts)


def examples_sha256(encoded: Sequence[Encoded]) -> str:
    """Hash of what the model actually trains on (retrieval and template included)."""
    digest = hashlib.sha256()
    for item in encoded:
        digest.update(json.dumps([item.input_ids, item.labels]).encode())
    return digest.hexdigest()
