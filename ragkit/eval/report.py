"""Write an evaluation's summary.json, report.md and report.html.

Both reports render the same tables (`_tables`) from the summary built by
`ragkit.eval.summary`, so they always agree; the HTML one adds the SVG charts of
`ragkit.eval.charts` and inlines its style, so it opens offline.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ragkit.eval.charts import first_rank_histogram, metrics_chart, rank_chart


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
    hist = first_rank_histogram(summary)
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


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;
font-size:.9em;text-align:left}th{background:#f3f3f3}.warn{background:#fff3cd;padding:.6em;
border-left:4px solid #e0a800}svg text{font-size:11px;font-family:system-ui,sans-serif}"""


def render_html(summary: Mapping[str, Any]) -> str:
    esc = html.escape
    title = f"ragkit eval: {Path(summary['dataset']['path']).name}"
    body = [f"<h1>{esc(title)}</h1>", "<ul>"]
    body += [f"<li>{esc(line)}</li>" for line in _header_lines(summary)] + ["</ul>"]
    body += [f'<p class="warn"><b>Warning:</b> {esc(w)}</p>' for w in summary["warnings"]]
    body += ["<h2>Metrics per condition</h2>", metrics_chart(summary)]
    rank_svg, hist = rank_chart(summary), first_rank_histogram(summary)
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
