"""The adapter training loop: prefix tuning of a frozen causal LM on retrieval-grounded examples.

Per step: a batch of examples, right-padded to (B, T); the prefix (P virtual tokens of keys
and values per layer) enters as the KV cache, so input positions start at P, as at inference;
the loss is the cross-entropy on answer tokens only; AdamW updates the prefix alone. After each
epoch the dev loss decides early stopping, and the best prefix is the one saved. Runs on CPU,
or on a GPU when present (`TuneConfig.device`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError
from ragkit.generators.deprecations import silence_known_deprecations
from ragkit.generators.hf import autocast, context_budget, load_base, virtual_tokens
from ragkit.prompt import load_system_prompt
from ragkit.tune import adapter as adapters
from ragkit.tune import methods
from ragkit.tune.config import TuneConfig
from ragkit.tune.data import Encoded, examples_sha256, load_examples
from ragkit.types import Hit


@dataclass(frozen=True)
class TuneResult:
    adapter_dir: Path
    train_losses: tuple[float, ...]  # per epoch: mean answer-token cross-entropy
    dev_losses: tuple[float, ...]  # per epoch; empty without a dev set
    initial_dev_loss: float | None  # before the first step
    best_epoch: int  # epoch whose prefix was saved; 0: the initial one
    stopped_early: bool
    examples: dict[str, int] = field(default_factory=dict)  # by kind, plus "skipped", "cut"
    tokens_per_second: float = 0.0
    seconds: float = 0.0
    trainable_parameters: int = 0
    peak_rss_mb: float = 0.0  # the process's peak resident memory (model load included)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "adapter_dir": str(self.adapter_dir)}


@dataclass
class EarlyStop:
    """Tracks the best score (lower is better); `stop` once `patience` epochs bring nothing."""

    patience: int
    best: float = math.inf
    best_epoch: int = 0
    stale: int = 0

    def update(self, epoch: int, score: float) -> bool:
        """Record an epoch's score; True when it is a new best."""
        if score < self.best:
            self.best, self.best_epoch, self.stale = score, epoch, 0
            return True
        self.stale += 1
        return False

    @property
    def stop(self) -> bool:
        return self.stale >= self.patience


def batches(items: Sequence[Encoded], size: int, pad: int) -> list[dict[str, Any]]:
    """Right-padded tensors input_ids, attention_mask, labels, each (B, T)."""
    import torch

    out = []
    for start in range(0, len(items), size):
        group = items[start : start + size]
        width = max(len(e.input_ids) for e in group)
        fill = [width - len(e.input_ids) for e in group]
        ids = [e.input_ids + [pad] * n for e, n in zip(group, fill, strict=True)]
        mask = [[1] * len(e.input_ids) + [0] * n for e, n in zip(group, fill, strict=True)]
        labels = [e.labels + [-100] * n for e, n in zip(group, fill, strict=True)]
        out.append(
            {
                "input_ids": torch.tensor(ids),
                "attention_mask": torch.tensor(mask),
                "labels": torch.tensor(labels),
            }
        )
    return out


def batch_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """(summed answer-token cross-entropy, number of answer tokens) for one batch."""
    import torch.nn.functional as F

    device = model.device
    ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
    logits = model(input_ids=ids, attention_mask=mask).logits  # (B, T, V); (B, P+T, V) for
    logits = logits[:, logits.shape[1] - ids.shape[1] :]  # soft prompts: keep the real tokens
    labels = batch["labels"].to(device)[:, 1:]  # position t predicts token t+1
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels.flatten(), reduction="sum")
    return loss, int((labels != -100).sum())


def mean_loss(model: Any, items: Sequence[Encoded], batch_size: int, pad: int) -> float:
    """Answer-token cross-entropy over `items`, in eval mode, without gradients."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for batch in batches(items, batch_size, pad):
            loss, n = batch_loss(model, batch)
            total, count = total + float(loss), count + n
    return total / max(count, 1)


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


def train_adapter(
    config: TuneConfig,
    *,
    retrieve: Callable[[str], list[Hit]] | None = None,
    progress: bool = True,
) -> TuneResult:
    """Train a prefix adapter for `config.base` on `config.data`; save it to `config.out`.

    `retrieve(question)` returns the passages inference would show for a question (the CLI
    passes the index's retriever); training prompts are built from them. An adapter can
    memorise what it is trained on, so `retrieve` should return only passages that every
    user of the adapter may read (the CLI: no access groups, i.e. public chunks).
    """
    import torch

    silence_known_deprecations()

    if retrieve is None:

        def retrieve(question: str) -> list[Hit]:
            raise ConfigError(
                f"{config.data}: records without 'passages' need a retriever (the CLI: --index)"
            )

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    base, tokenizer = load_base(config.base, config.device)
    system_prompt = load_system_prompt(config.system_prompt)
    prefix_tokens = config.virtual_tokens if config.method in methods.PROMPT_LEARNING else 0
    limit = context_budget(base.config, prefix_tokens)
    budget = min(config.max_length, limit) if limit is not None else config.max_length
    if budget < 64:
        raise ConfigError(
            f"{config.base} leaves {budget} positions after {config.virtual_tokens} virtual "
            "tokens: use fewer --virtual-tokens"
        )

    def prepare(path: str) -> tuple[list[Encoded], dict[str, int]]:
        return load_examples(
            path,
            retrieve,
            tokenizer,
            system_prompt=system_prompt,
            budget=budget,
            top_k=config.top_k,
            refusal_share=config.refusal_share,
            seed=config.seed,
        )

    train_set, counts = prepare(config.data)
    dev_set = prepare(config.dev)[0] if config.dev else []
    if not train_set:
        raise ConfigError(
            f"{config.data}: no usable examples (no gold passage retrieved): {counts}"
        )

    if config.resume:
        resumed = adapters.adapter_method(adapters.read_metadata(config.resume))
        if resumed != config.method:
            raise ConfigError(
                f"--resume {config.resume} is a {resumed} adapter, not {config.method}"
            )
        model = adapters.load_adapter(base, config.resume, base_id=config.base, trainable=True)
        found = virtual_tokens(model)
        if found and found != config.virtual_tokens:
            raise ConfigError(
                f"--resume {config.resume} has {found} virtual tokens, not {config.virtual_tokens}"
            )
    else:
        model = methods.new_trainable(
            base,
            config.method,
            virtual_tokens=config.virtual_tokens,
            tokenizer=tokenizer,
            system_prompt=system_prompt,
            init=config.init,
            init_text=config.init_text,
            source=getattr(base.config, "_name_or_path", None),
        )
    identity = adapters.base_identity(base, config.base)  # before full tuning changes the weights
    trainable = methods.trainable_parameters(model)
    log = _fit(model, train_set, dev_set, config, tokenizer.pad_token_id, progress)
    seconds = time.perf_counter() - started
    result = TuneResult(
        adapter_dir=Path(config.out),
        train_losses=tuple(log["train"]),
        dev_losses=tuple(log["dev"]),
        initial_dev_loss=log["initial_dev"],
        best_epoch=log["best_epoch"],
        stopped_early=log["stopped_early"],
        examples=counts,
        tokens_per_second=log["tokens"] / max(log["seconds"], 1e-9),
        seconds=seconds,
        trainable_parameters=trainable,
        peak_rss_mb=peak_rss_mb(),
    )
    metrics = {k: v for k, v in result.to_json().items() if k != "adapter_dir"}
    metadata = adapters.training_metadata(
        base, tokenizer, config, system_prompt, examples_sha256(train_set), metrics
    )
    metadata.update(identity)
    adapters.save_adapter(model, config.out, metadata)
    return result


def _fit(
    model: Any,
    train_set: list[Encoded],
    dev_set: list[Encoded],
    config: TuneConfig,
    pad: int,
    progress: bool,
) -> dict[str, Any]:
    """The epochs; leaves the best prefix in `model` and returns the losses and counts."""
    import torch
    from tqdm.auto import tqdm

    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    initial_dev = mean_loss(model, dev_set, config.batch_size, pad) if dev_set else None
    stopper = EarlyStop(config.patience)
    if initial_dev is not None:
        stopper.update(0, initial_dev)  # epoch 0: the initial prefix, kept if training only hurts
    best = methods.snapshot(model)
    log: dict[str, Any] = {"train": [], "dev": [], "initial_dev": initial_dev, "tokens": 0}
    shuffle = torch.Generator().manual_seed(config.seed)
    steps = config.epochs * math.ceil(len(train_set) / config.batch_size)
    total = min(steps, config.max_steps or steps)
    step, seconds, stopped_early = 0, 0.0, False
    bar = tqdm(total=total, desc="tune", unit="step", disable=not progress)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(train_set), generator=shuffle).tolist()
        loss_total, loss_tokens = 0.0, 0
        for batch in batches([train_set[i] for i in order], config.batch_size, pad):
            tick = time.perf_counter()
            with autocast(model.device.type, config.precision):
                loss_sum, n = batch_loss(model, batch)
            optimiser.zero_grad(set_to_none=True)
            (loss_sum / max(n, 1)).backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            seconds += time.perf_counter() - tick
            loss_total, loss_tokens = loss_total + loss_sum.item(), loss_tokens + n
            log["tokens"] += int(batch["attention_mask"].sum())
            step += 1
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss_sum.item() / max(n, 1):.3f}")
            if step >= total:
                break
        log["train"].append(loss_total / max(loss_tokens, 1))
        if dev_set:
            log["dev"].append(mean_loss(model, dev_set, config.batch_size, pad))
        if stopper.update(epoch, (log["dev"] or log["train"])[-1]):
            best = methods.snapshot(model)
        if step >= total:
            break
        if dev_set and stopper.stop:
            stopped_early = epoch < config.epochs
            break
    bar.close()
    methods.restore(model, best)
    model.eval()
    return {
        **log,
        "best_epoch": stopper.best_epoch,
        "stopped_early": stopped_early,
        "seconds": seconds,
    }
