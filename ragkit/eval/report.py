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
from ragkit.eval.headline import headline


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
    tables.append(per_question_table(summary))
    return tables


MARK = {True: "✓", False: "✗", None: "–"}
PER_QUESTION_TITLE = "Per question (✓ right, ✗ wrong, – not graded)"


def per_question_table(summary: Mapping[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """One row per question: id, its text, then per condition the mark and the answer given."""
    names = list(summary["conditions"])
    details = summary.get("questions", {})
    rows = []
    for qid, row in summary["per_question"].items():
        detail = details.get(qid, {})
        answers = detail.get("answers", {})
        cells = [qid, detail.get("question", "")]
        for c in names:
            mark = MARK[row.get(c)] if c in row else " "
            cells.append(f"{mark} {answers.get(c, '')}".strip())
        rows.append(cells)
    return PER_QUESTION_TITLE, ["id", "question", *names], rows


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
    sentences = headline(summary)
    if sentences:
        lines += ["## Result", ""] + [f"**{s}**" if i == 0 else s for i, s in enumerate(sentences)]
        lines.append("")
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


# A small inline filter for the per-question table: text search, and "only the questions
# the conditions disagree on". Inline so the report still works offline and as an attachment.
_FILTER_CONTROLS = (
    '<p class="filters"><label>Filter questions: <input id="q-filter" type="search" '
    'placeholder="words in the question or an answer"></label> <label><input id="q-split" '
    'type="checkbox"> only questions the conditions disagree on</label> '
    '<span id="q-count"></span></p>'
)
_FILTER_SCRIPT = """(function(){var t=document.getElementById('per-question');if(!t)return;
var f=document.getElementById('q-filter'),s=document.getElementById('q-split'),
c=document.getElementById('q-count');function run(){var w=f.value.toLowerCase(),n=0,
rows=t.querySelectorAll('tr[data-split]');rows.forEach(function(r){var ok=(!w||
r.textContent.toLowerCase().indexOf(w)>=0)&&(!s.checked||r.dataset.split==='1');
r.style.display=ok?'':'none';if(ok)n++;});c.textContent=n+' of '+rows.length+' shown';}
f.addEventListener('input',run);s.addEventListener('change',run);run();})();"""

_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
.result{background:#eef6ee;border-left:5px solid #59a14f;padding:.2em 1em;margin:1em 0}
.result .lead{font-size:1.15em;font-weight:600}.filters{margin:.3em 0}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;
font-size:.9em;text-align:left}th{background:#f3f3f3}.warn{background:#fff3cd;padding:.6em;
border-left:4px solid #e0a800}svg text{font-size:11px;font-family:system-ui,sans-serif}"""


def render_html(summary: Mapping[str, Any]) -> str:
    esc = html.escape
    title = f"ragkit eval: {Path(summary['dataset']['path']).name}"
    body = [f"<h1>{esc(title)}</h1>"]
    sentences = headline(summary)
    if sentences:
        body.append('<section class="result"><h2>Result</h2>')
        body += [
            f'<p class="{"lead" if i == 0 else ""}">{esc(s)}</p>' for i, s in enumerate(sentences)
        ]
        body.append("</section>")
    body += ["<ul>"] + [f"<li>{esc(line)}</li>" for line in _header_lines(summary)] + ["</ul>"]
    body += [f'<p class="warn"><b>Warning:</b> {esc(w)}</p>' for w in summary["warnings"]]
    for which, label in (
        ("higher", "Higher is better"),
        ("lower", "Lower is better"),
        ("context", "Context (neither better nor worse by itself)"),
    ):
        chart = metrics_chart(summary, which)
        if chart:
            body += [f"<h2>Metrics per condition: {esc(label.lower())}</h2>", chart]
    rank_svg, hist = rank_chart(summary), first_rank_histogram(summary)
    if rank_svg and hist:
        n = sum(hist[1].values())
        heading = f"Chunk rank at which gold was first retrieved ({hist[0]}, n={n})"
        body += [f"<h2>{esc(heading)}</h2>", rank_svg]
    for table_title, header, rows in _tables(summary):
        per_question = table_title == PER_QUESTION_TITLE
        body.append(f"<h2>{esc(table_title)}</h2>")
        if per_question:
            body.append(_FILTER_CONTROLS)
        table_id = ' id="per-question"' if per_question else ""
        body.append(f"<table{table_id}><tr>")
        body.append("".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            marks = {cell[:1] for cell in row[2:]} if per_question else set()
            attrs = f' data-split="{int(len(marks & {"✓", "✗"}) == 2)}"' if per_question else ""
            body.append(f"<tr{attrs}>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
        body.append("</table>")
    body.append(f"<script>{_FILTER_SCRIPT}</script>")
    body += ["<h2>Notes</h2><ul>"] + [f"<li>{esc(n)}</li>" for n in summary["notes"]] + ["</ul>"]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
