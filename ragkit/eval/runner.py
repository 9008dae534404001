"""Run evaluation conditions over a dataset: one record per (question, condition), resumable.

Conditions (all use the same generator and settings):

    retrieval   retrieval alone, no answer (BEIR datasets have nothing else to grade)
    grounded    `Assistant.ask`: retrieval as the chain does it, then the generator
    ungrounded  `Assistant.ungrounded`: no passages, the model's own knowledge
    oracle      the generator given k gold passages only (an upper bound for the generator):
                the gold chunks in the retriever's order, then unretrieved ones in index order;
                skipped for questions with no gold
    X+adapter   condition X answered by a second assistant whose generator loads --adapter

Every record is appended to results.jsonl and flushed as soon as it exists; a rerun skips the
(question, condition) pairs already there (errored ones are retried). `config.json` in the
output folder records what the results depend on (dataset digest, index content, --llm, -k,
groups, adapter); a rerun with different settings is refused rather than mixed in.

Retrieval is scored twice per question: the ranking (the first `depth` chunks, folded to
documents at their first rank) gives MRR@10, nDCG@10 and the rank at which gold first
appeared; the k passages the generator actually saw give hit@k and recall@k.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingest.records import Chunk, chunk_id_for, readable_by, sha256_hex
from ragkit.errors import RagkitError, UsageError
from ragkit.eval import metrics as m
from ragkit.eval.datasets import EvalDataset, EvalItem, MatchMode, chunk_matches
from ragkit.types import Answer, Hit

BASES = {
    "retrieval": "retrieval alone, no answer",
    "grounded": "retrieval as the chain does it, then the generator",
    "ungrounded": "the generator with no passages (its own knowledge)",
    "oracle": "the generator given the gold passages (upper bound)",
}
MODIFIERS = {"adapter": "answered by a second assistant whose generator loads --adapter"}
F1_CORRECT = 0.5  # an answer without must_contain strings is correct at token F1 >= this
_FAIL_FAST = 5  # the first N attempts all failing means a broken setup, not bad questions


@dataclass(frozen=True)
class Condition:
    base: str
    modifiers: tuple[str, ...] = ()  # sorted

    @property
    def name(self) -> str:
        return "+".join((self.base, *self.modifiers))

    @property
    def variant(self) -> str:
        """Key of the assistant that answers this condition ("" is the plain one)."""
        return "+".join(self.modifiers)


def parse_conditions(spec: str) -> tuple[Condition, ...]:
    """'grounded,grounded+adapter,ungrounded' -> conditions; modifiers compose with any base."""
    conditions: list[Condition] = []
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        base, *mods = (piece.strip() for piece in name.split("+"))
        if base not in BASES:
            raise UsageError(f"unknown condition '{name}': use {', '.join(BASES)}, e.g. grounded")
        for mod in mods:
            if mod not in MODIFIERS:
                allowed = ", ".join("+" + x for x in MODIFIERS)
                raise UsageError(f"unknown modifier '+{mod}' in '{name}': use {allowed}")
        condition = Condition(base, tuple(sorted(set(mods))))
        if base == "retrieval" and condition.modifiers:
            raise UsageError(
                f"'{name}': retrieval does not use the generator, so +adapter changes nothing"
            )
        if condition not in conditions:
            conditions.append(condition)
    if not conditions:
        raise UsageError("--compare is empty: use e.g. grounded,ungrounded,oracle")
    return tuple(conditions)


@dataclass(frozen=True)
class RunSettings:
    k: int = 5  # passages given to the generator
    groups: tuple[str, ...] = ()  # access groups of the simulated asker
    depth: int = 50  # chunks retrieved for the ranking metrics (MRR@10, nDCG@10, gold rank)

    def __post_init__(self) -> None:
        if self.k < 1 or self.depth < self.k:
            raise UsageError(
                f"bad settings: k={self.k}, depth={self.depth} (needs depth >= k >= 1)"
            )


# ---------------------------------------------------------------------------- results file


def read_results(path: Path) -> list[dict[str, Any]]:
    """Records of results.jsonl; a line cut short by a killed run is dropped (and rewritten)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # killed mid-write: drop the partial last line
        data = data[: data.rfind(b"\n") + 1]
        path.write_bytes(data)
    records = []
    for line in data.decode("utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def latest_records(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The last record per (question id, condition)."""
    return {(r["id"], r["condition"]): r for r in records}


def check_config(out_dir: Path, identity: Mapping[str, Any]) -> None:
    """Write config.json, or refuse when an earlier run in `out_dir` used other settings."""
    path = out_dir / "config.json"
    if path.exists() and (out_dir / "results.jsonl").exists():
        previous = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(
            k for k in set(previous) | set(identity) if previous.get(k) != identity.get(k)
        )
        if changed:
            raise UsageError(
                f"{out_dir} holds results of a run with other settings ({', '.join(changed)} "
                "differ): pass a new --out, or delete that folder to start again"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(identity, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------- the loop


def run_conditions(
    dataset: EvalDataset,
    conditions: Sequence[Condition],
    assistants: Mapping[str, Any],
    results_path: Path,
    settings: RunSettings = RunSettings(),
    *,
    chunks: Sequence[Chunk] = (),
    judge: Any = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Answer every (question, condition) not yet in `results_path`; return all records."""
    done = {
        key for key, r in latest_records(read_results(results_path)).items() if not r.get("error")
    }
    pending = [i for i in dataset.items if any((i.id, c.name) not in done for c in conditions)]
    if done and pending and progress:
        print(
            f"resuming: {len(dataset.items) - len(pending)} question(s) already done",
            file=sys.stderr,
        )
    attempts = failures = 0
    with results_path.open("a", encoding="utf-8") as out:
        for item in _progress(pending, progress):
            ranked: list[Hit] | None = None
            failed_retrieval = ""
            for condition in conditions:
                if (item.id, condition.name) in done:
                    continue
                assistant = assistants[condition.variant]
                uses_ranking = condition.base != "ungrounded" and bool(item.gold)
                if ranked is None and uses_ranking:
                    try:
                        ranked = assistant.retrieve(
                            item.question, k=settings.depth, groups=settings.groups
                        )
                    except Exception as exc:  # recorded below, like any failed answer
                        ranked, failed_retrieval = [], f"{type(exc).__name__}: {exc}"
                if uses_ranking and failed_retrieval:
                    record = {"id": item.id, "condition": condition.name, "error": failed_retrieval}
                else:
                    record = run_one(
                        item, condition, assistant, settings, dataset.match, ranked, chunks, judge
                    )
                attempts += 1
                failures += bool(record.get("error"))
                if failures == attempts == _FAIL_FAST:
                    raise RagkitError(
                        f"the first {_FAIL_FAST} answers all failed: {record['error']}"
                    )
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
    return read_results(results_path)


def _progress(items: list[EvalItem], enabled: bool) -> Iterable[EvalItem]:
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="questions", unit="q", disable=None)


def run_one(
    item: EvalItem,
    condition: Condition,
    assistant: Any,
    settings: RunSettings,
    mode: MatchMode,
    ranked: Sequence[Hit] | None,
    chunks: Sequence[Chunk],
    judge: Any = None,
) -> dict[str, Any]:
    """One record: what the condition answered and every offline metric on it."""
    record: dict[str, Any] = {
        "id": item.id,
        "condition": condition.name,
        "question": item.question,
        "answerable": item.answerable,
    }
    start = time.perf_counter()
    answer: Answer | None = None
    try:
        base = condition.base
        if base == "retrieval" and not item.gold:
            return {**record, "skipped": "no gold sources"}
        if base == "grounded":
            answer = assistant.ask(item.question, k=settings.k, groups=settings.groups)
        elif base == "ungrounded":
            answer = assistant.ungrounded(item.question)
        elif base == "oracle":
            hits = oracle_hits(item, chunks, mode, settings, ranked or ())
            if not hits:
                return {**record, "skipped": "no gold passages"}
            answer = assistant.generator.generate(item.question, hits)
        if base in ("retrieval", "grounded") and item.gold and ranked is not None:
            context = list(answer.passages) if answer is not None else list(ranked[: settings.k])
            record["retrieval"] = m.retrieval_record(item.gold, ranked, context, mode, settings.k)
        if answer is not None:
            record.update(answer_record(item, answer))
            if judge is not None and not answer.abstained:
                record["judge"] = judge.assess(item.question, answer.text, answer.passages)
    except Exception as exc:  # one bad question must not end a long run
        record["error"] = f"{type(exc).__name__}: {exc}"
    record["seconds"] = round(time.perf_counter() - start, 4)
    return record


def oracle_hits(
    item: EvalItem,
    chunks: Sequence[Chunk],
    mode: MatchMode,
    settings: RunSettings,
    ranked: Sequence[Hit] = (),
) -> list[Hit]:
    """k gold chunks the asker may read, else the dataset's gold passages.

    Generators read the passages best first (the extractive one only the top 3), so the gold
    chunks the retriever returned come first, in its order, then the others in index order.
    """
    groups = frozenset(settings.groups)
    candidates: dict[str, Chunk] = {}
    for chunk in [*(h.chunk for h in ranked), *chunks]:
        candidates.setdefault(chunk.chunk_id, chunk)
    gold_chunks = [
        c
        for c in candidates.values()
        if readable_by(c.groups, groups) and any(chunk_matches(g, c, mode) for g in item.gold)
    ]
    if not gold_chunks and item.passages:
        doc = item.gold[0].doc if item.gold else "gold"
        gold_chunks = [
            Chunk(chunk_id_for(doc, text), doc, doc, text, 0, len(text), None, (), sha256_hex(text))
            for text in item.passages
        ]
    best = gold_chunks[: settings.k]
    return [Hit(c, 1.0 / rank, rank) for rank, c in enumerate(best, start=1)]


# ---------------------------------------------------------------------------- answers


def cited_chunks(answer: Answer) -> list[tuple[Any, list[Chunk]]]:
    """Each citation with the passage chunk(s) it can refer to (by id, else by source and page)."""
    passages = [hit.chunk for hit in answer.passages]
    by_id = {chunk.chunk_id: chunk for chunk in passages}
    out = []
    for citation in answer.citations:
        if citation.chunk_id:
            found = [by_id[citation.chunk_id]] if citation.chunk_id in by_id else []
        else:
            found = [
                c
                for c in passages
                if c.source == citation.source
                and (citation.page is None or c.page == citation.page)
            ]
        out.append((citation, found))
    return out


def answer_record(item: EvalItem, answer: Answer) -> dict[str, Any]:
    text = "" if answer.abstained else answer.text  # an abstention is SQuAD's empty answer
    graded = not item.answerable or bool(item.answers)
    f1 = m.max_f1(item.answers, text) if graded else None
    contains_answer = (
        m.answer_contained(item.answers, text) if item.answerable and item.answers else None
    )
    must = (
        m.contains_all(text, item.must_contain) if item.answerable and item.must_contain else None
    )
    citations = cited_chunks(answer)
    valid = [any(m.citation_valid(c.quote, ch.text) for ch in found) for c, found in citations]
    cited_texts = list({ch.chunk_id: ch.text for _, found in citations for ch in found}.values())
    return {
        "answer": answer.text,
        "abstained": bool(answer.abstained),
        "citations": [{**c.to_json(), "chunk_id": c.chunk_id} for c in answer.citations],
        "passages": [
            {
                "rank": r,
                "chunk_id": h.chunk.chunk_id,
                "source": h.chunk.source,
                "page": h.chunk.page,
            }
            for r, h in enumerate(answer.passages, start=1)
        ],
        "em": m.max_exact(item.answers, text) if graded else None,
        "f1": None if f1 is None else round(f1, 6),
        "contains_answer": contains_answer,
        "must_contain": must,
        "must_contain_share": (
            m.contains_share(text, item.must_contain)
            if item.answerable and item.must_contain
            else None
        ),
        "groundedness": None if answer.abstained else m.groundedness(answer.text, cited_texts),
        "n_citations": len(valid),
        "valid_citations": sum(valid),
        "correct": is_correct(item, bool(answer.abstained), contains_answer, must, f1),
    }


def is_correct(
    item: EvalItem,
    abstained: bool,
    contains_answer: bool | None,
    must_contain: bool | None,
    f1: float | None,
) -> bool | None:
    """Unanswerable: right when it abstained. Answerable: wrong when it abstained; else every
    must_contain string present when the item has some; else a gold answer contained in the
    answer or token F1 >= 0.5 (containment, because an extractive answer quotes a whole
    sentence around a short SQuAD span). None when there is nothing to grade against."""
    if not item.answerable:
        return abstained
    if abstained:
        return False
    if must_contain is not None:
        return must_contain
    if f1 is None:
        return None
    return bool(contains_answer) or f1 >= F1_CORRECT


def _file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise UsageError(f"cannot read --system-prompt {path}: {exc.strerror}") from exc


def identity_digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def with_adapter(assistant: Any, options: EvalOptions) -> Any:
    """A second assistant over the same retriever whose generator loads `options.adapter`."""
    from ragkit.generators.registry import load_generator

    generator = load_generator(
        options.llm,
        embedder=assistant.retriever.embedder,
        adapter=options.adapter,
        system_prompt=options.system_prompt,
    )
    return replace(assistant, generator=generator)


# ---------------------------------------------------------------------------- the whole run


@dataclass(frozen=True)
class EvalOptions:
    conditions: str = "grounded"  # --compare
    llm: str = "extractive"
    k: int = 5
    groups: tuple[str, ...] = ()
    adapter: Path | None = None  # used by +adapter conditions
    system_prompt: Path | None = None  # replaces the default system prompt (LLM generators)
    judge: str | None = None  # PROVIDER:MODEL
    format: str = "auto"
    limit: int | None = None  # the first N questions only
    depth: int = 50
    seed: int = 0
    resamples: int = 5000
    progress: bool = True


def evaluate(
    dataset_path: Path | str,
    out_dir: Path | str,
    options: EvalOptions = EvalOptions(),
    *,
    index_dir: Path | str | None = None,
    assistants: Mapping[str, Any] | None = None,
    chunks: Sequence[Chunk] | None = None,
    warn: Any = None,
) -> dict[str, Any]:
    """Run `ragkit eval`: results.jsonl, summary.json, report.md, report.html in `out_dir`.

    `assistants` (variant -> assistant) and `chunks` replace the ones built from `index_dir`,
    for tests. `warn` receives warnings as one-line strings (default: stderr).
    """
    from ragkit.eval.datasets import access_warnings, coverage_warnings, load_dataset
    from ragkit.eval.report import build_summary, write_reports

    warn = warn or (lambda line: print(f"ragkit eval: warning: {line}", file=sys.stderr))
    out_dir = Path(out_dir)
    dataset = load_dataset(dataset_path, options.format)
    for problem in dataset.problems[:20]:
        warn(f"{dataset.path}: skipped {problem}")
    if len(dataset.problems) > 20:
        warn(f"{dataset.path}: skipped {len(dataset.problems) - 20} more malformed entries")
    if options.limit is not None:
        dataset.items = dataset.items[: options.limit]
    conditions = parse_conditions(options.conditions)
    notes: list[str] = []
    if dataset.retrieval_only and any(c.base != "retrieval" for c in conditions):
        notes.append(f"{dataset.format} datasets have no answers to grade: retrieval only")
        conditions = (Condition("retrieval"),)
    uses_adapter = any("adapter" in c.modifiers for c in conditions)
    if uses_adapter and options.adapter is None:
        raise UsageError("a +adapter condition needs --adapter DIR (and --llm hf:BASE_MODEL)")
    if options.adapter is not None and not uses_adapter:
        raise UsageError("--adapter is used by +adapter conditions: add e.g. grounded+adapter")
    settings = RunSettings(options.k, tuple(options.groups), max(options.depth, options.k))

    manifest: dict[str, Any] = {}
    if assistants is None:
        if index_dir is None:
            raise UsageError("no index directory: pass --index DIR or set RAGKIT_INDEX")
        from ragkit.assistant import Assistant

        base = Assistant.from_index(
            index_dir,
            llm=options.llm,
            k=options.k,
            groups=options.groups,
            system_prompt=options.system_prompt,
        )
        assistants = {"": base}
        if uses_adapter:
            assistants["adapter"] = with_adapter(base, options)
    if index_dir is not None:
        from ingest.store import read_manifest

        manifest = read_manifest(Path(index_dir)) or {}
    if chunks is None:
        chunks = list(getattr(assistants[""].retriever, "chunks", []))
    warnings = coverage_warnings(dataset, {c.source for c in chunks}, str(index_dir or "the index"))
    warnings += access_warnings(dataset, chunks, settings.groups)
    for line in warnings:
        warn(line)

    identity = {
        "dataset_sha256": dataset.sha256(),
        "index": identity_digest([manifest.get("fingerprint"), manifest.get("files")]),
        "llm": options.llm,
        "adapter": str(options.adapter) if options.adapter else None,
        "system_prompt": _file_digest(options.system_prompt),
        "k": settings.k,
        "groups": sorted(settings.groups),
        "depth": settings.depth,
    }
    check_config(out_dir, identity)
    judge = None
    if options.judge:
        from ragkit.eval.judge import Judge

        judge = Judge(options.judge, out_dir / "judge-cache.jsonl")
    records = run_conditions(
        dataset,
        conditions,
        assistants,
        out_dir / "results.jsonl",
        settings,
        chunks=chunks,
        judge=judge,
        progress=options.progress,
    )
    summary = build_summary(
        records,
        dataset,
        conditions,
        options=options,
        identity=identity,
        manifest=manifest,
        index_dir=index_dir,
        warnings=warnings,
        notes=notes,
    )
    write_reports(out_dir, summary)
    return summary
