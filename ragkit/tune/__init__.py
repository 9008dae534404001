"""Prefix-tuned generator adapters: train, save, load and check them (peft prefix tuning).

`train_adapter(TuneConfig(...), retrieve=...)` trains one; `load_adapter(base, dir)` wraps a
base model with it after checking the base matches. Importing this package is cheap: torch,
transformers and peft load inside the functions that need them.
"""

from __future__ import annotations

from ragkit.tune.adapter import load_adapter, read_metadata, save_adapter
from ragkit.tune.config import TuneConfig
from ragkit.tune.train import TuneResult, train_adapter

__all__ = [
    "TuneConfig",
    "TuneResult",
    "load_adapter",
    "read_metadata",
    "save_adapter",
    "train_adapter",
]
