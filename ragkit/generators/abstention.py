"""When to abstain: the support score and the helpers that calibrate its threshold on data.

Support is a weighted sum of three signals of the best unit (see `support_score`). The
threshold is chosen on labelled (support, answerable) pairs by `choose_threshold`, which
maximises balanced accuracy: the mean of the correct-refusal rate (unanswerable questions
refused) and the answer rate (answerable questions answered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Calibrated on squad2-cs224n-dev (see tests/bench/bench_extractive.py); placeholder for now.
SUPPORT_THRESHOLD = 0.35
W_SUPPORT_DENSE, W_SUPPORT_LEXICAL, W_SUPPORT_COVERAGE = 0.4, 0.3, 0.3


def support_score(dense: float, lexical: float, coverage: float) -> float:
    """How well the passages support an answer, roughly 0..1.

    dense: cosine of the question and the best unit; lexical: the share (IDF-weighted) of
    the question's content words the best unit covers; coverage: the share found anywhere in
    the passages, which falls when a rare question word appears nowhere in them.
    """
    return W_SUPPORT_DENSE * dense + W_SUPPORT_LEXICAL * lexical + W_SUPPORT_COVERAGE * coverage


@dataclass(frozen=True)
class RefusalRates:
    threshold: float
    correct_refusal: float  # unanswerable questions refused
    false_refusal: float  # answerable questions refused
    n_answerable: int
    n_unanswerable: int

    @property
    def balanced_accuracy(self) -> float:
        return (self.correct_refusal + 1.0 - self.false_refusal) / 2.0


def refusal_rates(
    support: Sequence[float], answerable: Sequence[bool], threshold: float
) -> RefusalRates:
    """Refusal rates when every question whose support is below `threshold` is refused."""
    s = np.asarray(support, dtype=np.float64)
    a = np.asarray(answerable, dtype=bool)
    assert s.shape == a.shape
    refused = s < threshold
    n_ans, n_un = int(a.sum()), int((~a).sum())
    return RefusalRates(
        threshold=float(threshold),
        correct_refusal=float(refused[~a].mean()) if n_un else 0.0,
        false_refusal=float(refused[a].mean()) if n_ans else 0.0,
        n_answerable=n_ans,
        n_unanswerable=n_un,
    )


def choose_threshold(support: Sequence[float], answerable: Sequence[bool]) -> RefusalRates:
    """The threshold (midway between observed scores) with the best balanced accuracy."""
    values = np.unique(np.asarray(support, dtype=np.float64))
    if len(values) == 0:
        return refusal_rates([], [], 0.0)
    cuts = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    best = max(
        (refusal_rates(support, answerable, float(c)) for c in cuts),
        key=lambda r: (round(r.balanced_accuracy, 9), -r.false_refusal),
    )
    return best
