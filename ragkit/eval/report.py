"""Summarise evaluation records and write summary.json, report.md and report.html.

The summary holds, per condition, every metric as {"value", "n"} (n = the questions it was
computed over), the histogram of the rank at which gold was first retrieved, paired-bootstrap
deltas between every two conditions, and per question which conditions got it right. The
HTML report draws its charts as inline SVG and loads nothing: it opens offline.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from itertools import combinations
from pathlib import Path
from typing import Any

from ragkit.eval import metrics as m
from ragkit.eval.bootstrap import paired_bootstrap
from ragkit.eval.datasets import EvalDataset
from ragkit.eval.runner import BASES, F1_CORRECT, MODIFIERS, Condition, latest_records

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
                deltas.append({"a": a, "b": b, "metric": metric, **ci.to_json()})
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
        "warnings": list(warnings),
        "notes": notes,
    }


# ---------------------------------------------------------------------------- writing


def write_reports(out_dir: Path, summary: Mapping[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(
        json.dumps(summary, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out_dir / "report.md").write_text(render_markdown(summary), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(summary), encoding="utf-8")


def _fmt(stat: Mapping[str, Any] | None) -> str:
    if not stat:
        return "–"
    value = stat["value"]
    text = f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} (n={stat['n']})"


def _tables(summary: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for every table; markdown and HTML render the same ones."""
    conditions = summary["conditions"]
    names = list(conditions)
    metric_names = list(dict.fromkeys(k for c in conditions.values() for k in c["metrics"]))
    tables = [
        (
            "Metrics per condition: values and n",
            ["metric", *names],
            [[k, *(_fmt(conditions[c]["metrics"].get(k)) for c in names)] for k in metric_names]
            + [
                [f"({what})", *(str(conditions[c][what]) for c in names)]
                for what in ("errors", "skipped", "missing")
            ],
        )
    ]
    if summary["deltas"]:
        first = summary["deltas"][0]
        tables.append(
            (
                f"Deltas a - b, paired bootstrap {int(first['confidence'] * 100)}% CI "
                f"({first['resamples']} resamples, seed {first['seed']})",
                ["a", "b", "metric", "delta", "95% CI", "n"],
                [
                    [
                        d["a"],
                        d["b"],
                        d["metric"],
                        f"{d['delta']:+.3f}",
                        f"[{d['low']:+.3f}, {d['high']:+.3f}]",
                        str(d["n"]),
                    ]
                    for d in summary["deltas"]
                ],  # fmt: skip
            )
        )
    for d in summary["disagreements"]:
        tables.append(
            (
                f"{d['a']} vs {d['b']}: questions only one got right (of n={d['n']})",
                ["right only in", "count", "questions"],
                [
                    [d["a"], str(len(d["a_only"])), ", ".join(d["a_only"]) or "–"],
                    [d["b"], str(len(d["b_only"])), ", ".join(d["b_only"]) or "–"],
                ],
            )
        )
    hist = _histogram(summary)
    if hist:
        name, counts = hist
        tables.append(
            (f"Chunk rank at which gold was first retrieved ({name})", ["rank", "questions"],
             [[label, str(n)] for label, n in counts.items()])
        )  # fmt: skip
    mark = {True: "✓", False: "✗", None: "–"}
    tables.append(
        (
            "Per question (✓ right, ✗ wrong, – not graded)",
            ["question", *names],
            [
                [qid, *(mark[row.get(c)] if c in row else " " for c in names)]
                for qid, row in summary["per_question"].items()
            ],
        )
    )
    return tables


def _histogram(summary: Mapping[str, Any]) -> tuple[str, dict[str, int]] | None:
    for name, condition in summary["conditions"].items():
        if condition["gold_rank"]:
            return name, condition["gold_rank"]
    return None


def _header_lines(summary: Mapping[str, Any]) -> list[str]:
    d, i, c = summary["dataset"], summary["index"], summary["config"]
    model = (i.get("fingerprint") or {}).get("model", "?")
    return [
        f"Dataset: {d['path']} ({d['format']}; {d['questions']} questions, {d['answerable']} "
        f"answerable, {d['with_gold']} with gold sources; {d['malformed']} malformed entries "
        "skipped)",
        f"Index: {i['path']} (model {model}, {i['files']} files, {i['chunks']} chunks)",
        f"Settings: --llm {c['llm']}, -k {c['k']}, groups {c['groups'] or 'none'}, "
        f"adapter {c['adapter'] or 'none'}, judge {c['judge'] or 'none'}; "
        f"created {summary['created']}",
    ]


def render_markdown(summary: Mapping[str, Any]) -> str:
    lines = [f"# ragkit eval: {Path(summary['dataset']['path']).name}", ""]
    lines += [f"- {line}" for line in _header_lines(summary)] + [""]
    if summary["warnings"]:
        lines += ["## Warnings", ""] + [f"- **{w}**" for w in summary["warnings"]] + [""]
    for title, header, rows in _tables(summary):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows
        ]
        lines.append("")
    lines += ["## Notes", ""] + [f"- {note}" for note in summary["notes"]]
    return "\n".join(lines) + "\n"


_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")
_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;
font-size:.9em;text-align:left}th{background:#f3f3f3}.warn{background:#fff3cd;padding:.6em;
border-left:4px solid #e0a800}svg text{font-size:11px;font-family:system-ui,sans-serif}"""


def metrics_chart(summary: Mapping[str, Any]) -> str:
    """Horizontal grouped bars: one group per metric in [0, 1], one bar per condition."""
    conditions = summary["conditions"]
    names = list(conditions)
    metrics = [
        k
        for k in dict.fromkeys(k for c in conditions.values() for k in c["metrics"])
        if not k.startswith("seconds")
    ]
    if not metrics:
        return ""
    bar, gap, left, width = 11, 10, 230, 420
    group = bar * len(names) + gap
    height = group * len(metrics) + 30 + 16 * len(names)
    parts = [f'<svg width="{left + width + 80}" height="{height}" role="img">']
    for j, name in enumerate(names):
        y = 10 + 16 * j
        color = _PALETTE[j % len(_PALETTE)]
        parts.append(f'<rect x="{left}" y="{y}" width="12" height="10" fill="{color}"/>')
        parts.append(f'<text x="{left + 18}" y="{y + 9}">{html.escape(name)}</text>')
    top = 20 + 16 * len(names)
    for i, metric in enumerate(metrics):
        y0 = top + i * group
        parts.append(
            f'<text x="{left - 6}" y="{y0 + bar * len(names) / 2 + 4}" '
            f'text-anchor="end">{html.escape(metric)}</text>'
        )
        for j, name in enumerate(names):
            stat = conditions[name]["metrics"].get(metric)
            if stat is None:
                continue
            value = max(0.0, min(1.0, float(stat["value"])))
            y = y0 + j * bar
            parts.append(
                f'<rect x="{left}" y="{y}" width="{value * width:.1f}" height="{bar - 2}" '
                f'fill="{_PALETTE[j % len(_PALETTE)]}"><title>{html.escape(name)} '
                f"{html.escape(metric)} = {stat['value']:.3f} (n={stat['n']})</title></rect>"
            )
            parts.append(
                f'<text x="{left + value * width + 4}" y="{y + bar - 3}">{value:.2f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def rank_chart(summary: Mapping[str, Any]) -> str:
    """Vertical bars: questions per rank at which gold was first retrieved."""
    hist = _histogram(summary)
    if not hist:
        return ""
    _, counts = hist
    peak = max(counts.values()) or 1
    col, chart_h, base = 44, 160, 190
    parts = [f'<svg width="{col * len(counts) + 20}" height="{base + 30}" role="img">']
    for i, (label, n) in enumerate(counts.items()):
        h = chart_h * n / peak
        x = 10 + i * col
        parts.append(
            f'<rect x="{x}" y="{base - h:.1f}" width="{col - 8}" height="{h:.1f}" fill="'
            f'{"#bbbbbb" if label == "not found" else _PALETTE[0]}"><title>{n}</title></rect>'
        )
        parts.append(
            f'<text x="{x + (col - 8) / 2}" y="{base - h - 4:.1f}" text-anchor="middle">{n}</text>'
        )
        parts.append(
            f'<text x="{x + (col - 8) / 2}" y="{base + 14}" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(summary: Mapping[str, Any]) -> str:
    esc = html.escape
    title = f"ragkit eval: {Path(summary['dataset']['path']).name}"
    body = [f"<h1>{esc(title)}</h1>", "<ul>"]
    body += [f"<li>{esc(line)}</li>" for line in _header_lines(summary)] + ["</ul>"]
    body += [f'<p class="warn"><b>Warning:</b> {esc(w)}</p>' for w in summary["warnings"]]
    body += ["<h2>Metrics per condition</h2>", metrics_chart(summary)]
    rank_svg, hist = rank_chart(summary), _histogram(summary)
    if rank_svg and hist:
        n = sum(hist[1].values())
        heading = f"Chunk rank at which gold was first retrieved ({hist[0]}, n={n})"
        body += [f"<h2>{esc(heading)}</h2>", rank_svg]
    for table_title, header, rows in _tables(summary):
        body.append(f"<h2>{esc(table_title)}</h2><table><tr>")
        body.append("".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
        body.append("</table>")
    body += ["<h2>Notes</h2><ul>"] + [f"<li>{esc(n)}</li>" for n in summary["notes"]] + ["</ul>"]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
