"""Prefix adapters on disk: create, save, check and load.

An adapter directory holds peft's `adapter_config.json` and `adapter_model.safetensors`
(the prefix: one row of P keys and values for every layer) plus `ragkit_adapter.json`: the
base model's id or path, revision, config hash and weights fingerprint, the prompt version,
data hashes, training metrics and package versions.

A prefix only means something on the model it was trained on, so loading compares the base's
fingerprint with the recorded one: the config hash (architecture and sizes, volatile keys
dropped) and a weights fingerprint (the first embedding rows, cast to bfloat16 so loading in
another dtype does not change it), which tells apart a base model from its fine-tuned
sibling with the same config.

Initialisation (`new_prefix_model`). peft offers random or zero initialisation; random trains
badly and zero makes every layer attend to P zero keys and values, which dilutes attention
from the first step. "text" initialisation (the default) starts the prefix as the KV cache the
base model computes for a short instruction, repeated or cropped to P tokens: at step 0 the
adapter is exactly "that text was in front of the prompt", a sensible, in-distribution start
(tests check this equality). On the tiny test models, 16 steps at lr 0.1 lowered the answer
loss ten times more from text initialisation than from zeros (7.46 -> 7.00 against
7.44 -> 7.39): gradients through near-zero keys and values are small.

Resuming: peft cannot reload a saved prefix as trainable through `PeftModel.from_pretrained`,
so `load_adapter(..., trainable=True)` builds a fresh prefix model and copies the saved
prompt embeddings in (`PrefixEncoder.load_prompt_embeddings`); the prefix projection stays off
for that reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError
from ragkit.prompt import PROMPT_VERSION

METADATA_FILE = "ragkit_adapter.json"
CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
FULL_CONFIG_FILE = "config.json"  # method "full": a whole model, saved by save_pretrained
FULL_WEIGHTS_FILE = "model.safetensors"
_VOLATILE = {"transformers_version", "dtype", "torch_dtype", "use_cache", "return_dict"}
_VOLATILE |= {"output_attentions", "output_hidden_states", "pad_token_id", "architectures"}


def config_hash(config: Any) -> str:
    data = {
        k: v for k, v in config.to_dict().items() if k not in _VOLATILE and not k.startswith("_")
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def weights_fingerprint(model: Any) -> str:
    import torch

    rows = model.get_input_embeddings().weight[:16].detach().to("cpu", torch.bfloat16)
    return hashlib.sha256(rows.view(torch.int16).numpy().tobytes()).hexdigest()


def base_identity(model: Any, base_id: str | None = None) -> dict[str, Any]:
    config = model.config
    return {
        "base_model": base_id or getattr(config, "_name_or_path", ""),
        "base_revision": getattr(config, "_commit_hash", None),
        "base_model_type": getattr(config, "model_type", ""),
        "base_config_sha256": config_hash(config),
        "base_weights_sha256": weights_fingerprint(model),
    }


def package_versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    import ragkit

    return {
        "peft": peft.__version__,
        "ragkit": ragkit.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def training_metadata(
    base: Any,
    tokenizer: Any,
    config: Any,
    system_prompt: str,
    examples_hash: str,
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """What `ragkit_adapter.json` records about a training run (`config`: a TuneConfig)."""
    from ragkit.tune.data import file_sha256

    return {
        **base_identity(base, config.base),
        "format": 1,
        "prompt_version": PROMPT_VERSION,
        "prompt_format": "chat_template" if getattr(tokenizer, "chat_template", None) else "plain",
        "system_prompt_sha256": hashlib.sha256(system_prompt.encode()).hexdigest(),
        "method": config.method,
        "virtual_tokens": config.virtual_tokens,
        "init": "resume" if config.resume else config.init,
        "data_sha256": file_sha256(config.data),
        "dev_sha256": file_sha256(config.dev) if config.dev else None,
        "examples_sha256": examples_hash,
        "metrics": metrics,
        "tune_config": config.to_dict(),
        "versions": package_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def new_prefix_model(
    base: Any,
    virtual_tokens: int,
    *,
    init: str = "text",
    tokenizer: Any = None,
    init_text: str = "",
) -> Any:
    """A trainable peft prefix model around `base` (see the module docstring for `init`)."""
    from peft import PrefixTuningConfig, get_peft_model

    if any(getattr(m, "gradient_checkpointing", False) for m in base.modules()):
        raise ConfigError("prefix tuning does not work with gradient checkpointing: turn it off")
    config = PrefixTuningConfig(
        task_type="CAUSAL_LM", num_virtual_tokens=virtual_tokens, init_weights="zero"
    )
    model = get_peft_model(base, config)
    if init == "text":
        if tokenizer is None:
            raise ConfigError("init='text' needs the tokenizer")
        model.prompt_encoder["default"].load_prompt_embeddings(
            text_prefix(base, tokenizer, init_text, virtual_tokens)
        )
    return model


def text_prefix(base: Any, tokenizer: Any, text: str, virtual_tokens: int) -> Any:
    """The base model's KV cache for `text` (repeated/cropped to P tokens) as a prefix row block."""
    import torch

    ids: list[int] = []
    while len(ids) < virtual_tokens:
        ids += tokenizer(text.strip() + " ", add_special_tokens=False)["input_ids"] or [0]
    input_ids = torch.tensor([ids[:virtual_tokens]], device=base.device)  # (1, P)
    with torch.no_grad():
        cache = base(input_ids=input_ids, use_cache=True).past_key_values
    rows = []
    for layer in cache.layers:  # keys, values: (1, kv_heads, P, head_dim)
        for states in (layer.keys, layer.values):
            rows.append(states[0].permute(1, 0, 2).reshape(virtual_tokens, -1))  # (P, kv_heads*D)
    return torch.cat(rows, dim=1).float()  # (P, layers*2*kv_heads*D): peft's row layout


def save_adapter(model: Any, out_dir: Path | str, metadata: dict[str, Any]) -> Path:
    """peft's files (or a whole model for method "full") plus the metadata, written last."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / METADATA_FILE).unlink(missing_ok=True)  # a half-written folder must not pass as whole
    model.save_pretrained(str(out))
    tmp = out / f".{METADATA_FILE}.tmp"
    tmp.write_text(json.dumps(metadata, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / METADATA_FILE)
    return out


def adapter_method(metadata: dict[str, Any]) -> str:
    """The tuning method that made an adapter (folders from before the ladder are prefixes)."""
    return str(metadata.get("method", "prefix"))


def read_metadata(adapter_dir: Path | str) -> dict[str, Any]:
    """The adapter's metadata, after checking its files exist and parse."""
    from ragkit.tune.methods import METHODS, PEFT_TYPES, PROMPT_LEARNING

    root = Path(adapter_dir)
    if not root.is_dir():
        raise ConfigError(f"adapter directory {root} does not exist: train one with `ragkit tune`")
    if not (root / METADATA_FILE).is_file():
        raise ConfigError(f"adapter {root} is incomplete: {METADATA_FILE} is missing; retrain it")
    metadata = _read_json(root / METADATA_FILE)
    method = adapter_method(metadata)
    if method not in METHODS:
        raise ConfigError(f"adapter file {root / METADATA_FILE} names unknown method {method!r}")
    names = (
        (FULL_CONFIG_FILE, FULL_WEIGHTS_FILE) if method == "full" else (CONFIG_FILE, WEIGHTS_FILE)
    )
    for name in names:
        if not (root / name).is_file():
            raise ConfigError(f"adapter {root} is incomplete: {name} is missing; retrain it")
    if "base_config_sha256" not in metadata or (
        method in PROMPT_LEARNING and "virtual_tokens" not in metadata
    ):
        raise ConfigError(f"adapter file {root / METADATA_FILE} is corrupt (fields missing)")
    if method == "full":
        _tensor_names(root / FULL_WEIGHTS_FILE)
        return metadata
    config = _read_json(root / CONFIG_FILE)
    if config.get("peft_type") != PEFT_TYPES[method]:
        raise ConfigError(
            f"{root / CONFIG_FILE} is not a {method} adapter: {config.get('peft_type')}"
        )
    if method in PROMPT_LEARNING:
        prompt_embeddings(root)  # the weights file must be readable too
    else:
        _tensor_names(root / WEIGHTS_FILE)
    return metadata


def _tensor_names(path: Path) -> list[str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return list(handle.keys())
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConfigError(f"adapter file {path} is corrupt ({exc}); retrain the adapter") from exc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"adapter file {path} is corrupt ({exc}); retrain the adapter") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"adapter file {path} is corrupt (not a JSON object)")
    return data


def prompt_embeddings(adapter_dir: Path) -> Any:
    from safetensors import SafetensorError, safe_open

    path = adapter_dir / WEIGHTS_FILE
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.get_tensor("prompt_embeddings")
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise ConfigError(f"adapter file {path} is corrupt ({exc}); retrain the adapter") from exc


def check_base(metadata: dict[str, Any], base: Any, adapter_dir: Path, base_id: str | None) -> None:
    found = base_identity(base, base_id)
    keys = ("base_config_sha256", "base_weights_sha256")
    if any(metadata.get(k) != found[k] for k in keys):
        raise ConfigError(
            f"adapter {adapter_dir} was trained on base {metadata.get('base_model')} (config hash "
            f"{str(metadata.get('base_config_sha256'))[:12]}, weights "
            f"{str(metadata.get('base_weights_sha256'))[:12]}), not {found['base_model']} "
            f"(config hash {found['base_config_sha256'][:12]}, weights "
            f"{found['base_weights_sha256'][:12]}): use that base or retrain the adapter on it"
        )
    if metadata.get("prompt_version") != PROMPT_VERSION:
        warnings.warn(
            f"adapter {adapter_dir} was trained on prompt version "
            f"{metadata.get('prompt_version')}, ragkit now builds {PROMPT_VERSION}: answers may "
            "degrade; retrain the adapter",
            stacklevel=3,
        )


def load_adapter(
    base: Any, adapter_dir: Path | str, *, base_id: str | None = None, trainable: bool = False
) -> Any:
    """`base` wrapped with the saved adapter after checking files and base; eval mode by default.

    For method "full" the saved model replaces `base` (which is still checked first, so a
    fine-tuned model is only used where its base was asked for).
    """
    root = Path(adapter_dir)
    metadata = read_metadata(root)
    check_base(metadata, base, root, base_id)
    method = adapter_method(metadata)
    if method == "full":
        from transformers import AutoModelForCausalLM

        try:
            model = AutoModelForCausalLM.from_pretrained(str(root), dtype=base.dtype)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load fine-tuned model {root}: {exc}") from exc
        model = model.to(base.device)
        return model.train() if trainable else model.eval()
    if trainable and method == "prefix":
        weights = prompt_embeddings(root)
        model = new_prefix_model(base, int(metadata["virtual_tokens"]), init="zero")
        try:
            model.prompt_encoder["default"].load_prompt_embeddings(weights)
        except ValueError as exc:
            raise ConfigError(
                f"adapter {root / WEIGHTS_FILE} does not fit this model: {exc}"
            ) from exc
        return model
    from peft import PeftModel

    try:
        model = PeftModel.from_pretrained(base, str(root), is_trainable=trainable)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ConfigError(f"cannot load adapter {root}: {exc}") from exc
    return model if trainable else model.eval()
