"""When to abstain: the support score, and the helpers that calibrate its threshold on data.

Support is how well the best unit answers the question: the cosine similarity of question and
unit under the embedding model, plus a little for the share of the question's content words
the unit covers. Measured on squad2-cs224n-dev (calibration half, all-MiniLM-L6-v2), the
cosine is the signal that matters: it separates answerable questions from questions whose
answer is not in the corpus (ROC AUC 0.97), while lexical coverage, IDF-weighted or not,
separates them far less well (0.84-0.88); whole-passage-set coverage (0.61) added nothing.
Against SQuAD 2.0's adversarial unanswerables (same paragraph, a question edited to have no
answer) every signal is weak (AUC <= 0.64): a sentence scorer cannot tell them apart.

`choose_threshold` picks the threshold with the best balanced accuracy: the mean of the answer
rate on answerable questions and the correct-refusal rate on unanswerable ones, the latter
averaged over kinds of unanswerable question when there are several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

W_SUPPORT_SHARE = 0.2

# Calibrated per embedding model by tests/bench/bench_extractive.py on squad2-cs224n-dev: the
# threshold maximising balanced accuracy on the calibration half (8 of 16 articles, 4,357
# questions), the refusal rate averaged over SQuAD 2.0's unanswerable questions and off-corpus
# ones. A cosine's scale depends on the model, so the threshold does too. Held-out half:
#   all-MiniLM-L6-v2 (0.596): false refusal 12.9% (answerable, n=1470); correct refusal
#     99.8% off-corpus (n=1470), 28.0% SQuAD 2.0 unanswerable (n=1691, adversarial: every
#     signal is near chance there). On the sample corpus (retrieve k=5, 83 questions): false
#     refusal 30.9% (13 of those 21 would have been answered wrongly), correct refusal 93.3%.
#   hash: not calibrated. A bag of words scores short clear matches low (0.43 for "What
#     does band L4 pay?" against "Band L4 pays 68,000 to 82,000 EUR per year."), and its
#     SQuAD-calibrated value (0.511) refuses 38% of answerable questions; 0.35 answers a
#     question whose content words a sentence covers and refuses one that shares none
#     (held-out: false refusal 11.2%; correct refusal 65.2% off-corpus, 16.9% SQuAD 2.0).
SUPPORT_THRESHOLDS = {
    "sentence-transformers/all-MiniLM-L6-v2": 0.596,
    "hash": 0.35,  # HashingEmbedder, any dimension: the weightless stand-in for tests
}
SUPPORT_THRESHOLD = SUPPORT_THRESHOLDS["sentence-transformers/all-MiniLM-L6-v2"]


def default_threshold(model_id: str) -> float:
    """The calibrated threshold for an embedding model; MiniLM's for a model not calibrated."""
    if model_id.startswith("hash:"):
        return SUPPORT_THRESHOLDS["hash"]
    return SUPPORT_THRESHOLDS.get(model_id, SUPPORT_THRESHOLD)


def support_score(dense: float, share: float) -> float:
    """Support for answering with a unit: its cosine with the question (-1..1) + 0.2 x share.

    `share` is the fraction (0..1) of the question's content words found in the unit.
    """
    return float(dense) + W_SUPPORT_SHARE * float(share)


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
    assert s.shape == a.shape, "one answerable flag per support score"
    refused = s < threshold
    n_ans, n_un = int(a.sum()), int((~a).sum())
    return RefusalRates(
        threshold=float(threshold),
        correct_refusal=float(refused[~a].mean()) if n_un else 0.0,
        false_refusal=float(refused[a].mean()) if n_ans else 0.0,
        n_answerable=n_ans,
        n_unanswerable=n_un,
    )


def choose_threshold(answerable: Sequence[float], *unanswerable: Sequence[float]) -> float:
    """The threshold with the best balanced accuracy, given support scores of each kind.

    Candidate thresholds lie midway between consecutive observed scores; a tie goes to the
    lower threshold (fewer false refusals).
    """
    groups = [np.asarray(g, dtype=np.float64) for g in (answerable, *unanswerable)]
    assert all(len(g) for g in groups), "every group needs at least one score"
    values = np.unique(np.concatenate(groups))
    cuts = np.concatenate([[values[0] - 1e-6], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-6]])
    answered = np.mean(groups[0][None, :] >= cuts[:, None], axis=1)  # (n_cuts,)
    refused = [np.mean(g[None, :] < cuts[:, None], axis=1) for g in groups[1:]]
    balanced = (answered + np.mean(refused, axis=0)) / 2 if refused else answered
    return float(cuts[int(np.argmax(balanced))])
