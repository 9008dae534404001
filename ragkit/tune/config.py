"""`TuneConfig`: every setting of an adapter training run, validated, saved as sorted-key JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError

DEFAULT_INIT_TEXT = "Answer briefly from the passages and cite them."


@dataclass
class TuneConfig:
    base: str = field(
        metadata={"help": "Base causal LM: a saved model directory or a cached model id."}
    )
    data: str = field(metadata={"help": "Training questions, JSONL in the eval format."})
    out: str = field(metadata={"help": "Directory the adapter is written to."})
    dev: str | None = field(
        default=None, metadata={"help": "Dev questions (same format) for early stopping."}
    )
    index: str | None = field(
        default=None, metadata={"help": "Index directory the retriever reads (recorded only)."}
    )
    method: str = field(
        default="prefix",
        metadata={"help": "prompt, p-tuning, prefix, lora or full (see ragkit.tune.methods)."},
    )
    virtual_tokens: int = field(default=16, metadata={"help": "Prefix length P in virtual tokens."})
    epochs: int = field(default=5, metadata={"help": "Maximum passes over the training examples."})
    lr: float | None = field(
        default=None,
        metadata={"help": "AdamW learning rate; default: the method's (methods.DEFAULT_LR)."},
    )
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    batch_size: int = field(default=4, metadata={"help": "Examples per optimiser step."})
    max_steps: int | None = field(
        default=None, metadata={"help": "Stop after this many optimiser steps (smoke runs)."}
    )
    init: str = field(
        default="text",
        metadata={"help": "'text': the prefix starts as the KV cache of init_text; 'zero': zeros."},
    )
    init_text: str = field(
        default=DEFAULT_INIT_TEXT, metadata={"help": "Text whose KV cache seeds the prefix."}
    )
    top_k: int = field(default=4, metadata={"help": "Retrieved passages per training prompt."})
    refusal_share: float = field(
        default=0.25,
        metadata={
            "help": "Share of answerable questions also trained without their gold passages, "
            "with the refusal as target."
        },
    )
    max_length: int = field(
        default=2048, metadata={"help": "Max tokens per example; passages are cut to fit."}
    )
    patience: int = field(
        default=2, metadata={"help": "Epochs without dev-loss improvement before stopping."}
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "System prompt file; default: the packaged one."}
    )
    resume: str | None = field(
        default=None, metadata={"help": "Adapter directory whose prefix training continues from."}
    )
    device: str | None = field(
        default=None, metadata={"help": "'cpu', 'cuda'; default: a GPU if present."}
    )
    precision: str = field(
        default="fp32",
        metadata={"help": "'bf16': bfloat16 autocast compute (fp32 master weights); 'fp32'."},
    )
    seed: int = field(default=0, metadata={"help": "Seed for shuffling and refusal selection."})

    def __post_init__(self) -> None:
        from ragkit.tune.methods import DEFAULT_LR, check_method

        check_method(self.method)
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.method]
        positive = {
            "virtual_tokens": self.virtual_tokens,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "top_k": self.top_k,
            "max_length": self.max_length,
            "patience": self.patience,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(
                f"max_steps must be a positive integer or None, got {self.max_steps!r}"
            )
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= self.refusal_share <= 1:
            raise ConfigError(f"refusal_share must be between 0 and 1, got {self.refusal_share!r}")
        if self.init not in ("text", "zero"):
            raise ConfigError(
                f"init must be 'text' or 'zero', got {self.init!r} "
                "(random initialisation is known to train badly for prefix tuning)"
            )
        if self.init == "text" and not self.init_text.strip():
            raise ConfigError("init_text is empty: give a short instruction or use init='zero'")
        for name in ("base", "data", "out"):
            if not str(getattr(self, name)).strip():
                raise ConfigError(f"{name} is required")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2)

    def save(self, path: Path | str) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuneConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown tune settings {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def load(cls, path: Path | str) -> TuneConfig:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read tune config {path}: {exc}") from exc
        return cls.from_dict(data)

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name -> help text (the CLI uses it for option help)."""
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}
