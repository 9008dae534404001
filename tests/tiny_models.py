"""Tiny causal language models built from config, with tokenizers trained on the fly.

Nothing downloads: each family (GPT-2, Llama, Qwen2) gets a byte-level BPE tokenizer trained
in well under a second on a few hundred policy-like sentences, and a randomly initialised
model a few tens of thousands of parameters big. `save_tiny_model` writes both with
`save_pretrained` into a directory, so they load "by path" exactly like a user's model.

Chat templates: Qwen2 gets ChatML and Llama an [INST]-style template; GPT-2 gets none, so
the plain "System:/User:/Assistant:" fallback is covered too.
"""

from __future__ import annotations

import itertools
from pathlib import Path

FAMILIES = ("gpt2", "llama", "qwen2")

_SUBJECTS = [
    "Every full-time employee",
    "A part-time worker",
    "The line manager",
    "A new starter",
    "The finance team",
    "An employee on probation",
    "The IT service desk",
    "A contractor",
]
_VERBS = ["receives", "must request", "may carry over", "can claim", "should report", "approves"]
_OBJECTS = [
    "25 days of paid annual leave",
    "expenses within 30 days",
    "a laptop and a phone",
    "sick leave after 3 days",
    "up to 5 days of unused leave",
    "travel costs by train",
    "a password reset",
    "parental leave of 12 weeks",
]
_TAILS = ["per year.", "before 31 March.", "with a receipt.", "in writing.", "through the portal."]
_EXTRA = [
    "The documents I can search don't cover this.",
    "Answer briefly from the passages and cite them [1].",
    "Passages: Question: System: User: Assistant:",
    '<passage id="1" source="leave/annual-leave.md" section="Leave"> </passage>',
    "How many days of vacation does a full-time employee get each year?",
    "Is there paid leave for IVF or other fertility treatment?",
]

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
INST = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}<<SYS>>{{ m['content'] }}"
    "<</SYS>>\n{% elif m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)


def corpus_sentences() -> list[str]:
    """A few hundred short sentences in the domain of the sample corpus."""
    combos = itertools.product(_SUBJECTS, _VERBS, _OBJECTS, _TAILS)
    sentences = [" ".join(parts) for parts in itertools.islice(combos, 0, None, 7)]
    return sentences + _EXTRA * 5


def train_tokenizer(family: str, vocab_size: int = 400):
    """A byte-level BPE wrapped in PreTrainedTokenizerFast; any text round-trips."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = {
        "gpt2": {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
        "llama": {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"},
        "qwen2": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    }[family]
    extra = ["<|im_start|>"] if family == "qwen2" else []
    special_tokens = list(dict.fromkeys([*specials.values(), *extra]))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus_sentences(), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, **specials)
    if extra:
        wrapped.add_special_tokens({"additional_special_tokens": extra})
    if family == "qwen2":
        wrapped.chat_template = CHATML
    elif family == "llama":
        wrapped.chat_template = INST
    return wrapped


def tiny_config(family: str, tokenizer, *, hidden: int = 32, layers: int = 2, **overrides):
    """A config small enough to train in milliseconds per step on one CPU core."""
    from transformers import GPT2Config, LlamaConfig, Qwen2Config

    vocab = len(tokenizer)
    eos = tokenizer.eos_token_id
    if family == "gpt2":
        base = dict(n_embd=hidden, n_layer=layers, n_head=4, n_positions=1024, vocab_size=vocab)
        return GPT2Config(**{**base, "bos_token_id": eos, "eos_token_id": eos, **overrides})
    common = dict(
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention: the prefix has fewer KV heads
        vocab_size=vocab,
        max_position_embeddings=2048,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    if family == "llama":
        return LlamaConfig(**{**common, "bos_token_id": tokenizer.bos_token_id, **overrides})
    if family == "qwen2":
        return Qwen2Config(**{**common, **overrides})
    raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")


def build_tiny_model(family: str, *, seed: int = 0, **overrides):
    """(model, tokenizer): a randomly initialised causal LM of the given family."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = train_tokenizer(family)
    config = tiny_config(family, tokenizer, **overrides)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.eval()
    return model, tokenizer


def save_tiny_model(family: str, directory: Path | str, *, seed: int = 0, **overrides) -> Path:
    """Build a tiny model and save it (weights, config, tokenizer) like a downloaded one."""
    directory = Path(directory)
    model, tokenizer = build_tiny_model(family, seed=seed, **overrides)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
