"""Train the cross-encoder answer scorer shipped as ragkit/reader/cross.safetensors.

Called by scripts/train_reader.py, which builds the (question, unit, label) pairs from its
training examples; see `ragkit.reader.cross` for the model. On CPU, one torch thread, seeded:
the same pairs give the same artefact. LoRA (peft) of rank LORA_R on every linear layer of
the bundled all-MiniLM-L6-v2, a linear head over [CLS] and mean-pooled states, one pass of
AdamW with linear warm-up and decay, binary cross-entropy weighted per pair.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LORA_R = 8
LORA_ALPHA = 16
LORA_DROPOUT = 0.05
LEARNING_RATE = 5e-4
BATCH = 16
EPOCHS = 1
WARMUP = 0.06  # share of the steps with a rising learning rate
SEED = 0


@dataclass(frozen=True)
class Pair:
    question: str
    text: str  # the unit under its chunk's title and heading path
    label: bool
    weight: float


def _batches(lengths: Sequence[int], rng: random.Random) -> list[list[int]]:
    """Seeded batches of similar length (little padding): shuffle, sort windows of 20
    batches by length, cut, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = BATCH * 20
    batches = []
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [part[i : i + BATCH] for i in range(0, len(part), BATCH)]
    rng.shuffle(batches)
    return batches


def train(pairs: Sequence[Pair], base: Path, out: Path, metadata: dict[str, str]) -> dict[str, Any]:
    """Fit the adapter and head on `pairs` and write them (with `metadata`) to `out`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import BertModel

    from ragkit.reader.cross import PairTokenizer, pad_pairs

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    began = time.time()
    tokenizer = PairTokenizer(base)
    rows = []
    for p in pairs:
        rows.append(tokenizer.pairs(p.question, [p.text])[0])
    labels = torch.tensor([float(p.label) for p in pairs])
    weights = torch.tensor([p.weight for p in pairs], dtype=torch.float32)
    weights = weights * (len(pairs) / weights.sum())
    model = BertModel.from_pretrained(str(base), add_pooling_layer=False)
    config = LoraConfig(
        r=LORA_R,
        lora_alpha=LORA_ALPHA,
        lora_dropout=LORA_DROPOUT,
        target_modules=["query", "key", "value", "dense"],
    )
    model = get_peft_model(model, config)
    hidden = model.config.hidden_size
    head = torch.nn.Linear(2 * hidden, 1)
    torch.nn.init.normal_(head.weight, std=0.02)
    torch.nn.init.zeros_(head.bias)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optimiser = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    rng = random.Random(SEED)
    batches = [b for _ in range(EPOCHS) for b in _batches([len(r[0]) for r in rows], rng)]
    warm = max(1, int(WARMUP * len(batches)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: min((s + 1) / warm, max(0.0, (len(batches) - s) / (len(batches) - warm))),
    )
    model.train()
    running = 0.0
    for step, batch in enumerate(batches):
        ids, mask, types = (torch.from_numpy(a) for a in pad_pairs([rows[i] for i in batch]))
        states = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = torch.cat([states[:, 0], (states * m).sum(1) / m.sum(1).clamp(min=1)], dim=1)
        logits = head(pooled).squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits, labels[batch], weight=weights[batch]
        )
        loss.backward()
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step else value
        if step % 50 == 0 or step + 1 == len(batches):
            print(
                f"  cross-encoder step {step + 1}/{len(batches)} loss {running:.3f} "
                f"({time.time() - began:.0f} s)",
                flush=True,
            )
    info = {
        **metadata,
        "pairs": str(len(pairs)),
        "positives": str(int(labels.sum())),
        "steps": str(len(batches)),
        "learning_rate": str(LEARNING_RATE),
        "batch": str(BATCH),
        "epochs": str(EPOCHS),
    }
    export(model, head, out, info)
    return {"seconds": round(time.time() - began), "steps": len(batches), "loss": running}


def export(model: Any, head: Any, out: Path, metadata: dict[str, str]) -> None:
    """Write a peft LoRA model's A and B matrices (`ragkit.reader.cross` names) and the head
    (weight (2H,), bias (1,)) as float32 safetensors with `metadata` (strings), atomically."""
    from safetensors.numpy import save_file

    from ragkit.reader.cross import LORA_MODULES

    tensors: dict[str, np.ndarray] = {}
    pattern = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.lora_([AB])\.default\.weight$")
    for name, value in model.named_parameters():
        found = pattern.search(name)
        if found:
            layer, module, which = found.groups()
            assert module in LORA_MODULES, module
            key = f"encoder.layer.{layer}.{module}.lora_{which}"
            tensors[key] = value.detach().numpy().astype(np.float32)
    assert len(tensors) == 2 * len(LORA_MODULES) * model.config.num_hidden_layers
    tensors["head.weight"] = head.weight.detach().numpy().reshape(-1).astype(np.float32)
    tensors["head.bias"] = head.bias.detach().numpy().astype(np.float32)
    config = model.peft_config["default"]
    info = {**metadata, "lora_r": str(config.r), "lora_alpha": str(config.lora_alpha)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=info)
    tmp.replace(out)
