"""A BERT sentence encoder in plain numpy, and the same forward pass over torch tensors.

all-MiniLM-L6-v2 and most sentence-transformers models are a `BertModel` followed by mean
pooling and L2 normalisation. That forward pass is short enough to write out:

    x = LayerNorm(word[ids] + position[0:T] + token_type[0])        # (B, T, H)
    per layer:
        q, k, v = split(x @ W_qkv + b_qkv), one (B, heads, T, H/heads) each
        x = LayerNorm(x + softmax(q k^T / sqrt(d) + mask) v @ W_o + b_o)
        x = LayerNorm(x + gelu(x @ W_in + b_in) @ W_out + b_out)
    vector = normalise(mean of x over the real (unpadded) tokens)   # (B, H)

Why write it rather than call sentence-transformers: importing torch, transformers and
sentence-transformers takes seconds, while one question needs a few milliseconds of
arithmetic. `NumpyOps` runs it with numpy alone (weights memory-mapped from
`model.safetensors`, no torch import), for questions and small batches. `TorchOps` runs the
identical code over torch tensors (bfloat16 on CPUs with native support, fp16 on CUDA), for
bulk document encoding without importing transformers. Both agree with sentence-transformers
in fp32 to a cosine above 0.99999 (tests/test_embedding.py).

`BertSpec.from_folder` returns None for any model this code does not cover (another
architecture, relative positions, another activation or pooling); callers then fall back
to sentence-transformers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_POOLING = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
_ST_MODULES = {"Transformer", "Pooling", "Normalize"}  # sentence_transformers.<...>.<name>


@dataclass(frozen=True)
class BertSpec:
    """What the forward pass needs to know about a model folder."""

    folder: Path
    hidden: int
    heads: int
    layers: int
    eps: float
    max_tokens: int  # sentence-transformers' max_seq_length: longer input is truncated
    pooling: str  # "mean" or "cls"

    @classmethod
    def from_folder(cls, folder: Path) -> BertSpec | None:
        """The spec of a BERT sentence encoder this module can run, else None."""
        try:
            config = json.loads((folder / "config.json").read_text())
            if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
                return None
            if config.get("position_embedding_type", "absolute") != "absolute":
                return None
            if not (folder / "model.safetensors").exists():
                return None
            if not (folder / "tokenizer.json").exists():
                return None
            modules = json.loads((folder / "modules.json").read_text())
            kinds = {m["type"]: m["type"].rsplit(".", 1)[-1] for m in modules}
            if any(not t.startswith("sentence_transformers.") for t in kinds):
                return None
            if set(kinds.values()) - _ST_MODULES:
                return None
            pooling_dir = next(m["path"] for m in modules if kinds[m["type"]] == "Pooling")
            pooling = json.loads((folder / pooling_dir / "config.json").read_text())
            modes = [name for key, name in _POOLING.items() if pooling.get(key)]
            others = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
            if len(modes) != 1 or len(others) != 1:
                return None
            st_config = json.loads((folder / "sentence_bert_config.json").read_text())
            if st_config.get("do_lower_case"):  # sentence-transformers lower-cases the text first
                return None
        except (OSError, ValueError, KeyError, StopIteration):
            return None
        return cls(
            folder=folder,
            hidden=int(config["hidden_size"]),
            heads=int(config["num_attention_heads"]),
            layers=int(config["num_hidden_layers"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
            max_tokens=min(
                int(st_config["max_seq_length"]), int(config["max_position_embeddings"])
            ),
            pooling=modes[0],
        )


def safetensors_header(path: Path) -> tuple[dict, int]:
    """A .safetensors file's JSON header and its length in bytes (the data starts at 8 + it)."""
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        return json.loads(handle.read(size)), size


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file, memory-mapped read-only (nothing is copied).

    The format is an 8-byte little-endian header length, a JSON header
    `{name: {dtype, shape, data_offsets}}`, then the raw little-endian data.
    """
    dtypes = {
        **{"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"},
        **{"I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"},
    }
    header, size = safetensors_header(path)
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = data[begin:end].view(dtypes[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name.removeprefix("bert.")] = array
    return tensors


# --- the operations, once in numpy and once in torch ---------------------------------------


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26), below float32 resolution here."""
    a = np.abs(x)
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    poly = np.float32(1.061405429) * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    a *= a
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


class NumpyOps:
    """float32 numpy over the memory-mapped weights as stored: nothing is copied or converted."""

    name = "numpy-fp32"

    def weight(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array, dtype=np.float32)  # linear weights stay (out, in), as in torch

    def concat(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(arrays)

    def pack(self, w: np.ndarray) -> np.ndarray:
        return w

    def asarray(self, array: np.ndarray) -> np.ndarray:
        return array

    def zeros(self, rows: int, columns: int, like: np.ndarray) -> np.ndarray:
        return np.zeros((rows, columns), dtype=like.dtype)

    def linear(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = x @ w.T  # (N, in) @ (in, out): one BLAS call; w.T is a flag to it, not a copy
        out += b
        return out

    def layer_norm(self, x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(-1, keepdims=True)
        return centred / np.sqrt(var + eps) * g + b

    def gelu_(self, x: np.ndarray) -> np.ndarray:
        """GELU, overwriting x: x * (1 + erf(x / sqrt 2)) / 2."""
        y = _erf(x * np.float32(1.0 / math.sqrt(2.0)))
        y += 1.0
        y *= 0.5
        x *= y
        return x

    def attention(
        self, q: np.ndarray, k: np.ndarray, v: np.ndarray, keep: np.ndarray
    ) -> np.ndarray:
        # q, k, v: (B, heads, T, d) views; keep: (B, T) True for real tokens. Batched matmul
        # is only fast on contiguous operands, hence the copies.
        q = np.ascontiguousarray(q) * np.float32(1.0 / math.sqrt(q.shape[-1]))
        k_t = np.ascontiguousarray(k.swapaxes(-1, -2))  # (B, heads, d, T)
        scores = q @ k_t  # (B, heads, T, T)
        scores = np.where(keep[:, None, None, :], scores, np.float32(-1e30))
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        return (scores / scores.sum(-1, keepdims=True)) @ np.ascontiguousarray(v)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        return x


class TorchOps:
    """torch tensors in `dtype` on `device`; pooling and normalising stay float32 numpy."""

    def __init__(self, dtype: str = "float32", device: str = "cpu") -> None:
        import torch

        self.torch = torch
        self.F = torch.nn.functional
        self.dtype = getattr(torch, dtype)
        self.device = torch.device(device)
        short = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}[dtype]
        self.name = f"{'cuda' if self.device.type == 'cuda' else 'torch'}-{short}"
        cpu_bf16 = self.device.type == "cpu" and self.dtype == torch.bfloat16
        self.packed = cpu_bf16 and _packed_linear_works(torch)

    def weight(self, array: np.ndarray) -> Any:
        # torch.tensor copies: the memory-mapped arrays are read-only
        tensor = self.torch.tensor(np.asarray(array, dtype=np.float32))
        return tensor.to(device=self.device, dtype=self.dtype)

    def concat(self, arrays: Sequence[Any]) -> Any:
        return self.torch.cat(list(arrays))

    def pack(self, w: Any) -> Any:
        """A linear weight in oneDNN's blocked layout, reordered once rather than per call."""
        return self.torch.ops.mkldnn._reorder_linear_weight(w, 8192) if self.packed else w

    def asarray(self, array: np.ndarray) -> Any:
        return self.torch.from_numpy(array).to(self.device)

    def zeros(self, rows: int, columns: int, like: Any) -> Any:
        return like.new_zeros((rows, columns))

    def linear(self, x: Any, w: Any, b: Any) -> Any:
        if self.packed:
            return self.torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
        return self.F.linear(x, w, b)

    def layer_norm(self, x: Any, g: Any, b: Any, eps: float) -> Any:
        return self.F.layer_norm(x, (x.shape[-1],), g, b, eps)

    def gelu_(self, x: Any) -> Any:
        return self.torch.ops.aten.gelu_(x)  # F.gelu has no in-place form

    def attention(self, q: Any, k: Any, v: Any, keep: Any) -> Any:
        return self.F.scaled_dot_product_attention(q, k, v, attn_mask=keep[:, None, None, :])

    def numpy(self, x: Any) -> np.ndarray:
        return x.float().cpu().numpy()


def _packed_linear_works(torch: Any) -> bool:
    """Whether oneDNN's prepacked linear (what torch.compile uses on CPUs) is here and right.

    It is a private torch op, so it is checked against F.linear on a small product first; on
    any doubt the plain F.linear is used. It made bf16 encoding 9% faster here.
    """
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        x = torch.randn(4, 64).bfloat16()
        w, b = torch.randn(32, 64).bfloat16(), torch.randn(32).bfloat16()
        packed = torch.ops.mkldnn._reorder_linear_weight(w, 4)
        got = torch.ops.mkldnn._linear_pointwise(x, packed, b, "none", [], "")
        want = torch.nn.functional.linear(x, w, b)
        return bool(torch.allclose(got.float(), want.float(), rtol=2e-2, atol=2e-2))
    except (AttributeError, RuntimeError, TypeError):
        return False


# --- the encoder ---------------------------------------------------------------------------


class BertEncoder:
    """Token ids in, L2-normalised float32 sentence vectors out, with the given ops."""

    def __init__(
        self, spec: BertSpec, ops: Any = None, weights: dict[str, np.ndarray] | None = None
    ) -> None:
        """`weights`: the model's tensors by name (as `read_safetensors` gives them), for a
        model whose weights were changed after loading (a merged LoRA delta,
        `ragkit.reader.cross`); default: the folder's model.safetensors, memory-mapped."""
        self.spec = spec
        self.ops = ops or NumpyOps()
        raw = (
            weights if weights is not None else read_safetensors(spec.folder / "model.safetensors")
        )
        w = self.ops.weight
        self.word = w(raw["embeddings.word_embeddings.weight"])  # (vocab, H)
        self.position = w(raw["embeddings.position_embeddings.weight"])  # (max_pos, H)
        self.token_types = w(raw["embeddings.token_type_embeddings.weight"])  # (types, H)
        self.token_type = self.token_types[0]  # (H,): a single text is all type 0
        self.norm = (w(raw["embeddings.LayerNorm.weight"]), w(raw["embeddings.LayerNorm.bias"]))
        self.blocks = [self._block(raw, f"encoder.layer.{i}.") for i in range(spec.layers)]

    def _block(self, raw: dict[str, np.ndarray], prefix: str) -> dict[str, tuple[Any, Any]]:
        """One layer's weights: linear ones as (weight, bias), layer norms as (gain, bias)."""
        w, pack = self.ops.weight, self.ops.pack

        def linear(*names: str) -> tuple[Any, Any]:  # several: one stacked (sum out, in) product
            weights = [w(raw[f"{prefix}{n}.weight"]) for n in names]
            biases = [w(raw[f"{prefix}{n}.bias"]) for n in names]
            if len(names) == 1:  # no concatenation: numpy keeps the memory-mapped weight
                return pack(weights[0]), biases[0]
            return pack(self.ops.concat(weights)), self.ops.concat(biases)

        def norm(name: str) -> tuple[Any, Any]:
            return w(raw[f"{prefix}{name}.weight"]), w(raw[f"{prefix}{name}.bias"])

        qkv = [f"attention.self.{n}" for n in ("query", "key", "value")]
        return {
            "qkv": linear(*qkv),  # one (3H, H) product instead of three (H, H) ones
            "o": linear("attention.output.dense"),
            "norm1": norm("attention.output.LayerNorm"),
            "in": linear("intermediate.dense"),
            "out": linear("output.dense"),
            "norm2": norm("output.LayerNorm"),
        }

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """ids, mask: (B, T) int64, right-padded; returns (B, H) float32, unit length."""
        states = self.states(ids, mask)  # (B, T, H), zeros at padding
        if self.spec.pooling == "cls":
            pooled = states[:, 0]
        else:
            pooled = states.sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def states(
        self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None = None
    ) -> np.ndarray:
        """The last layer's token states, (B, T, H) float32, zeros at padding. ids, mask and
        `types` (segment ids of a text pair: 0 for the first text, 1 for the second; default
        all 0): (B, T) int64, right-padded.

        Padding never reaches the linear layers, which do most of the work: the N real tokens
        of the batch travel packed as one (N, H) matrix, and only attention, which needs the
        (B, T) layout, sees padded rows.
        """
        ops, spec = self.ops, self.spec
        batch, length = ids.shape
        heads, d = spec.heads, spec.hidden // spec.heads
        assert length <= self.position.shape[0], "sequence longer than the position table"
        real = np.flatnonzero(mask.reshape(-1))  # (N,) places of the real tokens in B*T
        rows = ops.asarray(real)
        keep = ops.asarray(mask.astype(bool))  # (B, T)
        tokens, positions = ops.asarray(ids.reshape(-1)[real]), ops.asarray(real % length)
        x = self.word[tokens] + self.position[positions]  # (N, H)
        if types is None:
            x += self.token_type
        else:
            x += self.token_types[ops.asarray(types.reshape(-1)[real])]
        x = ops.layer_norm(x, *self.norm, spec.eps)
        # no padding (one text, or texts of one length): the packed rows ARE the (B*T) layout,
        # so the scatter into a zeroed buffer and the gather back are skipped (same values)
        padded = len(real) != batch * length
        for block in self.blocks:
            if padded:
                qkv = ops.zeros(batch * length, 3 * spec.hidden, like=x)  # (B*T, 3H), padded
                qkv[rows] = ops.linear(x, *block["qkv"])
            else:
                qkv = ops.linear(x, *block["qkv"])  # (N, 3H) = (B*T, 3H)
            qkv = qkv.reshape(batch, length, 3, heads, d)
            q, k, v = (qkv[:, :, i].swapaxes(1, 2) for i in range(3))  # (B, heads, T, d) each
            context = ops.attention(q, k, v, keep).swapaxes(1, 2)  # (B, T, heads, d)
            context = context.reshape(batch * length, spec.hidden)  # (B*T, H)
            if padded:
                context = context[rows]  # (N, H), packed
            # In place where the left operand is a fresh temporary: fewer large allocations.
            update = ops.linear(context, *block["o"])
            update += x
            x = ops.layer_norm(update, *block["norm1"], spec.eps)
            hidden = ops.gelu_(ops.linear(x, *block["in"]))  # (N, 4H)
            update = ops.linear(hidden, *block["out"])
            update += x
            x = ops.layer_norm(update, *block["norm2"], spec.eps)
        states = np.zeros((batch * length, spec.hidden), dtype=np.float32)
        states[real] = ops.numpy(x)
        return states.reshape(batch, length, spec.hidden)  # (B, T, H), zeros at padding


def encode_batched(
    encoder: BertEncoder, rows: Sequence[Sequence[int]], *, max_batch: int, max_tokens: int = 4096
) -> np.ndarray:
    """Vectors for token-id rows, (N, H) in the rows' order; batches by `length_batches`."""
    out = np.empty((len(rows), encoder.spec.hidden), dtype=np.float32)
    for batch in length_batches([len(r) for r in rows], max_batch, max_tokens):
        ids, mask = pad([rows[i] for i in batch])  # (B, T) each
        out[batch] = encoder.encode(ids, mask)
    return out


def length_batches(lengths: Sequence[int], max_batch: int, max_tokens: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, longest first.

    A batch holds at most `max_batch` texts and at most `max_tokens` padded tokens, so short
    texts travel in large batches, long ones in small ones, and padding stays a few percent.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for index in order:
        width = lengths[batch[0]] if batch else lengths[index]  # the batch's longest
        if batch and (len(batch) >= max_batch or width * (len(batch) + 1) > max_tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


def pad(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ids and attention mask, (B, T) int64 each; T = the longest row."""
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return ids, mask
