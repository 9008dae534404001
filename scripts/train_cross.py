"""Train the cross-encoder answer scorer shipped as ragkit/reader/cross.safetensors.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/train_cross.py [--out PATH] [--epochs N]

A listwise reader: per training question, the candidate units the reader would see (every
unit of its top passages, `ragkit.reader.candidates.build_candidates`, written as at run time:
context line, newline, unit text) form one group; the model scores each (question, unit) pair
and a learned "no answer" logit joins the group. The loss is the softmax cross-entropy of the
group's positives (the units holding a gold answer) against the other units and the null
logit, or of the null logit for an unanswerable question, plus BINARY_WEIGHT x the pointwise
binary cross-entropy of each unit (keeps a single logit meaningful on its own: the refusal
support reads it). Ranking, not per-pair calibration, is what the reader needs.

Data (split functions of scripts/train_reader.py, so nothing held out is trained on):
- SQuAD 2.0 (squad2-cs224n-dev) training half by article: SQUAD_QUESTIONS questions in whole
  paragraphs; positive = the sentence holding the answer span, negatives = the paragraph's
  other sentences; unanswerable questions have every sentence negative, including the one
  holding its `plausible_answers` (near misses, always kept when a group is cut).
- XQuAD es/de training articles (XQUAD_QUESTIONS each) and FaQuAD train (Portuguese).
- Near-topic negatives: every OFF_CORPUS_EVERY-th answerable public question against another
  article's most similar paragraph (all units negative).
- HR-style: training/reader/hr_pairs.jsonl, sample_corpus/eval.jsonl, contoso (training
  documents only: `HR_HELD_OUT`), the handbook TRAIN split, and the off-corpus questions of
  `cross_corpus_negatives`, each with the units of its retrieved top-5 passages.
A group keeps all its positives and, up to PUBLIC_UNITS / HR_UNITS units, the negatives the
shipped stage-1 selector ranks highest (hard negatives) and then seeded random ones. An
answerable question whose answer no unit holds is dropped (it would teach "no answer").

Model: LoRA (peft) of rank LORA_R on every linear layer of the bundled all-MiniLM-L6-v2 and a
linear head over [CLS] and mean-pooled last states (`ragkit.reader.cross`), AdamW with linear
warm-up and decay over EPOCHS passes, one torch thread, seeded and deterministic: the same
data gives the same artefact. The artefact records SCRIPT_VERSION and the SHA-256 of the
training groups (questions, unit texts, labels). About 20-25 minutes on one core of a shared
2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

SCRIPT_VERSION = "cross-2"
LORA_R = 16
LORA_ALPHA = 32
LORA_DROPOUT = 0.05
LEARNING_RATE = 1e-3
HEAD_LEARNING_RATE = 1e-2  # the head and the null logit: few parameters, far to move
BATCH_PAIRS = 32  # a batch is whole groups, about this many pairs
EPOCHS = 2
WARMUP = 0.06  # share of the steps with a rising learning rate
BINARY_WEIGHT = 0.5
SEED = 0
SQUAD_QUESTIONS = 400
XQUAD_QUESTIONS = 60
FAQUAD_QUESTIONS = 80
OFF_CORPUS_EVERY = 8
PUBLIC_UNITS = 6
HR_UNITS = 7
HR_REPEAT = 2  # an HR-style group is seen this many times an epoch (they are few, and ours)


@dataclass(frozen=True)
class Group:
    question: str
    texts: tuple[str, ...]  # units as the scorer reads them: context line, newline, unit
    labels: tuple[bool, ...]
    source: str


def _plausible(data: Path) -> dict[tuple[str, str], list[str]]:
    """(paragraph text, question) -> plausible answers of SQuAD's unanswerable questions."""
    out: dict[tuple[str, str], list[str]] = {}
    path = data / "squad2-cs224n-dev" / "data" / "dev-v2.0.json"
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                found = [a["text"] for a in qa.get("plausible_answers", [])]
                if found:
                    out[(p["context"], qa["question"])] = found
    return out


def group_of(e: Any, cap: int, rng: random.Random, plausible: list[str]) -> Group | None:
    """One example's group: positives, plausible-answer units, then the stage-1 hardest
    negatives and seeded random ones, up to `cap` units (in their passage order)."""
    import train_reader as tr

    from ragkit.reader.selector import load_selector

    r = tr.example_rows(e)
    n = len(r.labels)
    if n == 0 or (e.answerable and not r.labels.any()):
        return None
    keep = [i for i in range(n) if r.labels[i]]
    keep += [i for i in range(n) if plausible and tr.contains(r.texts[i], plausible)]
    keep = list(dict.fromkeys(keep))
    hard = np.argsort(-load_selector().stage1.logits(r.cheap, r.crosses), kind="stable")
    room = cap - len(keep)
    hard_part = [int(i) for i in hard if int(i) not in keep][: max(0, room - room // 3)]
    keep += hard_part
    rest = [i for i in range(n) if i not in keep]
    rng.shuffle(rest)
    keep += rest[: max(0, cap - len(keep))]
    keep.sort()
    return Group(
        e.question,
        tuple(r.texts[i] for i in keep),
        tuple(bool(r.labels[i]) for i in keep),
        e.source,
    )


def build_groups(
    data: Path,
    public_units: int = PUBLIC_UNITS,
    hr_units: int = HR_UNITS,
    hr_repeat: int = HR_REPEAT,
) -> list[Group]:
    """The training groups (see the module docstring), in a fixed order; each HR-style group
    `hr_repeat` times."""
    import train_reader as tr

    saved = tr.SQUAD_QUESTIONS, tr.XQUAD_QUESTIONS, tr.FAQUAD_QUESTIONS
    tr.SQUAD_QUESTIONS, tr.XQUAD_QUESTIONS, tr.FAQUAD_QUESTIONS = (
        SQUAD_QUESTIONS,
        XQUAD_QUESTIONS,
        FAQUAD_QUESTIONS,
    )
    try:
        public = tr.training_examples(data)
    finally:
        tr.SQUAD_QUESTIONS, tr.XQUAD_QUESTIONS, tr.FAQUAD_QUESTIONS = saved
    assert not any(e.held_out for e in public if e.source == "squad2")
    public += tr.off_corpus_negatives(public, every=OFF_CORPUS_EVERY)
    hr = [e for e in tr.hr_examples(data) if not e.held_out]
    hr += tr.cross_corpus_negatives([e for e in hr if e.answerable], data)
    handbook = tr.handbook_examples(data, ("train",))
    assert all(e.split == "train" for e in handbook)
    hr += handbook
    plausible = _plausible(data)
    rng = random.Random(SEED)
    groups = []
    for e in public:
        extra = [] if e.answerable else plausible.get((e.hits[0].chunk.text, e.question), [])
        g = group_of(e, public_units, rng, extra)
        if g is not None:
            groups.append(g)
    for e in hr:
        g = group_of(e, hr_units, rng, [])
        if g is not None:
            groups.extend([g] * hr_repeat)
    return groups


def trained_questions(data: Path) -> list[str]:
    """The questions of the training groups (train_reader keeps the public ones it trains
    stage 2 on apart from them)."""
    return [g.question for g in build_groups(data)]


def source_commit(repo: Path = REPO) -> str:
    """The checkout's commit, with "+dirty" when a tracked file differs from it (the training
    data also depends on files in the repository: the pairs, selector.json's stage 1 that
    picks the hard negatives, the reader's unit splitting), or "unknown" without git."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    if head.returncode or dirty.returncode:
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def groups_hash(groups: Sequence[Group]) -> str:
    h = hashlib.sha256()
    for g in groups:
        h.update(json.dumps([g.question, g.texts, g.labels], ensure_ascii=False).encode())
    return h.hexdigest()


def _batches(lengths: Sequence[int], sizes: Sequence[int], rng: random.Random) -> list[list[int]]:
    """Seeded batches of whole groups of similar length, about BATCH_PAIRS pairs each."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    window = 40 * BATCH_PAIRS // 6
    for start in range(0, len(order), window):
        part = sorted(order[start : start + window], key=lambda i: lengths[i])
        current: list[int] = []
        pairs = 0
        for i in part:
            current.append(i)
            pairs += sizes[i]
            if pairs >= BATCH_PAIRS:
                batches.append(current)
                current, pairs = [], 0
        if current:
            batches.append(current)
    rng.shuffle(batches)
    return batches


def lora_model(base: Path, r: int, alpha: int, dropout: float) -> Any:
    """The bundled BERT encoder (no pooler) with a peft LoRA adapter of rank `r` on every
    linear layer (`ragkit.reader.cross.LORA_MODULES`: query, key, value and the dense ones)."""
    from peft import LoraConfig, get_peft_model
    from transformers import BertModel

    model = BertModel.from_pretrained(str(base), add_pooling_layer=False)
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=["query", "key", "value", "dense"],
    )
    return get_peft_model(model, config)


def optimise(loss: Any, optimiser: Any, schedule: Any, running: float, step: int) -> float:
    """One optimiser step on `loss` (a scalar torch tensor) and the loss's running average
    (exponential, 0.98) that the training logs print; step 0 starts the average at its value.
    Shared by this script and train_unit_encoder.py."""
    loss.backward()
    optimiser.step()
    schedule.step()
    optimiser.zero_grad()
    value = float(loss.detach())
    return 0.98 * running + 0.02 * value if step else value


def train(
    groups: Sequence[Group], base: Path, out: Path, metadata: dict[str, str], epochs: int = EPOCHS
) -> dict[str, Any]:
    """Fit the adapter, head and null logit on `groups`; write them (with `metadata`) to `out`."""
    import torch

    from ragkit.reader.cross import PairTokenizer, pad_pairs

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    began = time.time()
    tokenizer = PairTokenizer(base)
    rows = [tokenizer.pairs(g.question, list(g.texts)) for g in groups]
    model = lora_model(base, LORA_R, LORA_ALPHA, LORA_DROPOUT)
    hidden = model.config.hidden_size
    head = torch.nn.Linear(2 * hidden, 1)
    torch.nn.init.normal_(head.weight, std=0.02)
    torch.nn.init.zeros_(head.bias)
    null = torch.nn.Parameter(torch.zeros(1))
    lora = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [
            {"params": lora, "lr": LEARNING_RATE, "weight_decay": 0.01},
            {"params": [*head.parameters(), null], "lr": HEAD_LEARNING_RATE, "weight_decay": 0.0},
        ]
    )
    rng = random.Random(SEED)
    lengths = [int(np.mean([len(ids) for ids, _ in r])) for r in rows]
    sizes = [len(r) for r in rows]
    batches = [b for _ in range(epochs) for b in _batches(lengths, sizes, rng)]
    warm = max(1, int(WARMUP * len(batches)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: min((s + 1) / warm, max(0.0, (len(batches) - s) / (len(batches) - warm))),
    )
    model.train()
    running = 0.0
    for step, batch in enumerate(batches):
        flat = [pair for g in batch for pair in rows[g]]
        ids, mask, types = (torch.from_numpy(a) for a in pad_pairs(flat))
        states = model(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = torch.cat([states[:, 0], (states * m).sum(1) / m.sum(1).clamp(min=1)], dim=1)
        logits = head(pooled).squeeze(-1)
        labels = torch.tensor([float(y) for g in batch for y in groups[g].labels])
        listwise = []
        start = 0
        for g in batch:
            z = logits[start : start + sizes[g]]
            y = labels[start : start + sizes[g]].bool()
            start += sizes[g]
            every = torch.logsumexp(torch.cat([z, null]), 0)
            good = torch.logsumexp(z[y], 0) if bool(y.any()) else null[0]
            listwise.append(every - good)
        binary = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        loss = torch.stack(listwise).mean() + BINARY_WEIGHT * binary
        running = optimise(loss, optimiser, schedule, running, step)
        if step % 50 == 0 or step + 1 == len(batches):
            print(
                f"  cross-encoder step {step + 1}/{len(batches)} loss {running:.3f} "
                f"null {float(null.detach()):.2f} ({time.time() - began:.0f} s)",
                flush=True,
            )
    info = {
        **metadata,
        "groups": str(len(groups)),
        "pairs": str(sum(sizes)),
        "positives": str(sum(sum(g.labels) for g in groups)),
        "steps": str(len(batches)),
        "learning_rate": str(LEARNING_RATE),
        "batch_pairs": str(BATCH_PAIRS),
        "epochs": str(epochs),
        "loss": "listwise softmax with a null logit + 0.5 binary cross-entropy",
    }
    export(model, head, out, info, null=float(null.detach()))
    return {"seconds": round(time.time() - began), "steps": len(batches), "loss": running}


def export(model: Any, head: Any, out: Path, metadata: dict[str, str], null: float = 0.0) -> None:
    """Write a peft LoRA model's A and B matrices (`ragkit.reader.cross` names), the head
    (weight (2H,), bias (1,)) and the null logit (1,) as float32 safetensors with `metadata`
    (strings), atomically."""
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
    tensors["head.null"] = np.asarray([null], dtype=np.float32)
    save_lora(tensors, model, metadata, out)


def save_lora(
    tensors: dict[str, np.ndarray], model: Any, metadata: dict[str, str], out: Path
) -> None:
    """Write `tensors` as safetensors at `out`, atomically, with `metadata` and the peft
    model's LoRA rank and alpha (the loader scales the deltas by alpha / r)."""
    from safetensors.numpy import save_file

    config = model.peft_config["default"]
    info = {**metadata, "lora_r": str(config.r), "lora_alpha": str(config.lora_alpha)}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=info)
    tmp.replace(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "ragkit" / "reader" / "cross.safetensors"
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument(
        "--dry-run", action="store_true", help="build the groups, print them and their hash, stop"
    )
    args = parser.parse_args(argv)
    import train_reader as tr

    from ragkit.index.embedding import resolve_model_path

    began = time.time()
    base = resolve_model_path(args.model)
    assert base is not None, f"{args.model} is not a local model folder"
    groups = build_groups(tr.shared_data())
    sources: dict[str, int] = {}
    for g in groups:
        sources[g.source] = sources.get(g.source, 0) + 1
    print(
        f"cross-encoder: {len(groups)} groups, {sum(len(g.texts) for g in groups)} pairs, "
        f"{sum(sum(g.labels) for g in groups)} positive, {sum(not any(g.labels) for g in groups)} "
        f"unanswerable; {sources}; training data sha256 {groups_hash(groups)} "
        f"({time.time() - began:.0f} s)",
        flush=True,
    )
    if args.dry_run:
        return 0
    metadata = {
        "script": "scripts/train_cross.py",
        "script_version": SCRIPT_VERSION,
        "training_data_sha256": groups_hash(groups),
        "source_commit": source_commit(),
        "base_model": args.model,
    }
    trained = train(groups, base, args.out, metadata, args.epochs)
    print(f"cross-encoder: {trained}; wrote {args.out} in {time.time() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
