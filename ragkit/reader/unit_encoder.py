"""The reader's unit encoder: the bundled all-MiniLM-L6-v2 with a LoRA adapter for question ->
answer-unit matching.

The trained reader's stage 2 reads the cosine of the question with each kept unit (under its
chunk's title and headings, "context\\nunit"; `ragkit.reader.features` "cosine",
"cosine_x_share"). The bundled model was trained to match questions with passages; a LoRA
adapter (rank `r` on every linear layer of the six blocks), trained by
`scripts/train_unit_encoder.py` on the reader's training questions and their retrieved
units, adapts it to pick the unit that holds the answer. Pooling and normalisation are the
base model's (mean of the last states, L2 norm), so a vector is still a sentence embedding.

It ships as `unit_encoder.safetensors` next to this module (the A and B matrices, about
1 MB, and metadata: script version, training-data SHA-256, base model, rank and alpha). At
load the delta `B @ A * alpha / r` is added once to a copy of the bundled model's weights;
the numpy forward pass (`ragkit.index.bert_numpy`) runs the merged model: no torch, peft or
transformers for a cold answer; a long-lived process runs the same weights in torch after
`UnitEncoder.warm_up`. Retrieval keeps the base embedder (the index is unchanged).

The adapter belongs to the bundled model: with any other embedding model `unit_encoder_for`
returns None and a reason, and the reader reads that embedder's own cosine with the selector
fitted on such cosines (`selector.json`, `ExtractiveGenerator.selector`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.index.bert_numpy import (
    BertEncoder,
    BertSpec,
    NumpyOps,
    encode_batched,
    read_safetensors,
)

# the linear layers that carry a LoRA delta: every one, as in the cross-encoder (peft's names,
# under encoder.layer.<i>.)
from ragkit.reader.cross import LORA_MODULES

ARTEFACT = Path(__file__).with_name("unit_encoder.safetensors")
BASE_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def merged_weights(base: Path, artefact: Path, spec: BertSpec) -> dict[str, np.ndarray]:
    """The base model's tensors with the artefact's LoRA deltas added (float32 copies of the
    changed weights; the others stay memory-mapped). Raises KeyError when the artefact lacks
    a layer's matrices, ValueError when a shape does not fit."""
    from ragkit.index.embedding import one_blas_thread
    from ragkit.reader.cross import safetensors_metadata

    metadata = safetensors_metadata(artefact)
    delta = read_safetensors(artefact)
    scale = np.float32(float(metadata["lora_alpha"]) / float(metadata["lora_r"]))
    weights: dict[str, np.ndarray] = dict(read_safetensors(base / "model.safetensors"))
    with one_blas_thread():  # 36 tiny products: waking BLAS threads costs more
        for layer in range(spec.layers):
            for module in LORA_MODULES:
                name = f"encoder.layer.{layer}.{module}"
                a = np.asarray(delta[f"{name}.lora_A"], dtype=np.float32)  # (r, in)
                b = np.asarray(delta[f"{name}.lora_B"], dtype=np.float32)  # (out, r)
                merged = b @ a
                merged *= scale
                if merged.shape != weights[f"{name}.weight"].shape:
                    raise ValueError(f"{artefact}: {name} does not fit {base}")
                merged += weights[f"{name}.weight"]
                weights[f"{name}.weight"] = merged
    return weights


class UnitEncoder:
    """texts -> (n, H) float32 unit-length vectors of the adapted encoder; the texts are
    tokenised and truncated as the base embedder does (`SentenceTransformerEmbedder`)."""

    def __init__(self, base: Path, artefact: Path = ARTEFACT, ops: Any = None) -> None:
        from ragkit.index.embedding import word_piece_tokenizer
        from ragkit.reader.cross import safetensors_metadata

        spec = BertSpec.from_folder(base)
        if spec is None:
            raise ValueError(f"{base} is not a BERT encoder the numpy forward pass can run")
        self.spec = spec
        self.metadata = safetensors_metadata(artefact)
        self.weights = merged_weights(base, artefact, spec)
        self.encoder = BertEncoder(spec, ops or NumpyOps(), self.weights)
        self.tokenizer = word_piece_tokenizer(base)
        self._torch: BertEncoder | None = None  # `warm_up`: the same weights in torch

    def warm_up(self, backend: Any = None) -> None:
        """Also build the torch forward pass of the merged weights, for a long-lived process,
        in `backend`'s device and dtype (the base embedder's `Backend`, so both follow
        $RAGKIT_EMBED_PRECISION; None: float32 on the CPU): a question and 3 units take about
        30 ms there (bfloat16 on a CPU that has it) against 90-100 ms in numpy on one busy
        core, as with the base embedder's bulk encoder. Without torch the numpy pass stays."""
        if self._torch is not None:
            return
        try:
            from ragkit.index.bert_numpy import TorchOps

            ops = TorchOps(*((backend.dtype, backend.device) if backend else ("float32", "cpu")))
            self._torch = BertEncoder(self.spec, ops, self.weights)
        except ImportError:
            return

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        limit = self.spec.max_tokens
        rows = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        return [ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:] for ids in rows]

    def embed(self, texts: Sequence[str], max_batch: int = 8) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.spec.hidden), dtype=np.float32)
        from ragkit.index.embedding import one_blas_thread

        rows = self.token_ids(texts)
        if self._torch is not None:
            import torch

            with torch.inference_mode():
                return encode_batched(self._torch, rows, max_batch=max_batch)
        with one_blas_thread():
            return encode_batched(self.encoder, rows, max_batch=max_batch)

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self.metadata)


@cache
def load_unit_encoder(artefact: Path = ARTEFACT) -> UnitEncoder:
    """The shipped unit encoder over the bundled model (built once per process). Raises
    FileNotFoundError when the artefact or the bundled model is absent."""
    from ragkit.index.embedding import DEFAULT_MODEL, resolve_model_path

    base = resolve_model_path(DEFAULT_MODEL)
    if base is None or not artefact.exists():
        raise FileNotFoundError(f"unit encoder artefact or bundled model missing ({artefact})")
    return UnitEncoder(base, artefact)


def unit_encoder_for(embedder: Any, artefact: Path | None = None) -> tuple[UnitEncoder | None, str]:
    """The unit encoder to read unit cosines with beside `embedder`, or None and why not: the
    adapter is trained on the bundled model, so another embedder keeps its own cosine."""
    model_id = getattr(embedder, "model_id", None)
    if model_id != BASE_MODEL_ID:
        return None, f"the unit encoder adapts {BASE_MODEL_ID}; the embedder is {model_id}"
    try:
        # the shipped artefact through the same cached call as everyone's (one merged copy)
        return (load_unit_encoder() if artefact is None else load_unit_encoder(artefact)), ""
    except (FileNotFoundError, ValueError, KeyError) as exc:
        return None, f"unit encoder unavailable: {exc}"
