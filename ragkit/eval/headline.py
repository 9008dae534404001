"""The report's first section: one sentence per comparison the evaluation exists to answer.

"Did retrieval help?" is grounded against ungrounded; "did the adapter help?" is a condition
with `+adapter` against the same condition without it; "how much would perfect retrieval
add?" is oracle against grounded. Each sentence gives the difference in the share of correct
answers with its paired bootstrap interval and n, and says "helped" or "hurt" only when the
interval excludes zero; otherwise it says the data cannot tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

METRIC = "correct"


def _delta(summary: Mapping[str, Any], a: str, b: str) -> tuple[dict[str, Any], int] | None:
    """The `correct` delta of a minus b, and its sign (1 or -1) as stored (a - b or b - a)."""
    for d in summary["deltas"]:
        if d["metric"] != METRIC:
            continue
        if (d["a"], d["b"]) == (a, b):
            return d, 1
        if (d["a"], d["b"]) == (b, a):
            return d, -1
    return None


def _sentence(summary: Mapping[str, Any], a: str, b: str, subject: str) -> str | None:
    found = _delta(summary, a, b)
    if found is None:
        return None
    d, sign = found
    delta, low, high = (sign * d["delta"], *sorted((sign * d["low"], sign * d["high"])))
    interval = f"{delta:+.3f}, 95% CI [{low:+.3f}, {high:+.3f}], n={d['n']}"
    mean_a, mean_b = (d["mean_a"], d["mean_b"]) if sign == 1 else (d["mean_b"], d["mean_a"])
    shares = f"{mean_a:.0%} of answers correct with {a}, {mean_b:.0%} with {b}"
    if low > 0:
        verdict = f"{subject} helped"
    elif high < 0:
        verdict = f"{subject} hurt"
    else:
        verdict = f"the data cannot tell whether {subject.lower()} helped (the interval holds 0)"
    return f"{verdict[0].upper()}{verdict[1:]}: {shares} ({interval})."


def headline(summary: Mapping[str, Any]) -> list[str]:
    """The sentences of the report's first section; [] when no comparison was run."""
    names = list(summary["conditions"])
    sentences = []
    if "grounded" in names and "ungrounded" in names:
        sentences.append(_sentence(summary, "grounded", "ungrounded", "Retrieval"))
    for name in names:
        if name.endswith("+adapter") and name.removesuffix("+adapter") in names:
            base = name.removesuffix("+adapter")
            sentences.append(_sentence(summary, name, base, "The adapter"))
    if "oracle" in names and "grounded" in names:
        sentences.append(_sentence(summary, "oracle", "grounded", "Gold passages (oracle)"))
    if not any(sentences) and summary["deltas"]:
        first = next((d for d in summary["deltas"] if d["metric"] == METRIC), None)
        if first is not None:
            sentences.append(_sentence(summary, first["a"], first["b"], first["a"]))
    return [s for s in sentences if s]
