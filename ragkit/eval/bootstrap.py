"""Paired bootstrap confidence intervals for the difference between two conditions.

Both conditions answered the same n questions, so the per-question differences d_i = b_i - a_i
are what vary. Resample the n questions with replacement B times, take the mean difference of
each resample, and read the 2.5th and 97.5th percentiles of those B means (the percentile
method). Pairing removes the between-question variance that two independent samples would
carry, which is most of it. The seed is fixed, so a report is reproducible bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

_BATCH = 1000  # resamples drawn at once: (1000, n) indices


@dataclass(frozen=True)
class DeltaCI:
    """mean(b - a) with its paired-bootstrap confidence interval, over n paired questions."""

    delta: float
    low: float
    high: float
    n: int
    resamples: int
    seed: int
    confidence: float = 0.95

    def to_json(self) -> dict[str, Any]:
        return {key: round(v, 6) if isinstance(v, float) else v for key, v in asdict(self).items()}

    def __str__(self) -> str:
        return f"{self.delta:+.3f} [{self.low:+.3f}, {self.high:+.3f}] (n={self.n})"


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 5000,
    seed: int = 0,
    confidence: float = 0.95,
) -> DeltaCI:
    """Paired bootstrap CI for mean(b) - mean(a); `a[i]` and `b[i]` are the same question."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} and {len(b)}")
    if resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(
            f"resamples {resamples} must be >= 1 and confidence {confidence} in (0, 1)"
        )
    diffs = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)  # (n,)
    n = len(diffs)
    if n == 0:
        nan = float("nan")
        return DeltaCI(nan, nan, nan, 0, resamples, seed, confidence)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, _BATCH):
        size = min(_BATCH, resamples - start)
        picks = rng.integers(0, n, size=(size, n))  # (size, n) question indices
        means[start : start + size] = diffs[picks].mean(axis=1)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return DeltaCI(float(diffs.mean()), float(low), float(high), n, resamples, seed, confidence)
