"""The reader's unit encoder (`ragkit.reader.unit_encoder`): the numpy forward pass over the
merged LoRA delta embeds as the peft model it was trained as, the shipped artefact says where
it came from, the trained reader reads its cosines, and another embedder keeps its own."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from ragkit.index.embedding import DEFAULT_MODEL, HashingEmbedder, load_embedder, resolve_model_path
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.reader.cross import safetensors_metadata
from ragkit.reader.selector import UNIT_SELECTOR, load_selector
from ragkit.reader.unit_encoder import ARTEFACT, UnitEncoder, load_unit_encoder, unit_encoder_for
from ragkit.types import Hit

REPO = Path(__file__).resolve().parents[1]
BASE = resolve_model_path(DEFAULT_MODEL)
assert BASE is not None
sys.path.insert(0, str(REPO / "scripts"))


def _peft_model(seed: int) -> object:
    import torch
    import train_unit_encoder as tu

    torch.manual_seed(seed)
    encoder = tu.Encoder(BASE)
    for name, p in encoder.model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero (no change): make the delta real
            torch.nn.init.normal_(p, std=0.05)
    return encoder


@pytest.mark.usefixtures("torch_one_thread")
def test_numpy_unit_encoder_equals_the_peft_model(tmp_path):
    import train_unit_encoder as tu

    encoder = _peft_model(5)
    out = tmp_path / "unit.safetensors"
    tu.export(encoder.model, out, {"script_version": "test"})
    ours = UnitEncoder(BASE, out)
    texts = [
        "How many days of annual leave do I get?",
        "Leave > Annual\nEveryone gets 25 days a year.",
        "Parking\nThe car park opens at 7 and closes when the last car leaves. " * 3,
    ]
    got = ours.embed(texts)
    rows = load_embedder(DEFAULT_MODEL).token_ids(texts)
    assert ours.token_ids(texts) == rows  # tokenised and cut as the base embedder does
    want = encoder.embed(rows)  # the peft model, eval mode
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.allclose(got, want, atol=2e-3), np.abs(got - want).max()
    # cosines, what the reader reads, agree too; and the delta mattered
    assert np.allclose(got[1:] @ got[0], want[1:] @ want[0], atol=2e-3)
    base = load_embedder(DEFAULT_MODEL).embed(texts)
    assert not np.allclose(got, base, atol=1e-2)


def test_the_shipped_unit_encoder_records_its_provenance():
    import train_unit_encoder as tu

    metadata = safetensors_metadata(ARTEFACT)
    assert metadata["script"] == "scripts/train_unit_encoder.py"
    assert metadata["script_version"] == tu.SCRIPT_VERSION
    assert len(metadata["training_data_sha256"]) == 64
    assert int(metadata["lora_r"]) == tu.LORA_R
    assert ARTEFACT.stat().st_size < 4 * 2**20  # ships inside the package
    selector = load_selector(UNIT_SELECTOR)
    assert selector.uses_unit_encoder and not load_selector().uses_unit_encoder
    recorded = selector.provenance["unit_encoder"]  # the selector fitted on its cosines
    assert recorded["training_data_sha256"] == metadata["training_data_sha256"]
    assert recorded["script_version"] == metadata["script_version"]


def _hits(text: str) -> list[Hit]:
    chunk = Chunk(
        chunk_id_for("leave.md", text), "leave.md", "Leave", text, 0, len(text), None, (), "0" * 8
    )
    return [Hit(chunk, 1.0, 1)]


def test_the_trained_reader_reads_the_unit_encoders_cosines():
    from ragkit.generators.extractive import ExtractiveGenerator

    text = (
        "Annual leave. Everyone gets 25 days of paid leave a year. "
        "The office closes between Christmas and New Year."
    )
    question = "How many days of paid leave do I get?"
    generator = ExtractiveGenerator(load_embedder(DEFAULT_MODEL), threshold=0.0, reader="unit")
    ranked = generator.rank(question, _hits(text))
    assert generator.unit_encoder is load_unit_encoder() and generator.unit_encoder_reason is None
    unit = load_unit_encoder()
    # once any reader has warmed the shared encoder up, it runs in the embedder's precision
    # (bfloat16 where the CPU has it), where a batch's padding moves a cosine by about 1e-3;
    # the adapter moves them by far more (0.15-0.36 here)
    for s in ranked:
        vectors = unit.embed([question, f"{_hits(text)[0].chunk.context}\n{s.text}"])
        assert s.dense == pytest.approx(float(vectors[1] @ vectors[0]), abs=3e-3)
    base = load_embedder(DEFAULT_MODEL).embed([question, f"Leave\n{ranked[0].text}"])
    assert ranked[0].dense != pytest.approx(float(base[1] @ base[0]), abs=5e-2)
    # the default reader is this one; reader="trained" keeps the embedder's cosine
    assert ExtractiveGenerator(load_embedder(DEFAULT_MODEL)).reader == "unit"
    trained = ExtractiveGenerator(load_embedder(DEFAULT_MODEL), threshold=0.0, reader="trained")
    for s in trained.rank(question, _hits(text)):
        vectors = load_embedder(DEFAULT_MODEL).embed([question, f"Leave\n{s.text}"])
        assert s.dense == pytest.approx(float(vectors[1] @ vectors[0]), abs=1e-5)


def test_another_embedder_keeps_its_own_cosine_and_says_why():
    from ragkit.generators.extractive import ExtractiveGenerator

    embedder = HashingEmbedder(dim=256)
    found, reason = unit_encoder_for(embedder)
    assert found is None and "all-MiniLM-L6-v2" in reason and "hash" in reason
    generator = ExtractiveGenerator(embedder, threshold=0.0, reader="unit")
    text = "Annual leave. Everyone gets 25 days of paid leave a year. The canteen opens at 8."
    question = "How many days of paid leave do I get?"
    ranked = generator.rank(question, _hits(text))
    assert generator.unit_encoder is None and generator.unit_encoder_reason == reason
    # so its stage 2 weights are those fitted on the embedder's own cosines
    assert generator.selector is load_selector(None)
    for s in ranked:
        vectors = embedder.embed([question, f"Leave\n{s.text}"])
        assert s.dense == pytest.approx(float(vectors[1] @ vectors[0]), abs=1e-5)
    # a missing artefact is a reason too, not an error
    found, reason = unit_encoder_for(load_embedder(DEFAULT_MODEL), REPO / "no-such.safetensors")
    assert found is None and "no-such.safetensors" in reason


@pytest.mark.usefixtures("torch_one_thread")
def test_training_moves_the_positives_up(tmp_path):
    import train_cross
    import train_unit_encoder as tu

    # near misses the base model ranks first: the negative shares the question's words
    groups = [
        train_cross.Group(
            "When can I take my holiday?",
            (
                "Time off\nBook time off in the HR portal two weeks ahead.",
                "Holidays\nThe holiday party is in December; take a guest.",
            ),
            (True, False),
            "test",
        ),
        train_cross.Group(
            "Who pays for my laptop?",
            (
                "Equipment\nThe company buys the equipment you need for your work.",
                "Laptops\nA laptop sleeve keeps my laptop safe when I travel.",
            ),
            (True, False),
            "test",
        ),
    ]
    encoder = tu.Encoder(BASE)
    tokenize = load_embedder(DEFAULT_MODEL).token_ids

    def margins() -> float:  # positive's cosine minus the negative's, summed over the groups
        total = 0.0
        for g in groups:
            v = encoder.embed(tokenize([g.question, *g.texts]))
            total += float(v[1] @ v[0] - v[2] @ v[0])
        return total

    before = margins()
    result = tu.train(groups, encoder, tokenize, epochs=6)
    assert result["steps"] == 6  # one batch of both groups an epoch
    assert margins() > before
    out = tmp_path / "unit.safetensors"
    tu.export(encoder.model, out, {"script_version": tu.SCRIPT_VERSION})
    meta = safetensors_metadata(out)
    assert meta["lora_r"] == str(tu.LORA_R) and meta["script_version"] == tu.SCRIPT_VERSION


@pytest.mark.usefixtures("torch_one_thread")
def test_warm_up_runs_the_same_weights_in_torch():
    from ragkit.generators.extractive import ExtractiveGenerator

    texts = ["How many days of paid leave do I get?", "Leave\nEveryone gets 25 days a year."]
    base = load_unit_encoder().weights
    encoder = UnitEncoder(BASE, ARTEFACT)
    numpy_vectors = encoder.embed(texts)
    encoder.warm_up()
    assert encoder._torch is not None and encoder.weights.keys() == base.keys()
    assert np.allclose(encoder.embed(texts), numpy_vectors, atol=1e-4)  # float32
    bf16 = UnitEncoder(BASE, ARTEFACT)
    bf16.warm_up(load_embedder(DEFAULT_MODEL).backend)  # the embedder's precision (bf16 or fp32)
    got = bf16.embed(texts)
    assert abs(float(got[1] @ got[0]) - float(numpy_vectors[1] @ numpy_vectors[0])) < 0.01
    # the default ("unit") reader's warm-up builds it; reader="trained" leaves it unloaded
    generator = ExtractiveGenerator(load_embedder(DEFAULT_MODEL))
    generator.warm_up()
    assert generator.unit_encoder is not None and generator.unit_encoder._torch is not None
    trained = ExtractiveGenerator(load_embedder(DEFAULT_MODEL), reader="trained")
    trained.warm_up()
    assert trained._unit_encoder is None
