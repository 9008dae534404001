"""The trained answer selector: two logistic models over `ragkit.reader.features`.

Stage 1 scores every candidate unit of the top passages from cheap features (word overlap,
numbers and names, position, hashed question openings crossed with what the unit holds);
the best few are embedded, and stage 2 adds their cosine with the question (a selector may
name other dense features: the cross-encoder's logits, `ragkit.reader.cross`). Stage 2's
output is P(this unit answers the question) and picks the answer. Whether to answer at all
is a third, question-level logistic model (`Answerability`) over the best unit's
probability and cosine (or cross-encoder logit), the question's cosine with the top
passages and whether asked names or terms are missing, and (when the selector has an
answer-type model, `ragkit.reader.answertype`) whether the question asks for a number the
chosen unit lacks, and (when the model reads it, `UNIT_ALONE_NAMES`) how the question's
cosine with the chosen unit changes without the unit's headings; below the threshold
calibrated for the embedding model the generator refuses.

The weights live in `selector.json` next to this module (the default) and
`selector-cross.json` (reader="cross": its support reads the cross-encoder's logit of the
chosen unit, `cross.safetensors`) and `selector-unit.json` (reader="unit": its stage 2 and
support read the unit encoder's cosines, `ragkit.reader.unit_encoder`), a few hundred kB each,
written by
`scripts/train_reader.py`, which records its version and the SHA-256 of its training data.
Inference is numpy only: no scikit-learn or torch at run time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.reader.answertype import ANSWER_TYPE_NAMES, AnswerType, answer_type_features
from ragkit.reader.coverage import uncovered
from ragkit.reader.features import COSINE_ONLY, DENSE_NAMES, N_CHEAP, N_CROSS
from ragkit.text.analyse import analyser_for
from ragkit.types import Hit

ARTEFACT = Path(__file__).with_name("selector.json")
# the selector whose support reads the cross-encoder (`ragkit.reader.cross`): reader="cross"
CROSS_SELECTOR = Path(__file__).with_name("selector-cross.json")
# the selector fitted on the unit encoder's cosines (`ragkit.reader.unit_encoder`): reader="unit"
UNIT_SELECTOR = Path(__file__).with_name("selector-unit.json")


@dataclass(frozen=True)
class LogisticStage:
    """sigmoid(((x - mean) / scale) @ weights + sum of active cross weights + bias)."""

    weights: np.ndarray  # (d,)
    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,)
    cross: np.ndarray  # (N_CROSS,)
    bias: float

    def logits(self, x: np.ndarray, crosses: Sequence[Sequence[int]]) -> np.ndarray:
        assert x.shape[1] == self.weights.shape[0], "feature width differs from the model's"
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return z + np.array([self.cross[list(c)].sum() if c else 0.0 for c in crosses])

    @classmethod
    def from_json(cls, data: dict[str, Any], width: int) -> LogisticStage:
        cross = np.zeros(N_CROSS, dtype=np.float64)
        for index, weight in data["cross"]:
            cross[int(index)] = weight
        stage = cls(
            np.asarray(data["weights"], dtype=np.float64),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            cross,
            float(data["bias"]),
        )
        assert stage.weights.shape == (width,), f"expected {width} weights"
        return stage


ANSWERABILITY_NAMES = (
    "best_probability",
    "best_dense",  # the best unit cross-encoder logit; the best cosine without a cross-encoder
    "passage_cosine",
    "names_missing",
    "margin",
    "terms_missing",
    "terms_missing_best_chunk",
)


# After ANSWERABILITY_NAMES when the model reads it (`Answerability.unit_alone`): the cosine
# of the question with the chosen unit's own text minus its cosine with the unit under its
# title and headings (as stage 2 embeds it), both from stage 2's encoder (the unit encoder for
# reader="unit"). Fitted, not set: on the HR-style training questions and the handbook
# validation split an answer leans on its headings more than a near miss does (the near miss
# matches the question by its own words, the topic by the headings), on the public sets
# slightly the other way (train_reader v11; README).
UNIT_ALONE_NAMES = ("unit_alone_gap",)


def missing_terms(question: str, hits: Sequence[Hit], best_hit: int) -> tuple[float, float]:
    """Shares of the question's content terms (stems, stopwords dropped, in the analyser of
    the best passage's language) that no retrieved passage holds (text, headings, file
    name), and that the best unit's own passage does not hold. A near miss asks about
    something the documents' topic does not include ("...for contractors?" over a page about
    employees): its odd word is missing even when the topic words are all there."""
    if not hits:
        return 1.0, 1.0
    analyser = analyser_for(hits[best_hit].chunk.language)
    asked = set(analyser.content_terms(question))
    if not asked:
        return 0.0, 0.0
    per_hit = [
        set(analyser.terms(f"{h.chunk.source} {h.chunk.context} {h.chunk.text}")) for h in hits
    ]
    anywhere = set().union(*per_hit)
    return len(asked - anywhere) / len(asked), len(asked - per_hit[best_hit]) / len(asked)


def answerability_features(
    probabilities: Sequence[float],
    best_dense: float,
    passage_cos: float,
    question: str,
    hits: Sequence[Hit],
    best_hit: int,
    missing: Sequence[str] | None = None,
    unit: str = "",
    answer_type: AnswerType | None = None,
    unit_alone_gap: float | None = None,
) -> list[float]:
    """Question-level evidence that the passages answer it: the best unit's stage-2
    probability (`probabilities` are the candidates', best first) and its margin over the
    runner-up, the best cross-encoder logit of a unit (its cosine for a selector without
    the cross-encoder), the best cosine of the question with a top passage (the dense
    retriever's own score when it has one), whether an asked name
    or code is missing from every passage (`ragkit.reader.coverage`), and the shares of
    asked terms missing (`missing_terms`). Fused retrieval scores are left out: they are
    z-scores relative to one query's other candidates. `missing`: `uncovered(question, hits)`
    when the caller has it already (None: computed here). With an `answer_type` model,
    `ANSWER_TYPE_NAMES` follow: whether the question asks for a number or an amount, and
    whether the chosen unit (`unit`, its text) lacks one (`ragkit.reader.answertype`).
    `unit_alone_gap` (`UNIT_ALONE_NAMES`, before the answer-type ones), when given: the
    chosen unit's cosine with the question alone minus under its headings."""
    p1 = float(probabilities[0]) if len(probabilities) else 0.0
    p2 = float(probabilities[1]) if len(probabilities) > 1 else 0.0
    anywhere, in_best = missing_terms(question, hits, best_hit)
    names = float(bool(uncovered(question, hits) if missing is None else missing))
    found = [p1, best_dense, passage_cos, names, p1 - p2, anywhere, in_best]
    if unit_alone_gap is not None:
        found.append(float(unit_alone_gap))
    if answer_type is not None:
        language = hits[best_hit].chunk.language if hits else None
        found += answer_type_features(answer_type, question, unit, language)
    return found


@dataclass(frozen=True)
class Answerability:
    """P(the passages answer the question) = sigmoid(((x - mean) / scale) @ weights + bias).
    `answer_type`: the question's expected answer kinds, when the model reads
    `ANSWER_TYPE_NAMES` after `ANSWERABILITY_NAMES`; `unit_alone`: the model reads
    `UNIT_ALONE_NAMES` between them."""

    # (len(ANSWERABILITY_NAMES) [+ len(UNIT_ALONE_NAMES)] [+ len(ANSWER_TYPE_NAMES)],)
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    bias: float
    answer_type: AnswerType | None = None
    unit_alone: bool = False

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answerability:
        made = cls(
            np.asarray(data["weights"], dtype=np.float64),
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            float(data["bias"]),
            AnswerType.from_json(data["answer_type"]) if "answer_type" in data else None,
            bool(data.get("unit_alone", False)),
        )
        width = len(ANSWERABILITY_NAMES) + (made.answer_type is not None) * len(ANSWER_TYPE_NAMES)
        width += made.unit_alone * len(UNIT_ALONE_NAMES)
        assert made.weights.shape == (width,), "answerability width"
        return made


@dataclass(frozen=True)
class Selector:
    stage1: LogisticStage
    stage2: LogisticStage
    answerability: Answerability
    thresholds: dict[str, float]
    provenance: dict[str, Any]
    # settings the generator reads (max_passages, max_candidates): chosen with the threshold
    settings: dict[str, int] = field(default_factory=dict)
    # the dense features stage 2 reads (`ragkit.reader.features.DENSE_NAMES`)
    dense: tuple[str, ...] = COSINE_ONLY

    @property
    def uses_cosine(self) -> bool:
        return any(n.startswith("cosine") for n in self.dense)

    @property
    def uses_cross(self) -> bool:
        """Stage 2 reads the cross-encoder's logits of the kept units."""
        return any(n.startswith("cross") for n in self.dense)

    @property
    def uses_unit_encoder(self) -> bool:
        """Stage 2's cosines (and the support's best cosine) were fitted on the unit encoder's
        vectors (`ragkit.reader.unit_encoder`), not the embedder's."""
        return bool(self.settings.get("unit_encoder", 0))

    @property
    def support_cross(self) -> bool:
        """The answerability model reads the cross-encoder's logit of the chosen unit."""
        return bool(self.settings.get("support_cross", 0))

    def cheap_scores(self, cheap: np.ndarray, crosses: Sequence[Sequence[int]]) -> np.ndarray:
        """(n,) stage-1 logits: the order in which units are worth embedding."""
        return self.stage1.logits(cheap, crosses)

    def probabilities(
        self, cheap: np.ndarray, dense: np.ndarray, crosses: Sequence[Sequence[int]]
    ) -> np.ndarray:
        """(n,) P(the unit answers the question), from all features."""
        z = self.stage2.logits(np.hstack([cheap, dense]), crosses)
        return 1.0 / (1.0 + np.exp(-z))

    def support(
        self,
        probabilities: Sequence[float],
        best_dense: float,
        passage_cos: float,
        question: str,
        hits: Sequence[Hit],
        best_hit: int,
        missing: Sequence[str] | None = None,
        unit: str = "",
        unit_alone_gap: float | None = None,
    ) -> float:
        """P(the passages answer the question): compared with `threshold` to refuse.
        `missing`: the asked names no hit holds, when the caller computed them; `unit`: the
        chosen unit's text (what an answer-type model checks for a number or an amount);
        `unit_alone_gap`: its cosine with the question alone minus under its headings,
        required when the model reads it (`Answerability.unit_alone`), else ignored.
        Raises ValueError when a required gap is missing."""
        if self.answerability.unit_alone and unit_alone_gap is None:
            raise ValueError("this selector's support reads the chosen unit's unit_alone_gap")
        features = answerability_features(
            probabilities,
            best_dense,
            passage_cos,
            question,
            hits,
            best_hit,
            missing,
            unit,
            self.answerability.answer_type,
            unit_alone_gap if self.answerability.unit_alone else None,
        )
        x = np.asarray(features, dtype=np.float64)
        return float(self.answerability.probability(x)[0])

    def threshold(self, model_id: str) -> float:
        """The support threshold calibrated for an embedding model (`hash` for HashingEmbedder);
        the bundled MiniLM's for a model that was not calibrated."""
        key = "hash" if model_id.startswith("hash:") else model_id
        return self.thresholds.get(key, self.thresholds["default"])


def selector_from_json(data: dict[str, Any]) -> Selector:
    """Format 1: stage 2 reads unit cosines; format 2 names its dense features."""
    dense = tuple(data.get("dense", COSINE_ONLY))
    if set(dense) - set(DENSE_NAMES) or not dense:
        raise ValueError(f"selector dense features {dense} are not among {DENSE_NAMES}")
    return Selector(
        LogisticStage.from_json(data["stage1"], N_CHEAP),
        LogisticStage.from_json(data["stage2"], N_CHEAP + len(dense)),
        Answerability.from_json(data["answerability"]),
        {k: float(v) for k, v in data["thresholds"].items()},
        data["provenance"],
        {k: int(v) for k, v in data.get("settings", {}).items()},
        dense,
    )


@cache
def load_selector(path: Path | None = None) -> Selector:
    """The shipped selector (or one at `path`). Raises FileNotFoundError when it is absent."""
    return selector_from_json(json.loads((path or ARTEFACT).read_text(encoding="utf-8")))
