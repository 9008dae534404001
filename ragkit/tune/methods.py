"""The adaptation ladder: what each `ragkit tune --method` trains, from cheapest to dearest.

    prompt     soft prompt tuning (Lester et al. 2021): P trainable input embeddings, started
               as the embeddings of the system prompt's first P tokens (peft PromptTuningConfig,
               init TEXT)
    p-tuning   P-tuning (Liu et al. 2021): P virtual tokens produced by a small MLP encoder
               (peft PromptEncoderConfig); saved as the encoder's output, so inference needs
               no encoder
    prefix     prefix tuning (Li & Liang 2021): P keys and values in every layer (peft
               PrefixTuningConfig), started from the KV cache of a short instruction
               (`ragkit.tune.adapter.new_prefix_model`)
    lora       LoRA (Hu et al. 2021): rank-r updates of every linear layer (peft LoraConfig,
               target "all-linear")
    full       plain fine-tuning of every weight; the adapter folder holds a whole model

Every method freezes what it does not train, saves to an adapter folder with the same
metadata and base-model guard, and reloads for inference with `load_adapter`.
"""

from __future__ import annotations

from typing import Any

from ragkit.errors import ConfigError

METHODS = ("prompt", "p-tuning", "prefix", "lora", "full")
PROMPT_LEARNING = ("prompt", "p-tuning", "prefix")
PEFT_TYPES = {
    "prompt": "PROMPT_TUNING",
    "p-tuning": "P_TUNING",
    "prefix": "PREFIX_TUNING",
    "lora": "LORA",
}
# Learning rates that moved the answer loss within ~100 steps on SmolLM2-135M; each method's
# parameters live on a different scale (embeddings, KV activations, low-rank deltas, weights).
DEFAULT_LR = {"prompt": 3e-2, "p-tuning": 1e-3, "prefix": 1e-2, "lora": 1e-3, "full": 3e-5}
LORA_RANK = 8
P_TUNING_HIDDEN = 128


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ConfigError(f"unknown tuning method {method!r}: use one of {', '.join(METHODS)}")
    return method


def new_trainable(
    base: Any,
    method: str,
    *,
    virtual_tokens: int,
    tokenizer: Any,
    system_prompt: str,
    init: str = "text",
    init_text: str = "",
    source: str | None = None,
) -> Any:
    """`base` made trainable for `method` (a peft model, or `base` itself for "full").

    `source`: the folder the base was loaded from; peft's text initialisation of a soft prompt
    loads its tokenizer from there.
    """
    from peft import (
        LoraConfig,
        PromptEncoderConfig,
        PromptTuningConfig,
        PromptTuningInit,
        get_peft_model,
    )

    from ragkit.tune.adapter import new_prefix_model

    check_method(method)
    if method == "prefix":
        return new_prefix_model(
            base, virtual_tokens, init=init, tokenizer=tokenizer, init_text=init_text
        )
    if method == "full":
        for parameter in base.parameters():
            parameter.requires_grad_(True)
        return base
    if method == "lora":
        config: Any = LoraConfig(
            task_type="CAUSAL_LM",
            r=LORA_RANK,
            lora_alpha=2 * LORA_RANK,
            lora_dropout=0.0,
            target_modules="all-linear",
        )
    elif method == "prompt":
        text_init = init == "text" and source is not None
        config = PromptTuningConfig(
            task_type="CAUSAL_LM",
            num_virtual_tokens=virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if text_init else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=system_prompt if text_init else None,
            tokenizer_name_or_path=source if text_init else None,
        )
    else:
        config = PromptEncoderConfig(
            task_type="CAUSAL_LM",
            num_virtual_tokens=virtual_tokens,
            encoder_hidden_size=P_TUNING_HIDDEN,
        )
    return get_peft_model(base, config)


def trainable_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def snapshot(model: Any) -> dict[str, Any]:
    """Copies of the trainable tensors (the state early stopping may return to)."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def restore(model: Any, state: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in state:
                parameter.copy_(state[name])
