"""Fusing ranked lists: reciprocal rank fusion and a weighted sum of normalised scores.

Every function is pure and works on BEIR-shaped runs, `{doc_id: score}` with higher better.

- Reciprocal rank fusion (Cormack et al., 2009): `score(d) = sum_i 1 / (k + rank_i(d))`
  over the lists that contain d, rank 1-based, k = 60. Only ranks matter, so it needs no
  calibration between a cosine (about -1..1) and a BM25 score (0..unbounded).
- Weighted combination: each list is normalised on its own (min-max to [0, 1], or z-score),
  then `alpha * dense + (1 - alpha) * sparse`; a document missing from a list gets that
  list's lowest normalised value (0 for min-max). It keeps how far apart the scores are,
  which RRF throws away, at the price of one weight to choose.

Ties are broken by the key, so the same inputs always give the same order.

The default, weighted z-score fusion with alpha 0.5, was chosen on SciFact's train qrels
(809 queries) and the sample corpus, then reported on SciFact test and Contoso. Weighted
fusion beat RRF there because RRF throws away how far apart the scores are; alpha 0.5 sits on
the plateau (0.4 to 0.6) of both normalisations. `RetrieverSettings(fusion="rrf")` selects RRF.
The sweep is `python tests/bench/bench_retrieval.py --tune`; its figures, and the commit they
were measured at, are in the README's Performance section.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Literal, TypeVar

K = TypeVar("K", bound=Hashable)
Normalisation = Literal["minmax", "zscore"]

RRF_K = 60


def ranked(run: Mapping[K, float]) -> list[K]:
    """Keys best first; equal scores in key order, so results are reproducible."""
    return sorted(run, key=lambda key: (-run[key], _order(key)))


def top_k(run: Mapping[K, float], k: int) -> list[tuple[K, float]]:
    """The k best (key, score) pairs, best first."""
    return [(key, run[key]) for key in ranked(run)[:k]]


def reciprocal_rank_fusion(runs: Sequence[Mapping[K, float]], k: int = RRF_K) -> dict[K, float]:
    """`sum 1 / (k + rank)` over the runs that contain each key; ranks are 1-based."""
    if k < 0:
        raise ValueError(f"RRF k must be >= 0, got {k}")
    fused: dict[K, float] = {}
    for run in runs:
        for rank, key in enumerate(ranked(run), start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


def min_max(run: Mapping[K, float]) -> dict[K, float]:
    """Scores mapped linearly onto [0, 1]; a list whose scores are all equal maps to 1."""
    if not run:
        return {}
    low, high = min(run.values()), max(run.values())
    if high == low:
        return dict.fromkeys(run, 1.0)
    return {key: (score - low) / (high - low) for key, score in run.items()}


def z_score(run: Mapping[K, float]) -> dict[K, float]:
    """Scores centred on the list's mean, in units of its (population) standard deviation."""
    if not run:
        return {}
    mean = sum(run.values()) / len(run)
    std = math.sqrt(sum((s - mean) ** 2 for s in run.values()) / len(run))
    if std == 0:
        return dict.fromkeys(run, 0.0)
    return {key: (score - mean) / std for key, score in run.items()}


def weighted_fusion(
    dense: Mapping[K, float],
    sparse: Mapping[K, float],
    alpha: float = 0.5,
    normalisation: Normalisation = "minmax",
) -> dict[K, float]:
    """`alpha * norm(dense) + (1 - alpha) * norm(sparse)`; missing = the list's lowest value."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if normalisation not in ("minmax", "zscore"):
        raise ValueError(f"normalisation must be 'minmax' or 'zscore', got {normalisation!r}")
    norm = min_max if normalisation == "minmax" else z_score
    dense_n, sparse_n = norm(dense), norm(sparse)
    dense_floor = min(dense_n.values(), default=0.0)
    sparse_floor = min(sparse_n.values(), default=0.0)
    return {
        key: alpha * dense_n.get(key, dense_floor) + (1.0 - alpha) * sparse_n.get(key, sparse_floor)
        for key in {**dense_n, **sparse_n}
    }


def _order(key: Hashable) -> tuple[str, Hashable]:
    # Keys of one run share a type; the type name keeps mixed keys comparable anyway.
    return (type(key).__name__, key)
