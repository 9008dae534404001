"""Refusing near misses (issue #11): the default reader's support reads the chosen unit's
cosine without its headings (`ragkit.reader.selector.UNIT_ALONE_NAMES`), and its threshold
is fitted for up to 8% false refusals (`scripts/train_reader.py --unit-alone
--max-false-refusal 0.08`, recorded in the selector's provenance)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from reader_helpers import chunk, hits

from ragkit.index.embedding import DEFAULT_MODEL, load_embedder
from ragkit.reader.selector import (
    ANSWERABILITY_NAMES,
    UNIT_SELECTOR,
    Answerability,
    answerability_features,
    load_selector,
)
from ragkit.reader.unit_encoder import load_unit_encoder

REPO = Path(__file__).resolve().parents[1]


def test_the_gap_sits_between_the_base_features_and_the_answer_type_ones():
    given = hits(chunk("Everyone gets 25 days of paid leave a year.", "leave.md", "Leave"))
    question = "How many days of paid leave do I get?"
    base = answerability_features([0.9, 0.2], 0.7, 0.6, question, given, 0)
    with_gap = answerability_features(
        [0.9, 0.2], 0.7, 0.6, question, given, 0, None, "", None, -0.1
    )
    assert len(base) == len(ANSWERABILITY_NAMES) and with_gap == [*base, -0.1]
    answer_type = load_selector(UNIT_SELECTOR).answerability.answer_type
    assert answer_type is not None
    unit = "Everyone gets 25 days of paid leave a year."
    full = answerability_features(
        [0.9], 0.7, 0.6, question, given, 0, None, unit, answer_type, -0.1
    )
    assert full[len(ANSWERABILITY_NAMES)] == -0.1 and len(full) == len(with_gap) + 2


def test_a_support_fitted_with_the_gap_needs_it():
    selector = load_selector(UNIT_SELECTOR)
    assert selector.answerability.unit_alone  # the shipped default reader reads it
    given = hits(chunk("Everyone gets 25 days of paid leave a year.", "leave.md", "Leave"))
    args = ([0.9, 0.2], 0.7, 0.6, "How many days of leave?", given, 0, [], given[0].chunk.text)
    with pytest.raises(ValueError, match="unit_alone_gap"):
        selector.support(*args)
    # it is read: a unit that matches the question better under its headings than alone is
    # the answer's kind (fitted weight), so the support moves with the gap
    assert selector.support(*args, unit_alone_gap=-0.2) != selector.support(
        *args, unit_alone_gap=0.1
    )
    # a model without it keeps its width and ignores a gap
    data = {"weights": [0.1] * 7, "mean": [0.0] * 7, "scale": [1.0] * 7, "bias": 0.0}
    plain = Answerability.from_json(data)
    assert not plain.unit_alone
    with pytest.raises(AssertionError, match="width"):
        Answerability.from_json({**data, "unit_alone": True})
    wide = Answerability.from_json(
        {**data, "weights": [0.1] * 8, "mean": [0.0] * 8, "scale": [1.0] * 8, "unit_alone": True}
    )
    assert wide.unit_alone and wide.probability(np.zeros(8)).shape == (1,)


def test_the_reader_computes_the_gap_with_stage_twos_encoder():
    from ragkit.generators.extractive import ExtractiveGenerator

    generator = ExtractiveGenerator(load_embedder(DEFAULT_MODEL), reader="unit")
    text = "You can contribute up to 10% of your salary. Contributions are taken before tax."
    given = hits(chunk(text, "pension.md", "Pension", ("Contributions",)))
    question = "How much does the company match on my pension contributions?"
    best = generator.rank(question, given)[0]
    vectors = load_unit_encoder().embed([question, best.text])
    expected = float(vectors[1] @ vectors[0]) - best.dense
    assert generator._unit_alone_gap(question, best) == pytest.approx(expected, abs=3e-3)
    # best.dense is the unit under its headings: the gap is not zero
    assert abs(expected) > 0.01
    # without headings in stage 2's text there is nothing to take away
    bare = ExtractiveGenerator(load_embedder(DEFAULT_MODEL), reader="unit", embed_context=False)
    assert bare._unit_alone_gap(question, bare.rank(question, given)[0]) == 0.0


# (question, a passage on the topic without the asked fact, its twin that states it): the
# near miss is refused, the twin answered with its fact. The pension one was answered before
# this round (support 0.57 over the threshold 0.47 of selector-unit.json at af1363f); the
# support sits close to the threshold (0.46 against 0.52), so a refit may move it: see the
# README's near-miss paragraph. Portuguese near misses of this kind are not refused yet
# (support 0.83-0.97, README), so there is no Portuguese case here.
NEAR_MISSES = [
    (
        "How much does the company match on my pension contributions?",
        "You can contribute up to 10% of your salary to the pension plan. Contributions are "
        "taken before tax.",
        "The company matches your pension contributions up to 5% of your salary. Contributions "
        "are taken before tax.",
        "5%",
        ("pension.md", "Pension", ("Contributions",)),
    ),
    (
        "How much severance pay do I get if my contract is not renewed?",
        "Your manager tells you at least one month before the end of your contract whether it "
        "will be renewed.",
        "If your contract is not renewed you get one month of salary as severance pay.",
        "one month of salary",
        ("contracts.md", "Contracts", ("Renewal",)),
    ),
]


@pytest.mark.parametrize(("question", "miss", "twin", "fact", "where"), NEAR_MISSES)
def test_a_near_miss_is_refused_and_its_twin_answered(question, miss, twin, fact, where):
    from ragkit.generators.extractive import ExtractiveGenerator

    generator = ExtractiveGenerator(load_embedder(DEFAULT_MODEL))
    source, title, headings = where
    refused = generator.generate(question, hits(chunk(miss, source, title, headings)))
    assert refused.abstained, refused.metadata
    answered = generator.generate(question, hits(chunk(twin, source, title, headings)))
    assert not answered.abstained and fact in answered.text


def test_the_selector_records_the_command_that_refits_it():
    provenance = load_selector(UNIT_SELECTOR).provenance
    command = provenance["command"].split()
    assert command[:2] == ["python", "scripts/train_reader.py"]
    for flag in ("--unit-encoder", "--stage1-from", "--answer-type", "--unit-alone"):
        assert flag in command
    assert command[command.index("--max-false-refusal") + 1] == str(provenance["max_false_refusal"])
    assert command[command.index("--out") + 1] == "ragkit/reader/selector-unit.json"
    assert provenance["script_version"] == "11"


def test_the_training_gap_is_the_readers(monkeypatch):
    sys.path.insert(0, str(REPO / "scripts"))
    import train_reader as tr

    encoder = load_unit_encoder()
    question, unit = "How long does the security training take?", "Everyone takes it yearly."
    monkeypatch.setattr(tr, "UNIT_ALONE", False)
    assert tr.unit_alone_gap(question, unit, 0.5, encoder.embed) is None
    monkeypatch.setattr(tr, "UNIT_ALONE", True)
    vectors = encoder.embed([question, unit])
    gap = tr.unit_alone_gap(question, unit, 0.5, encoder.embed)
    assert gap == pytest.approx(float(vectors[1] @ vectors[0]) - 0.5)
    assert tr.unit_alone_gap(question, "", 0.5, encoder.embed) == 0.0
