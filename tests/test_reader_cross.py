"""The cross-encoder answer scorer: the numpy forward pass over a merged LoRA delta computes
what the peft model it was trained as computes, and the shipped artefact says where it came
from."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ragkit.index.embedding import DEFAULT_MODEL, resolve_model_path
from ragkit.reader.cross import (
    ARTEFACT,
    MAX_QUESTION_TOKENS,
    MAX_TOKENS,
    CrossScorer,
    PairTokenizer,
    load_cross,
    pad_pairs,
    safetensors_metadata,
)
from ragkit.reader.selector import CROSS_SELECTOR, load_selector

REPO = Path(__file__).resolve().parents[1]
BASE = resolve_model_path(DEFAULT_MODEL)
assert BASE is not None


def test_pairs_are_question_then_text_and_cut_to_size():
    tokenizer = PairTokenizer(BASE)
    long_question = "how many days " * 40
    long_text = "leave " * 300
    (ids, types), (short_ids, short_types) = tokenizer.pairs(long_question, [long_text, "Yes."])
    assert len(ids) == MAX_TOKENS == len(types)
    assert ids[0] == tokenizer.cls and ids[-1] == tokenizer.sep
    assert types.count(0) == MAX_QUESTION_TOKENS + 2  # [CLS] question [SEP]
    assert ids[MAX_QUESTION_TOKENS + 1] == tokenizer.sep
    assert short_types[-1] == 1 and len(short_ids) < MAX_TOKENS


@pytest.mark.usefixtures("torch_one_thread")
def test_numpy_forward_with_merged_lora_equals_the_peft_model(tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import BertModel

    sys.path.insert(0, str(REPO / "scripts"))
    from train_cross import export

    torch.manual_seed(3)
    model = BertModel.from_pretrained(str(BASE), add_pooling_layer=False)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["query", "key", "value", "dense"])
    model = get_peft_model(model, config).eval()
    for name, p in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero (no change): make the delta real
            torch.nn.init.normal_(p, std=0.05)
    head = torch.nn.Linear(2 * model.config.hidden_size, 1)
    out = tmp_path / "cross.safetensors"
    export(model, head, out, {"script_version": "test"}, null=-1.25)
    scorer = CrossScorer(BASE, out)
    assert scorer.null == -1.25  # the listwise "no answer" logit travels with the head
    question = "How many days of annual leave do I get?"
    texts = ["Leave > Annual\nEveryone gets 25 days a year.", "Parking\nThe car park opens at 7."]
    got = scorer.logits(question, texts)
    ids, mask, types = (
        torch.from_numpy(a) for a in pad_pairs(PairTokenizer(BASE).pairs(question, texts))
    )
    with torch.no_grad():
        states = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = torch.cat([states[:, 0], (states * m).sum(1) / m.sum(1)], dim=1)
        want = head(pooled).squeeze(-1).numpy()
    assert np.allclose(got, want, atol=2e-3), (got, want)
    # the delta mattered: without it the base model gives other states
    model.disable_adapter_layers()
    with torch.no_grad():
        base_states = model(input_ids=ids, attention_mask=mask, token_type_ids=types)
    assert not np.allclose(base_states.last_hidden_state.numpy(), states.numpy(), atol=1e-2)


def test_the_shipped_scorer_records_its_provenance_and_prefers_the_answer():
    metadata = safetensors_metadata(ARTEFACT)
    assert metadata["script"] == "scripts/train_cross.py"
    assert len(metadata["training_data_sha256"]) == 64
    provenance = json.loads(CROSS_SELECTOR.read_text(encoding="utf-8"))["provenance"]
    recorded = provenance["cross_encoder"]  # the selector reading it, fitted on its scores
    assert recorded["script_version"] == metadata["script_version"]
    assert recorded["training_data_sha256"] == metadata["training_data_sha256"]
    assert ARTEFACT.stat().st_size < 4 * 2**20  # ships inside the package
    scorer = load_cross()
    logits = scorer.logits(
        "How much notice do I have to give before I quit?",
        [
            "Leaving the company\nThe office is closed on public holidays.",
            "Leaving the company\nYou must give four weeks' notice in writing to your manager.",
        ],
    )
    assert logits[1] > logits[0]


def test_the_cross_reader_reads_the_cross_encoder_for_its_support():
    from ragkit.generators.extractive import ExtractiveGenerator
    from ragkit.index.embedding import HashingEmbedder
    from ragkit.index.records import Chunk, chunk_id_for
    from ragkit.types import Hit

    selector = load_selector(CROSS_SELECTOR)
    assert selector.support_cross and not load_selector().support_cross
    text = "Notice periods. You must give four weeks' notice in writing. The canteen opens at 8."
    chunk = Chunk(
        chunk_id_for("leaving.md", text),
        "leaving.md",
        "Leaving",
        text,
        0,
        len(text),
        None,
        (),
        "0" * 8,
    )
    hits = [Hit(chunk, 1.0, 1)]
    question = "How much notice do I have to give before I quit?"
    cross = ExtractiveGenerator(HashingEmbedder(dim=2048), reader="cross", threshold=0.0)
    answer = cross.generate(question, hits)
    assert answer.metadata["reader"] == "cross" and "four weeks" in answer.text
    # the support moves with the cross-encoder's logit of the chosen unit: a different
    # support from the default reader's over the same passage
    trained = ExtractiveGenerator(HashingEmbedder(dim=2048), threshold=0.0).generate(question, hits)
    assert answer.metadata["support"] != trained.metadata["support"]
