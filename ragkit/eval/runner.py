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
groups, adapter); a rerun with different settings is refused rather than mixed in. Both files
are read and written by `ragkit.eval.resume`; conditions are parsed by `ragkit.eval.options`
and each answer is graded by `ragkit.eval.grading`.

Retrieval is scored twice per question: the ranking (the first `depth` chunks, folded to
documents at their first rank) gives MRR@10, nDCG@10 and the rank at which gold first
appeared; the k passages the generator actually saw give hit@k and recall@k.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ragkit.errors import RagkitError, UsageError
from ragkit.eval import metrics as m
from ragkit.eval.grading import answer_record
from ragkit.eval.items import EvalDataset, EvalItem, MatchMode, chunk_matches
from ragkit.eval.options import Condition, EvalOptions, RunSettings, parse_conditions
from ragkit.eval.resume import (
    check_config,
    file_digest,
    identity_digest,
    latest_records,
    read_results,
)
from ragkit.index.records import Chunk, chunk_id_for, readable_by, sha256_hex
from ragkit.types import Answer, Hit

_FAIL_FAST = 5  # the first N attempts all failing means a broken setup, not bad questions


# ---------------------------------------------------------------------------- the loop


def run_conditions(
    dataset: EvalDataset,
    conditions: Sequence[Condition],
    assistants: Mapping[str, Any],
    results_path: Path,
    settings: RunSettings = RunSettings(),  # noqa: B008 (frozen: safe to share)
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


def evaluate(
    dataset_path: Path | str,
    out_dir: Path | str,
    options: EvalOptions = EvalOptions(),  # noqa: B008 (frozen: safe to share)
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
    from ragkit.eval.report import write_reports
    from ragkit.eval.summary import build_summary

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
        base.warm_up()  # many questions follow: the bulk encoder pays for its loading
        assistants = {"": base}
        if uses_adapter:
            assistants["adapter"] = with_adapter(base, options)
    if index_dir is not None:
        from ragkit.index.store import open_store

        manifest = open_store(index_dir).read_manifest() or {}
    if chunks is None:
        retriever = assistants[""].retriever
        snapshot = getattr(retriever, "snapshot", None)  # a local index: read its chunks once
        if callable(snapshot):  # LiveRetriever: the generation it answers from
            snapshot = snapshot()
        if snapshot is not None:
            chunks = snapshot.live_chunks()
        else:
            chunks = list(getattr(retriever, "chunks", []))
    warnings = coverage_warnings(dataset, {c.source for c in chunks}, str(index_dir or "the index"))
    warnings += access_warnings(dataset, chunks, settings.groups)
    for line in warnings:
        warn(line)

    identity = {
        "dataset_sha256": dataset.sha256(),
        "index": identity_digest([manifest.get("fingerprint"), manifest.get("files")]),
        "llm": options.llm,
        "adapter": str(options.adapter) if options.adapter else None,
        "system_prompt": file_digest(options.system_prompt),
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
