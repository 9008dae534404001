"""The HTML report's charts, drawn as inline SVG strings.

No charting library and nothing loaded from the network: report.html must open offline, be
attached to a ticket and still show its figures. Two charts, each a pure function of the
summary: grouped bars of every metric in [0, 1] per condition, and the histogram of the chunk
rank at which gold was first retrieved. Every bar carries a <title> tooltip with its value.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1")


def first_rank_histogram(summary: Mapping[str, Any]) -> tuple[str, dict[str, int]] | None:
    """(condition, its gold-rank histogram) of the first condition that has one, if any."""
    for name, condition in summary["conditions"].items():
        if condition["gold_rank"]:
            return name, condition["gold_rank"]
    return None


# Which way each metric should go. A chart that mixes directions makes the ungrounded
# condition's 1.00 false-refusal bar look like a win; each direction gets its own chart.
LOWER_IS_BETTER = ("abstention.false_refusal", "seconds.")
CONTEXT = ("abstention.rate",)  # neither better nor worse by itself


def direction(metric: str) -> str:
    """'higher', 'lower' or 'context' (a rate that is neither good nor bad by itself)."""
    if metric.startswith(CONTEXT):
        return "context"
    if metric.startswith(LOWER_IS_BETTER):
        return "lower"
    return "higher"


def metrics_chart(summary: Mapping[str, Any], which: str = "higher") -> str:
    """Horizontal grouped bars: one group per metric in [0, 1] of one direction, one bar per
    condition. `which` is 'higher', 'lower' or 'context' (see `direction`)."""
    conditions = summary["conditions"]
    names = list(conditions)
    metrics = [
        k
        for k in dict.fromkeys(k for c in conditions.values() for k in c["metrics"])
        if not k.startswith("seconds") and direction(k) == which
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
    hist = first_rank_histogram(summary)
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
