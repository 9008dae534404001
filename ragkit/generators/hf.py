"""A local Hugging Face causal LM as a Generator, optionally with a prefix-tuned adapter.

The prompt is `ragkit.prompt.build_messages` rendered with the tokenizer's chat template when
it has one, else a fixed plain layout ("System: ...\\n\\nUser: ...\\n\\nAssistant:"). Adapter
training renders examples with the same `render_prompt`, so a tuned prefix sees at inference
exactly the format it was trained on. Decoding is greedy; the generated text goes through
`answer_from_text`, which turns [n] markers into checkable citations and detects refusals.

Context budget (`context_budget`): a prefix of P virtual tokens occupies the first P
positions. Models with absolute position embeddings (GPT-2) therefore have n_positions - P
left for prompt and answer; models with sliding-window attention (Qwen2 with
use_sliding_window, Mistral) would stop attending to the prefix once the sequence outgrows the
window, so with an adapter the whole sequence is kept inside the window, where sliding and full
attention coincide. When the prompt does not fit, passages are cut (never the question), with
a warning; the model itself is never modified.

Weights load on first use (`warm_up`), offline (`local_files_only=True`) unless the user set
HF_HUB_OFFLINE=0.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError, MissingDependencyError, UsageError
from ragkit.generators.deprecations import silence_known_deprecations
from ragkit.generators.grounding import answer_from_text
from ragkit.prompt import build_messages
from ragkit.types import Answer, Hit

Messages = list[tuple[str, str]]


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "1") != "0"


def load_base(name_or_path: str, device: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode on `device`; pad token = eos when the tokenizer has none."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise MissingDependencyError("transformers", "the hf generator") from exc
    from ragkit.generators import gguf

    if gguf.is_gguf_spec(name_or_path):
        name_or_path = str(gguf.resolve(name_or_path))
    path = Path(name_or_path).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"model path {name_or_path} is a file: pass the model's directory "
            "(or gguf:PATH for a GGUF file)"
        )
    is_path = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if not path.is_dir() and (is_path or "\\" in name_or_path):
        raise ConfigError(
            f"model path {name_or_path} does not exist: pass a directory saved with "
            "save_pretrained, or a model id that is in the local Hugging Face cache"
        )
    source = str(path) if path.is_dir() else name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline())
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=offline())
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if path.is_dir():
            raise ConfigError(f"cannot load model from {path}: {reason}") from exc
        hint = "set HF_HUB_OFFLINE=0 to allow downloading" if offline() else reason
        raise ConfigError(
            f"cannot load model {name_or_path!r}: not a directory and not in the local "
            f"Hugging Face cache; pass a path to a saved model or {hint}"
        ) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tokenizer


def plain_prompt(messages: Messages) -> str:
    parts = [f"{role.capitalize()}: {content}" for role, content in messages]
    return "\n\n".join([*parts, "Assistant:"])


def render_prompt(tokenizer: Any, messages: Messages) -> str:
    """The prompt text: the chat template when the tokenizer has one, else `plain_prompt`."""
    if not getattr(tokenizer, "chat_template", None):
        return plain_prompt(messages)
    chat = [{"role": role, "content": content} for role, content in messages]
    try:
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    except Exception:  # templates without a system role (jinja raises): fold it into the user turn
        merged = "\n\n".join(content for _, content in messages)
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": merged}], tokenize=False, add_generation_prompt=True
        )


def sliding_window(config: Any) -> int | None:
    """The attention window when some layer of the model uses sliding-window attention."""
    window = getattr(config, "sliding_window", None)
    if not window or getattr(config, "use_sliding_window", True) is False:
        return None
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and "sliding_attention" not in layer_types:
        return None
    return int(window)


def context_budget(config: Any, virtual_tokens: int = 0) -> int | None:
    """Positions left for prompt plus answer after a prefix of `virtual_tokens`; None: no limit."""
    limits = [getattr(config, "max_position_embeddings", None) or 0]
    if virtual_tokens:
        limits.append(sliding_window(config) or 0)
    limits = [n for n in limits if n]
    return min(limits) - virtual_tokens if limits else None


def encode(tokenizer: Any, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def leading_special_ids(tokenizer: Any) -> list[int]:
    """What the tokenizer itself puts before a text (a BOS token, for Llama-style tokenizers)."""
    plain, full = encode(tokenizer, "x"), tokenizer("x")["input_ids"]
    extra = len(full) - len(plain)
    return list(full[:extra]) if extra > 0 and full[extra:][: len(plain)] == plain else []


@dataclass(frozen=True)
class FittedPrompt:
    ids: list[int]  # prompt token ids
    passages: int  # how many of the hits are shown (the first ones; numbering unchanged)
    cut: bool  # whether passages were shortened or dropped


MIN_PASSAGE_TOKENS = 24  # below this, the last-ranked passage is dropped rather than all cut


def fit_prompt(
    tokenizer: Any,
    question: str,
    hits: Sequence[Hit],
    system_prompt: str | None,
    budget: int | None,
) -> FittedPrompt:
    """Prompt ids within `budget`, never cutting the question.

    Passages are cut to a common length (the longest first), down to MIN_PASSAGE_TOKENS each;
    past that the last-ranked passage is dropped, so the numbers of the others do not change.
    """
    hits = list(hits)
    # A chat template writes its own BOS; the plain layout gets the one the tokenizer would add.
    lead = [] if getattr(tokenizer, "chat_template", None) else leading_special_ids(tokenizer)

    def render() -> list[int]:
        messages = build_messages(question, hits, system_prompt)
        return lead + encode(tokenizer, render_prompt(tokenizer, messages))

    ids, cut, rounds = render(), False, 0
    while budget is not None and len(ids) > budget:
        overflow, rounds = len(ids) - budget, rounds + 1
        texts = [encode(tokenizer, h.chunk.text) for h in hits]
        cap = _cap([len(t) for t in texts], overflow + 1)
        # (after 20 rounds re-tokenisation is fighting the cuts: drop passages instead)
        if cap is not None and rounds <= 20 and (cap >= MIN_PASSAGE_TOKENS or len(hits) == 1):
            for i, tokens in enumerate(texts):
                if len(tokens) > cap:
                    text = tokenizer.decode(tokens[:cap]).rstrip("\ufffd")  # no half characters
                    hits[i] = replace(hits[i], chunk=replace(hits[i].chunk, text=text))
        elif hits:
            hits.pop()
        else:
            raise ConfigError(
                f"the prompt for {question[:60]!r} needs {len(ids)} tokens without any passage, "
                f"more than the {budget} this model allows: shorten the system prompt or the "
                "question, or use fewer virtual tokens or fewer new tokens"
            )
        ids, cut = render(), True
    return FittedPrompt(ids, len(hits), cut)


def _cap(lengths: list[int], remove: int) -> int | None:
    """The largest per-passage length that removes at least `remove` tokens; None: impossible."""
    if sum(lengths) < remove:
        return None
    low, high = 0, max(lengths)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(max(0, n - mid) for n in lengths) >= remove:
            low = mid
        else:
            high = mid - 1
    return low


def autocast(device_type: str, precision: str) -> Any:
    """A torch autocast context: bfloat16 compute for "bf16", a no-op for "fp32"."""
    import torch

    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=precision == "bf16")


def virtual_tokens(model: Any) -> int:
    """Positions a prompt-learning adapter (prompt, P-tuning, prefix) puts before the prompt."""
    config = getattr(model, "active_peft_config", None)
    return int(getattr(config, "num_virtual_tokens", None) or 0)


class HFGenerator:
    """Greedy generation with a local causal LM; `adapter`: a prefix trained by `ragkit tune`."""

    def __init__(
        self,
        model_name_or_path: str,
        *,
        adapter: str | Path | None = None,
        system_prompt: str | None = None,
        max_new_tokens: int = 200,
        device: str | None = None,
        precision: str = "fp32",
    ) -> None:
        if max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        self.model_name = str(model_name_or_path)
        gguf = self.model_name == "smollm2" or self.model_name.startswith("gguf:")
        self.name = self.model_name if gguf else f"hf:{self.model_name}"
        self.adapter = Path(adapter) if adapter is not None else None
        self.system_prompt = system_prompt
        self.max_new_tokens = max_new_tokens
        self.device = device
        if precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.precision = precision
        self.model: Any = None
        self.tokenizer: Any = None
        self.virtual_tokens = 0
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()  # peft patches the model during generate()

    def warm_up(self) -> None:
        with self._load_lock:
            if self.model is not None:
                return
            silence_known_deprecations()
            model, tokenizer = load_base(self.model_name, self.device)
            if self.adapter is not None:
                from ragkit.tune.adapter import load_adapter

                model = load_adapter(model, self.adapter, base_id=self.model_name)
                self.virtual_tokens = virtual_tokens(model)
            self.tokenizer, self.model = tokenizer, model

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        return self.generate_batch([question], [hits])[0]

    def generate_batch(
        self, questions: Sequence[str], hits_lists: Sequence[Sequence[Hit]]
    ) -> list[Answer]:
        """One left-padded batch; answers equal those of one-by-one `generate` calls."""
        if len(questions) != len(hits_lists):
            raise UsageError(f"{len(questions)} questions but {len(hits_lists)} hit lists")
        if not questions:
            return []
        import torch

        started = time.perf_counter()
        fitted = self._encode(questions, hits_lists)
        prompts = [f.ids for f in fitted]
        width = max(len(ids) for ids in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])  # (B, T)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        device = self.model.device
        with self._generate_lock, torch.inference_mode(), self._autocast():
            out = self.run_generate(
                input_ids.to(device), mask.to(device), generation_config=self._generation_config()
            )
        texts = self.tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
        seconds = round(time.perf_counter() - started, 3)
        return [
            self._answer(text, hits, f, seconds)
            for text, hits, f in zip(texts, hits_lists, fitted, strict=True)
        ]

    def run_generate(self, input_ids: Any, attention_mask: Any, **kwargs: Any) -> Any:
        """`generate` over (B, T) ids and mask; a prefix adapter's keys and values go in as the
        cache explicitly.

        peft's own generate path looks for a `past_key_values` argument that transformers 5
        no longer passes, so it silently generated without the prefix (found in the ladder
        run: two different prefixes gave identical answers). Here the prefix is the first P
        cache positions and the mask gets P leading ones, exactly as in training's forward.
        """
        import torch

        config = getattr(self.model, "active_peft_config", None)
        if str(getattr(config, "peft_type", "")).endswith("PREFIX_TUNING"):
            batch = input_ids.shape[0]
            cache = self.model.get_prompt(batch_size=batch)
            ones = torch.ones(batch, self.virtual_tokens, dtype=attention_mask.dtype)
            mask = torch.cat([ones.to(attention_mask.device), attention_mask], dim=1)
            return self.model.get_base_model().generate(
                input_ids=input_ids, attention_mask=mask, past_key_values=cache, **kwargs
            )
        return self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def _stream(self, question: str, hits: Sequence[Hit], info: dict[str, Any]) -> Iterator[str]:
        """Text pieces as they are generated (a TextIteratorStreamer fed by a thread)."""
        import torch
        from transformers import TextIteratorStreamer

        (info["fitted"],) = self._encode([question], [hits])
        ids = info["fitted"].ids
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._generate_lock, torch.inference_mode(), self._autocast():
                    self.run_generate(
                        torch.tensor([ids], device=self.model.device),
                        torch.ones(1, len(ids), dtype=torch.long, device=self.model.device),
                        generation_config=self._generation_config(),
                        streamer=streamer,
                    )
            except BaseException as exc:  # surfaced in the caller's thread below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, name="hf-stream", daemon=True)
        thread.start()
        yield from (piece for piece in streamer if piece)
        thread.join()
        if failure:
            raise failure[0]

    def stream_answer(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Text pieces as they are generated, then the grounded Answer (what the chain streams)."""
        started = time.perf_counter()
        pieces: list[str] = []
        info: dict[str, Any] = {}
        for piece in self._stream(question, hits, info):
            pieces.append(piece)
            yield piece
        yield self._answer("".join(pieces), hits, info["fitted"], time.perf_counter() - started)

    def _encode(
        self, questions: Sequence[str], hits_lists: Sequence[Sequence[Hit]]
    ) -> list[FittedPrompt]:
        """Each question's prompt, fitted to the model's context budget."""
        self.warm_up()
        budget = context_budget(self.model.config, self.virtual_tokens)
        if budget is not None:
            budget -= self.max_new_tokens
            if budget <= 0:
                raise ConfigError(
                    f"max_new_tokens={self.max_new_tokens} leaves no room for the prompt in "
                    f"{self.model_name} with {self.virtual_tokens} virtual tokens"
                )
        fitted = [
            fit_prompt(self.tokenizer, q, hits, self.system_prompt, budget)
            for q, hits in zip(questions, hits_lists, strict=True)
        ]
        if any(f.cut for f in fitted):
            warnings.warn(
                f"passages were cut to fit {self.model_name}'s context of {budget} prompt tokens",
                stacklevel=3,
            )
        return fitted

    def _autocast(self) -> Any:
        """bf16 matmuls when asked (4-5x faster on CPUs with AMX/AVX512-BF16); weights stay."""
        return autocast(self.model.device.type, self.precision)

    def _generation_config(self) -> Any:
        from transformers import GenerationConfig

        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in eos:
            eos.append(self.tokenizer.eos_token_id)
        return GenerationConfig(
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=eos,
            pad_token_id=self.tokenizer.pad_token_id,
        )

    def _answer(
        self, text: str, hits: Sequence[Hit], fitted: FittedPrompt, seconds: float
    ) -> Answer:
        """Grounded on the passages the model saw (markers to dropped ones are not trusted)."""
        extra = {
            "model": self.model_name,
            "adapter": str(self.adapter) if self.adapter is not None else None,
            "passages_cut": fitted.cut,
            "seconds": round(seconds, 3),
        }
        shown = list(hits)[: fitted.passages]
        answer = answer_from_text(text, shown, generator=self.name, extra=extra)
        return replace(answer, passages=tuple(hits))
