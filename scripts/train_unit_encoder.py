"""Train the reader's unit encoder: a LoRA adapter of the bundled all-MiniLM-L6-v2 bi-encoder
for question -> answer-unit matching.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/train_unit_encoder.py [--out PATH] [--epochs N]

The reader's stage 2 reads the cosine of the question and each candidate unit under its
headings ("context\\nunit", `ragkit.generators.extractive`). The bundled model was trained
for question -> passage matching; this adapts it, keeping its form (mean pooling of the last
states, L2 norm), so the cosine's scale and meaning stay those of a sentence embedding.

Data: the groups of scripts/train_cross.py (`build_groups`: SQuAD training half by article,
XQuAD es/de training articles, FaQuAD train, HR-style training pairs, the handbook TRAIN
split, each with its retrieved top-5 passages' units and the stage-1 selector's hardest
negatives), with larger caps on units per group. Nothing from the handbook validation or
test splits, nor from held-out documents or articles. Unanswerable groups: every HR-style
one and every UNANSWERABLE_EVERY-th public one.

Loss: per group, softmax cross-entropy over cosine / TEMPERATURE of its positives against the
group's other units, (IN_BATCH) the units of the batch's other groups and (NULL_SIMILARITY) a
learned "no answer" similarity, which is an unanswerable group's target: a near miss's best
unit is pushed below it, so the best cosine also says whether any unit answers.

Model: LoRA (peft) of rank LORA_R on every linear layer of the six blocks, AdamW with linear
warm-up and decay, one torch thread, seeded and deterministic. The artefact holds the A and
B matrices (float32 safetensors) and metadata: script version, training-data SHA-256, base
model, LoRA rank and alpha.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

SCRIPT_VERSION = "unit-2"
LORA_R = 8
LORA_ALPHA = 16
LORA_DROPOUT = 0.05
LEARNING_RATE = 5e-4
TEMPERATURE = 0.05  # sentence-transformers' MultipleNegativesRankingLoss scale 20
GROUPS_PER_BATCH = 8
EPOCHS = 2
WARMUP = 0.06
IN_BATCH = True
# a learned "no answer" similarity joins each group's softmax: an unanswerable group's target,
# so a unit's cosine means something across questions (the refusal support reads the best)
NULL_SIMILARITY = True
UNANSWERABLE_EVERY = 3  # public unanswerable groups kept: one in this many
HR_STYLE = frozenset({"hr_pairs", "sample_eval", "contoso", "handbook", "cross"})
PUBLIC_UNITS = 8
HR_UNITS = 12
# an HR-style group once an epoch (train_cross shows each twice): with the handbook train split
# at 418 English pairs (from 163) twice would take the training past its 30-minute budget
HR_REPEAT = 1
TRAIN_TOKENS = 128  # training truncates a unit here (run time: the model's 256)
SEED = 0
CHUNK = 16  # units encoded together (similar lengths)


def build_groups(data: Path, public_units: int = PUBLIC_UNITS, hr_units: int = HR_UNITS) -> list:
    """train_cross's groups with this script's caps and HR_REPEAT (answerable ones, and with
    NULL_SIMILARITY some unanswerable ones)."""
    import train_cross as tc

    groups = tc.build_groups(data, public_units, hr_units, HR_REPEAT)
    # unanswerable groups teach "no unit answers" against the null similarity: every HR-style
    # one (near misses over our kind of documents) and every UNANSWERABLE_EVERY-th public one
    public_unanswerable = 0
    kept = []
    for g in groups:
        if not any(g.labels):
            if not NULL_SIMILARITY:
                continue
            if g.source not in HR_STYLE:
                public_unanswerable += 1
                if public_unanswerable % UNANSWERABLE_EVERY:
                    continue
        kept.append(g)
    return kept


def trained_questions(data: Path) -> list[str]:
    """The questions the encoder trains on (train_reader leaves the public ones out of the
    stages it fits on the encoder's cosines: theirs are in-sample)."""
    return [g.question for g in build_groups(data)]


class Encoder:
    """A peft LoRA BertModel embedding token-id rows as the sentence model does."""

    def __init__(self, base: Path) -> None:
        import torch
        import train_cross

        self.torch = torch
        self.model = train_cross.lora_model(base, LORA_R, LORA_ALPHA, LORA_DROPOUT)

    def __call__(self, rows: Sequence[Sequence[int]]) -> Any:
        from ragkit.index.bert_numpy import pad

        torch = self.torch
        ids, mask = (torch.from_numpy(a) for a in pad(rows))
        states = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        mean = (states * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=-1)

    def embed(self, rows: Sequence[Sequence[int]], adapted: bool = True) -> np.ndarray:
        torch = self.torch
        self.model.eval()
        out = np.empty((len(rows), self.model.config.hidden_size), dtype=np.float32)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        with torch.inference_mode():
            for s in range(0, len(order), 32):
                part = order[s : s + 32]
                if adapted:
                    v = self([rows[i] for i in part])
                else:
                    with self.model.disable_adapter():
                        v = self([rows[i] for i in part])
                out[part] = v.numpy()
        return out


def eval_examples(data: Path, splits: Sequence[str]) -> list[dict[str, Any]]:
    """Handbook questions of `splits` (not Portuguese, answerable, not a list) with their
    top-5 passages' units; gold = a unit holding every gold string (as /tmp/s6/rep.py)."""
    import train_reader as tr

    from ragkit.reader.candidates import build_candidates

    out = []
    for e in tr.handbook_examples(data, tuple(splits)):
        if e.lang == "pt" or not e.answerable or e.kind == "list":
            continue
        _, cands = build_candidates(e.hits, tr.MAX_PASSAGES)
        gold = [all(tr.contains(c.text, [g]) for g in e.golds) for c in cands]
        if not any(gold):
            continue
        texts = [f"{c.context}\n{c.text}" for c in cands]
        out.append({"split": e.split, "question": e.question, "texts": texts, "gold": gold})
    return out


def first_unit_accuracy(
    encoder: Encoder, tokenize: Any, examples: Sequence[dict[str, Any]], adapted: bool
) -> dict[str, float]:
    texts = sorted({t for x in examples for t in [x["question"], *x["texts"]]})
    vectors = dict(zip(texts, encoder.embed(tokenize(texts), adapted), strict=True))
    right: dict[str, list[bool]] = {}
    for x in examples:
        q = vectors[x["question"]]
        cos = np.array([vectors[t] @ q for t in x["texts"]])
        right.setdefault(x["split"], []).append(bool(x["gold"][int(np.argmax(cos))]))
    return {k: round(float(np.mean(v)), 3) for k, v in right.items()} | {
        f"n_{k}": len(v) for k, v in right.items()
    }


def train(
    groups: Sequence[Any],
    encoder: Encoder,
    tokenize: Any,
    epochs: int,
    limit_steps: int | None = None,
    report: Any = None,
) -> dict[str, Any]:
    import torch
    import train_cross

    began = time.time()
    model = encoder.model
    q_rows = tokenize([g.question for g in groups])
    u_rows = [tokenize(list(g.texts)) for g in groups]
    u_rows = [
        [r[: TRAIN_TOKENS - 1] + r[-1:] if len(r) > TRAIN_TOKENS else r for r in rows]
        for rows in u_rows
    ]
    params = [p for p in model.parameters() if p.requires_grad]
    null = torch.nn.Parameter(torch.tensor([0.5 / TEMPERATURE]))  # a cosine of 0.5 at first
    optimiser = torch.optim.AdamW(
        [
            {"params": params, "lr": LEARNING_RATE, "weight_decay": 0.01},
            {"params": [null], "lr": 1e-2, "weight_decay": 0.0},
        ]
    )
    rng = random.Random(SEED)
    batches: list[list[int]] = []
    for _ in range(epochs):
        order = list(range(len(groups)))
        rng.shuffle(order)
        batches += [order[s : s + GROUPS_PER_BATCH] for s in range(0, len(order), GROUPS_PER_BATCH)]
    if limit_steps:
        batches = batches[:limit_steps]
    warm = max(1, int(WARMUP * len(batches)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: min((s + 1) / warm, max(0.0, (len(batches) - s) / max(1, len(batches) - warm))),
    )
    running = 0.0
    for step, batch in enumerate(batches):
        model.train()
        units = [r for g in batch for r in u_rows[g]]
        texts = [t for g in batch for t in groups[g].texts]
        owner = [g for g in batch for _ in groups[g].texts]
        labels = [y for g in batch for y in groups[g].labels]
        vq = encoder([q_rows[g] for g in batch])  # (B, H)
        # units in chunks of similar length: padding to the batch's longest costs 2.5x
        order = sorted(range(len(units)), key=lambda i: len(units[i]))
        chunks = [order[s : s + CHUNK] for s in range(0, len(order), CHUNK)]
        vu = torch.cat([encoder([units[i] for i in c]) for c in chunks])
        vu = vu[torch.argsort(torch.tensor(order))]  # (U, H) in the batch's order
        z = vq @ vu.T / TEMPERATURE  # (B, U)
        losses = []
        for b, g in enumerate(batch):
            positives = {t for t, y in zip(groups[g].texts, groups[g].labels, strict=True) if y}
            pos = torch.tensor([o == g and y for o, y in zip(owner, labels, strict=True)])
            if IN_BATCH:
                # another group's unit is a negative unless it is one of this group's
                # positives (HR groups appear twice) or comes from the same question
                every = torch.tensor(
                    [
                        o == g or (t not in positives and groups[o].question != groups[g].question)
                        for o, t in zip(owner, texts, strict=True)
                    ]
                )
            else:
                every = torch.tensor([o == g for o in owner])
            zb = z[b][every]
            good = torch.logsumexp(z[b][pos], 0) if bool(pos.any()) else null[0]
            if NULL_SIMILARITY:
                zb = torch.cat([zb, null])
            losses.append(torch.logsumexp(zb, 0) - good)
        loss = torch.stack(losses).mean()
        running = train_cross.optimise(loss, optimiser, schedule, running, step)
        if step % 25 == 0 or step + 1 == len(batches):
            print(
                f"  unit encoder step {step + 1}/{len(batches)} loss {running:.3f} "
                f"({time.time() - began:.0f} s)",
                flush=True,
            )
        if report is not None and (step + 1) % 100 == 0 and step + 1 < len(batches):
            report(step + 1)
    return {
        "seconds": round(time.time() - began),
        "steps": len(batches),
        "loss": running,
        "null_cosine": round(float(null.detach()[0]) * TEMPERATURE, 4),
    }


def export(model: Any, out: Path, metadata: dict[str, str]) -> None:
    """Write a peft LoRA model's A and B matrices as float32 safetensors (names
    `encoder.layer.<i>.<module>.lora_A|B`) with `metadata` (strings), atomically."""
    tensors: dict[str, np.ndarray] = {}
    pattern = re.compile(r"encoder\.layer\.(\d+)\.(.+)\.lora_([AB])\.default\.weight$")
    for name, value in model.named_parameters():
        found = pattern.search(name)
        if found:
            layer, module, which = found.groups()
            tensors[f"encoder.layer.{layer}.{module}.lora_{which}"] = (
                value.detach().numpy().astype(np.float32)
            )
    import train_cross

    train_cross.save_lora(tensors, model, metadata, out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "ragkit" / "reader" / "unit_encoder.safetensors"
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--limit-steps", type=int, default=None, help="stop after N steps")
    parser.add_argument("--evaluate", action="store_true", help="first-unit accuracy, handbook")
    parser.add_argument("--eval-train", action="store_true", help="also on the train split")
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument(
        "--dry-run", action="store_true", help="build the groups, print them and their hash, stop"
    )
    args = parser.parse_args(argv)
    import torch
    import train_cross as tc
    import train_reader as tr

    from ragkit.index.embedding import load_embedder, resolve_model_path

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    began = time.time()
    base = resolve_model_path(args.model)
    assert base is not None, f"{args.model} is not a local model folder"
    data = tr.shared_data()
    commit = tc.source_commit()  # before training writes the artefact into the tree
    groups = build_groups(data)
    print(
        f"unit encoder: {len(groups)} groups ({sum(not any(g.labels) for g in groups)} "
        f"unanswerable), {sum(len(g.texts) for g in groups)} "
        f"units, {sum(sum(g.labels) for g in groups)} positive; training data sha256 "
        f"{tc.groups_hash(groups)} ({time.time() - began:.0f} s)",
        flush=True,
    )
    if args.dry_run:
        return 0
    tokenize = load_embedder(args.model).token_ids
    encoder = Encoder(base)
    splits = ("validation", "train") if args.eval_train else ("validation",)
    examples = eval_examples(data, splits) if args.evaluate else []

    def report(step: int | str) -> None:
        if examples:
            acc = first_unit_accuracy(encoder, tokenize, examples, True)
            print(f"  first-unit accuracy at step {step}: adapted {acc}", flush=True)

    if examples:
        acc = first_unit_accuracy(encoder, tokenize, examples, False)
        print(f"  first-unit accuracy: base {acc} ({time.time() - began:.0f} s)", flush=True)
    trained = train(groups, encoder, tokenize, args.epochs, args.limit_steps, report)
    report("end")
    metadata = {
        "script": "scripts/train_unit_encoder.py",
        "script_version": SCRIPT_VERSION,
        "training_data_sha256": tc.groups_hash(groups),
        "source_commit": commit,
        "base_model": args.model,
        "groups": str(len(groups)),
        "hr_repeat": str(HR_REPEAT),
        "steps": str(trained["steps"]),
        "temperature": str(TEMPERATURE),
        "learning_rate": str(LEARNING_RATE),
        "in_batch_negatives": str(IN_BATCH),
        "null_cosine": str(trained["null_cosine"]),
    }
    export(encoder.model, args.out, metadata)
    print(f"unit encoder: {trained}; wrote {args.out} in {time.time() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
