"""The adaptation ladder: the base model with the hard (system) prompt against each trained rung.

`run_ladder(test.jsonl, rungs, out)` answers every held-out record (the format
`ragkit.tune.public` writes: each record carries its retrieved `passages` and its `oracle`
passage) under three conditions, for the base model and for every adapter folder:

    grounded    the record's retrieved passages (BM25 top k over the held-out pool)
    ungrounded  no passages: closed book, the model's own knowledge
    oracle      the gold passage alone

Answers are generated greedily in left-padded batches and graded by `ragkit.eval.grading`
(correct, EM/F1, must-contain, refusals, citation validity). Each rung's records are appended
to `rungs/<rung>.jsonl` as they exist, so an interrupted run resumes; `ladder.json`,
`ladder.md` and `ladder.html` (inline SVG charts) are rewritten at the end.

Citation validity: the share of non-refusal answers whose citations check out (every [n]
marker names a shown passage and the passages it names support the cited sentence:
`ragkit.generators.grounding.check_citations`, the chain's grounded/unverified flag).

Hallucination (closed book only): an answer that is not a refusal and is not correct against
the documents, i.e. for an answerable question it does not match the answer the gold document
gives, and for an unanswerable one any answer at all (no document supports one). Deltas against
the base rung are paired bootstrap 95% intervals over the same questions (`bootstrap.py`).
"""

from __future__ import annotations

import html
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError
from ragkit.eval.bootstrap import paired_bootstrap
from ragkit.eval.grading import answer_record
from ragkit.eval.items import EvalItem
from ragkit.eval.summary import condition_metrics
from ragkit.tune.data import check_passages, json_line

CONDITIONS = ("grounded", "ungrounded", "oracle")
BASE = "base"
LADDER_FIELDS = ("id", "question", "answerable", "passages", "oracle")
HEADLINE = (
    "answer.correct",
    "answer.em",
    "answer.f1",
    "answer.must_contain",
    "abstention.correct_refusal",
    "abstention.false_refusal",
    "grounding.citation_validity",
    "hallucination",
)


@dataclass(frozen=True)
class Rung:
    name: str
    adapter: Path | None  # None: the base model with the hard prompt


def read_test(path: Path | str) -> list[dict[str, Any]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read ladder test set {path}: {exc.strerror}") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = json_line(path, number, line)
        missing = [
            k for k in ("id", "question", "answerable", "passages", "oracle") if k not in record
        ]
        if missing:
            raise ConfigError(
                f"{path}:{number}: missing {missing}; ladder records need id, question, "
                "answerable, passages and oracle: build them with `python "
                "tests/bench/ladder_data.py OUT` (writes OUT/test.jsonl) or "
                "ragkit.tune.public.build(...)"
            )
        for key in ("passages", "oracle"):
            check_passages(path, number, key, record[key])
        records.append(record)
    return records


def eval_item(record: dict[str, Any]) -> EvalItem:
    answers = tuple(record.get("answers") or ([record["answer"]] if record.get("answer") else []))
    return EvalItem(
        id=str(record["id"]),
        question=str(record["question"]),
        answers=answers,
        answerable=bool(record["answerable"]),
        must_contain=tuple(record.get("must_contain") or ()),
    )


def discover_rungs(folder: Path | str) -> list[Rung]:
    """The base rung, then each adapter folder under `folder`, cheapest method first."""
    from ragkit.tune.adapter import METADATA_FILE, adapter_method, read_metadata
    from ragkit.tune.methods import METHODS

    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"ladder folder {root} does not exist: train rungs with `ragkit tune`")
    found = []
    for child in sorted(root.iterdir()):
        if (child / METADATA_FILE).is_file():
            method = adapter_method(read_metadata(child))
            found.append((METHODS.index(method), child.name, child))
    return [Rung(BASE, None)] + [Rung(name, path) for _, name, path in sorted(found)]


def run_ladder(
    test_path: Path | str,
    rungs: Sequence[Rung],
    out_dir: Path | str,
    *,
    llm: str = "smollm2",
    system_prompt: str | None = None,
    max_new_tokens: int = 32,
    batch_size: int = 16,
    limit: int | None = None,
    progress: bool = True,
    resamples: int = 5000,
    precision: str = "fp32",
    conditions: Sequence[str] = CONDITIONS,
) -> dict[str, Any]:
    """Answer, grade and report every (rung, condition, question); resumable.

    `conditions`: a subset of CONDITIONS to answer now (the report covers whatever the rung
    files hold, so a later run can add the others)."""
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown or not conditions:
        raise ConfigError(
            f"unknown ladder condition(s) {unknown or conditions}: use {', '.join(CONDITIONS)}"
        )
    from ragkit.generators.hf import HFGenerator
    from ragkit.prompt import load_system_prompt

    records = read_test(test_path)[:limit]
    out = Path(out_dir)
    (out / "rungs").mkdir(parents=True, exist_ok=True)
    prompt = load_system_prompt(system_prompt)
    for rung in rungs:
        path = out / "rungs" / f"{rung.name}.jsonl"
        done = {(r["id"], r["condition"]) for r in _read_jsonl(path)}
        todo = [(c, r) for c in conditions for r in records if (r["id"], c) not in done]
        if not todo:
            continue
        generator = HFGenerator(
            llm,
            adapter=rung.adapter,
            system_prompt=prompt,
            max_new_tokens=max_new_tokens,
            precision=precision,
        )
        started = time.perf_counter()
        generator.warm_up()
        if progress:
            print(
                f"ladder: {rung.name} loaded in {time.perf_counter() - started:.0f} s; "
                f"{len(todo)} answers to go",
                file=sys.stderr,
            )
        with path.open("a", encoding="utf-8") as handle:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                for line in answer_batch(generator, batch):
                    handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                handle.flush()
                if progress:
                    print(f"ladder: {rung.name} {start + len(batch)}/{len(todo)}", file=sys.stderr)
        del generator
    summary = summarise(records, rungs, out, resamples=resamples)
    write_ladder_reports(out, summary)
    return summary


def answer_batch(generator: Any, batch: Sequence[tuple[str, dict[str, Any]]]) -> list[dict]:
    """Grade one batch of (condition, record); grouped by condition so prompts look alike."""
    from ragkit.tune.data import record_hits

    lines = []
    for condition in CONDITIONS:
        group = [r for c, r in batch if c == condition]
        if not group:
            continue
        key = {"grounded": "passages", "oracle": "oracle"}.get(condition)
        hits = [record_hits(r, key) if key else [] for r in group]
        started = time.perf_counter()
        answers = generator.generate_batch([r["question"] for r in group], hits)
        seconds = time.perf_counter() - started
        for record, answer in zip(group, answers, strict=True):
            item = eval_item(record)
            line = {
                "id": item.id,
                "condition": condition,
                "origin": record.get("origin"),
                "answerable": item.answerable,
                **answer_record(item, answer),
                "new_tokens": len(generator.tokenizer(answer.text)["input_ids"]),
                "seconds": round(seconds / len(group), 4),
            }
            # Grounded: an answer whose [n] markers all name shown passages that support
            # the cited sentences (`grounding.check_citations`; the chain's "unverified").
            line["grounded"] = not answer.abstained and "unverified" not in answer.metadata
            if condition == "ungrounded":
                line["hallucination"] = not line["abstained"] and not line["correct"]
            lines.append(line)
    return lines


def summarise(
    records: Sequence[dict[str, Any]], rungs: Sequence[Rung], out: Path, *, resamples: int = 5000
) -> dict[str, Any]:
    ids = [str(r["id"]) for r in records]
    results: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for rung in rungs:
        lines = _read_jsonl(out / "rungs" / f"{rung.name}.jsonl")
        results[rung.name] = {(r["id"], r["condition"]): r for r in lines}
    summary: dict[str, Any] = {"n_questions": len(ids), "rungs": {}, "deltas": []}
    for rung in rungs:
        entry: dict[str, Any] = {"adapter": str(rung.adapter) if rung.adapter else None}
        entry["cost"] = rung_cost(rung)
        entry["conditions"] = {}
        for condition in CONDITIONS:
            lines = [results[rung.name].get((i, condition)) for i in ids]
            lines = [x for x in lines if x is not None]
            metrics = condition_metrics(lines)
            answered = [x for x in lines if not x.get("abstained")]
            if answered and all("grounded" in x for x in answered):
                # Citation validity is the share of (non-refusal) answers whose citations
                # check out, not the quote check (quotes are verbatim by construction).
                share = sum(bool(x["grounded"]) for x in answered) / len(answered)
                metrics["grounding.citation_validity"] = {
                    "value": round(share, 6),
                    "n": len(answered),
                }
            if condition == "ungrounded" and lines:
                share = sum(bool(x.get("hallucination")) for x in lines) / len(lines)
                metrics["hallucination"] = {"value": round(share, 6), "n": len(lines)}
            tokens = sum(x.get("new_tokens", 0) for x in lines)
            seconds = sum(x.get("seconds", 0.0) for x in lines)
            if seconds:
                metrics["generation.tokens_per_second"] = {
                    "value": round(tokens / seconds, 2),
                    "n": len(lines),
                }
            entry["conditions"][condition] = {"n": len(lines), "metrics": metrics}
        summary["rungs"][rung.name] = entry
    base = results.get(BASE, {})
    for rung in rungs[1:]:
        for condition in CONDITIONS:
            for label, subset in (
                ("correct", ids),
                ("correct_refusal", [r["id"] for r in records if not r["answerable"]]),
                ("correct_answerable", [r["id"] for r in records if r["answerable"]]),
            ):
                pairs = [
                    (base[(i, condition)], results[rung.name][(i, condition)])
                    for i in subset
                    if (i, condition) in base and (i, condition) in results[rung.name]
                ]
                if not pairs:
                    continue
                ci = paired_bootstrap(
                    [float(bool(a["correct"])) for a, _ in pairs],
                    [float(bool(b["correct"])) for _, b in pairs],
                    resamples=resamples,
                )
                summary["deltas"].append(
                    {"rung": rung.name, "condition": condition, "metric": label, **ci.to_json()}
                )
    return summary


def rung_cost(rung: Rung) -> dict[str, Any]:
    """Training cost recorded in the adapter's metadata (nothing for the base rung)."""
    if rung.adapter is None:
        return {"method": "hard prompt", "trainable_parameters": 0}
    from ragkit.tune.adapter import adapter_method, read_metadata

    metadata = read_metadata(rung.adapter)
    metrics = metadata.get("metrics", {})
    return {
        "method": adapter_method(metadata),
        "trainable_parameters": metrics.get("trainable_parameters"),
        "training_seconds": metrics.get("seconds"),
        "peak_rss_mb": metrics.get("peak_rss_mb"),
        "train_tokens_per_second": metrics.get("tokens_per_second"),
        "examples": metrics.get("examples"),
        "train_losses": metrics.get("train_losses"),
    }


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by an interrupted run is answered again
    return out


# ---------------------------------------------------------------------------- reports


def _cell(stat: dict[str, Any] | None) -> str:
    return "-" if not stat else f"{stat['value']:.3f}"


def render_markdown(summary: dict[str, Any]) -> str:
    rungs = summary["rungs"]
    lines = [f"# Adaptation ladder ({summary['n_questions']} held-out questions)", ""]
    for condition in CONDITIONS:
        lines += [f"## {condition}", "", "| metric | " + " | ".join(rungs) + " |"]
        lines.append("|---|" + "---|" * len(rungs))
        for metric in (*HEADLINE, "generation.tokens_per_second"):
            cells = [
                _cell(r["conditions"][condition]["metrics"].get(metric)) for r in rungs.values()
            ]
            if any(c != "-" for c in cells):
                lines.append(f"| {metric} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Cost per rung", "", "| rung | method | trainable params | train s | peak MiB |"]
    lines.append("|---|---|---|---|---|")
    for name, rung in rungs.items():
        cost = rung["cost"]
        lines.append(
            f"| {name} | {cost.get('method')} | {cost.get('trainable_parameters') or 0:,} | "
            f"{_num(cost.get('training_seconds'))} | {_num(cost.get('peak_rss_mb'))} |"
        )
    lines += ["", "## Paired bootstrap 95% intervals against the base rung", ""]
    lines += ["| rung | condition | metric | delta | 95% CI | n |", "|---|---|---|---|---|---|"]
    for d in summary["deltas"]:
        lines.append(
            f"| {d['rung']} | {d['condition']} | {d['metric']} | {d['delta']:+.3f} | "
            f"[{d['low']:+.3f}, {d['high']:+.3f}] | {d['n']} |"
        )
    return "\n".join(lines) + "\n"


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.0f}"


def render_html(summary: dict[str, Any]) -> str:
    from ragkit.eval.charts import metrics_chart

    parts = ["<!doctype html><meta charset='utf-8'><title>ragkit adaptation ladder</title>"]
    parts.append("<style>body{font:14px sans-serif;margin:2em}svg text{font:11px sans-serif}")
    parts.append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}")
    parts.append("</style>")
    for condition in CONDITIONS:
        shaped = {
            "conditions": {
                name: {
                    "metrics": {
                        k: v
                        for k, v in rung["conditions"][condition]["metrics"].items()
                        if k in HEADLINE
                    }
                }
                for name, rung in summary["rungs"].items()
            }
        }
        parts.append(f"<h2>{html.escape(condition)}</h2>{metrics_chart(shaped)}")
    body = render_markdown(summary)
    parts.append(f"<pre>{html.escape(body)}</pre>")
    return "\n".join(parts)


def write_ladder_reports(out: Path, summary: dict[str, Any]) -> None:
    for name, text in (
        ("ladder.json", json.dumps(summary, indent=2, sort_keys=True) + "\n"),
        ("ladder.md", render_markdown(summary)),
        ("ladder.html", render_html(summary)),
    ):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
