"""Summarise evaluation records into the summary that summary.json and the reports show.

The summary holds, per condition, every metric as {"value", "n"} (n = the questions it was
computed over), the histogram of the rank at which gold was first retrieved, paired-bootstrap
deltas between every two conditions, and per question which conditions got it right, along
with what the run depended on (dataset, index, settings, package versions). It is plain JSON
data, computed once here, so the markdown and HTML renderers (`ragkit.eval.report`) only
format it and can never disagree about a number.
"""

from __future__ import annotations

import datetime as _dt
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from itertools import combinations
from typing import Any

from ragkit.eval import metrics as m
from ragkit.eval.bootstrap import paired_bootstrap
from ragkit.eval.grading import F1_CORRECT
from ragkit.eval.items import EvalDataset
from ragkit.eval.options import BASES, MODIFIERS, Condition
from ragkit.eval.resume import latest_records

PACKAGES = (
    "ragkit", "numpy", "scipy", "bm25s", "faiss-cpu", "sentence-transformers", "transformers",
    "torch", "peft", "langchain-core",
)  # fmt: skip
DELTA_METRICS = ("correct", "f1", "em", "contains_answer", "must_contain", "groundedness")
RANK_BINS = [(r, r, str(r)) for r in range(1, 11)] + [(11, 20, "11-20"), (21, 10**9, "21+")]


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _stat(values: Sequence[Any]) -> dict[str, Any] | None:
    value = m.mean(values)
    n = sum(v is not None for v in values)
    return None if value is None else {"value": round(value, 6), "n": n}


def condition_metrics(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every metric over one condition's answered records, as {"value", "n"}."""
    out: dict[str, dict[str, Any] | None] = {}
    for level in ("doc", "page"):
        blocks = [r["retrieval"][level] for r in records if level in r.get("retrieval", {})]
        for name in dict.fromkeys(key for b in blocks for key in b if key != "gold_rank"):
            out[f"retrieval.{level}.{name}"] = _stat([b[name] for b in blocks])
    answered = [r for r in records if "abstained" in r]
    for name in ("correct", "em", "f1", "contains_answer", "must_contain"):
        out[f"answer.{name}"] = _stat([r.get(name) for r in answered])
    if answered:
        rates = m.abstention_rates((r["answerable"], r["abstained"]) for r in answered)
        out["abstention.rate"] = _stat([r["abstained"] for r in answered])
        for name, n_key in (
            ("correct_refusal", "n_unanswerable"),
            ("false_refusal", "n_answerable"),
        ):
            if rates[name] is not None:
                out[f"abstention.{name}"] = {"value": round(rates[name], 6), "n": rates[n_key]}
        out["grounding.groundedness"] = _stat([r.get("groundedness") for r in answered])
        cited = sum(r.get("n_citations", 0) for r in answered)
        if cited:
            valid = sum(r.get("valid_citations", 0) for r in answered)
            out["grounding.citation_validity"] = {"value": round(valid / cited, 6), "n": cited}
        for name in ("faithfulness", "relevance"):
            out[f"judge.{name}"] = _stat([r.get("judge", {}).get(name) for r in answered])
    out["seconds.mean"] = _stat([r.get("seconds") for r in records])
    return {name: stat for name, stat in out.items() if stat is not None}


def _shown_answer(record: Mapping[str, Any]) -> str:
    """The answer as the per-question table shows it: its text, a refusal, or what went wrong."""
    if record.get("error"):
        return f"(error: {record['error']})"
    if record.get("skipped"):
        return f"(skipped: {record['skipped']})"
    if record.get("abstained"):
        return "(refused)"
    return str(record.get("answer", ""))


def gold_rank_histogram(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many questions first retrieved gold at each chunk rank (doc level)."""
    ranks = [r["retrieval"]["doc"]["gold_rank"] for r in records if "retrieval" in r]
    counts = {label: 0 for _, _, label in RANK_BINS} | {"not found": 0}
    for rank in ranks:
        label = next(
            (lb for lo, hi, lb in RANK_BINS if rank is not None and lo <= rank <= hi), None
        )
        counts[label or "not found"] += 1
    return counts if ranks else {}


def build_summary(
    records: Sequence[dict[str, Any]],
    dataset: EvalDataset,
    conditions: Sequence[Condition],
    *,
    options: Any,
    identity: Mapping[str, Any],
    manifest: Mapping[str, Any],
    index_dir: Any,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    latest = latest_records(records)
    ids = [item.id for item in dataset.items]
    names = [c.name for c in conditions]
    per_condition: dict[str, Any] = {}
    for condition in conditions:
        rows = [latest.get((qid, condition.name)) for qid in ids]
        present = [r for r in rows if r is not None]
        answered = [r for r in present if not r.get("error") and not r.get("skipped")]
        per_condition[condition.name] = {
            "description": "; ".join(
                [BASES[condition.base], *(MODIFIERS[x] for x in condition.modifiers)]
            ),
            "n": len(answered),
            "errors": sum(bool(r.get("error")) for r in present),
            "skipped": sum(bool(r.get("skipped")) for r in present),
            "missing": len(ids) - len(present),
            "metrics": condition_metrics(answered),
            "gold_rank": gold_rank_histogram(answered),
        }
    ok = {k: r for k, r in latest.items() if not r.get("error") and not r.get("skipped")}
    per_question = {
        qid: {name: ok[(qid, name)].get("correct") for name in names if (qid, name) in ok}
        for qid in ids
    }
    # What a reader of the per-question table needs: the question and each condition's answer.
    questions = {
        item.id: {
            "question": item.question,
            "answers": {
                name: _shown_answer(latest[(item.id, name)])
                for name in names
                if (item.id, name) in latest
            },
        }
        for item in dataset.items
    }
    deltas, disagreements = [], []
    for a, b in combinations(names, 2):
        for metric in DELTA_METRICS:
            pairs = [
                (ok[(q, a)].get(metric), ok[(q, b)].get(metric))
                for q in ids
                if (q, a) in ok and (q, b) in ok
            ]
            pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
            if pairs:
                ci = paired_bootstrap(
                    [float(y) for _, y in pairs],
                    [float(x) for x, _ in pairs],
                    resamples=options.resamples,
                    seed=options.seed,
                )
                means = {  # over the paired questions only, so they differ by `delta`
                    "mean_a": round(sum(float(x) for x, _ in pairs) / len(pairs), 6),
                    "mean_b": round(sum(float(y) for _, y in pairs) / len(pairs), 6),
                }
                deltas.append({"a": a, "b": b, "metric": metric, **ci.to_json(), **means})
        both = [
            q
            for q in ids
            if per_question[q].get(a) is not None and per_question[q].get(b) is not None
        ]
        disagreements.append(
            {
                "a": a,
                "b": b,
                "a_only": [q for q in both if per_question[q][a] and not per_question[q][b]],
                "b_only": [q for q in both if per_question[q][b] and not per_question[q][a]],
                "n": len(both),
            }
        )
    notes = list(notes)
    notes.append(
        "correct: unanswerable questions when the answer abstained; answerable ones when it did "
        "not abstain and contains every must_contain string (case-insensitive), or, without "
        f"must_contain, contains a gold answer or reaches token F1 >= {F1_CORRECT}"
    )
    if any(c.base == "ungrounded" for c in conditions) and options.llm == "extractive":
        notes.append(
            "ungrounded: the extractive generator has no knowledge of its own, so it abstains on "
            "every question. This is expected; the grounded - ungrounded delta is then the whole "
            "value of retrieval"
        )
    skipped = sum(c["skipped"] for c in per_condition.values())
    if skipped:
        notes.append(f"oracle: {skipped} question(s) without gold passages were skipped")
    return {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "dataset": {
            "path": str(dataset.path),
            "format": dataset.format,
            "questions": len(ids),
            "answerable": sum(i.answerable for i in dataset.items),
            "with_gold": sum(bool(i.gold) for i in dataset.items),
            "malformed": len(dataset.problems),
            "problems": [str(p) for p in dataset.problems[:50]],
        },
        "index": {
            "path": None if index_dir is None else str(index_dir),
            "fingerprint": manifest.get("fingerprint"),
            "files": len(manifest.get("files") or {}),
            "chunks": manifest.get("chunks"),
        },
        "config": {
            "conditions": names,
            "llm": options.llm,
            "k": options.k,
            "groups": list(options.groups),
            "adapter": None if options.adapter is None else str(options.adapter),
            "system_prompt": None if options.system_prompt is None else str(options.system_prompt),
            "judge": options.judge,
            "depth": identity.get("depth"),
            "seed": options.seed,
            "resamples": options.resamples,
            "identity": dict(identity),
        },
        "versions": package_versions(),
        "conditions": per_condition,
        "deltas": deltas,
        "disagreements": disagreements,
        "per_question": per_question,
        "questions": questions,
        "warnings": list(warnings),
        "notes": notes,
    }
