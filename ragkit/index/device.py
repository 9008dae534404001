"""Where and in what precision document embeddings are computed, decided without torch.

    choose_backend("auto") -> Backend("cuda", "bfloat16")   an Ampere or newer GPU
                              Backend("cuda", "float16")    an older GPU
                              Backend("cpu", "bfloat16")    a CPU with avx512_bf16 or amx_bf16
                              Backend("cpu", "float32")     any other CPU

bfloat16 halves the bytes moved and doubles the multiply rate on CPUs that implement it
natively; elsewhere torch emulates it and it is slower than float32, so it is only chosen
where /proc/cpuinfo lists the instructions. Embeddings agree with float32 to a cosine of
0.9999 (tests/test_embedding.py), and retrieval quality is unchanged
(tests/bench/bench_embedding.py).

The decision feeds the index fingerprint, which every ingest computes, including an
unchanged re-ingest that must not pay for `import torch`. So CUDA is first ruled out
cheaply (a CPU-only torch build, or no NVIDIA driver) and torch is imported only on a
machine that may really have a GPU.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ragkit.errors import ConfigError

PRECISIONS = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@dataclass(frozen=True)
class Backend:
    device: str  # "cpu", "cuda" or "cuda:N"
    dtype: str  # a torch dtype name: "float32", "bfloat16" or "float16"

    @property
    def name(self) -> str:
        """The index fingerprint's `backend`: the precision, not the device (see embedding.py)."""
        short = {v: k for k, v in PRECISIONS.items()}[self.dtype]
        return f"torch-{short}"


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo; empty where there is none (macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return frozenset(match.group(1).split()) if match else frozenset()


def cpu_has_bf16() -> bool:
    return bool(cpu_flags() & BF16_FLAGS)


def cuda_possible() -> bool:
    """False when CUDA is certainly absent, decided without importing torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    version = Path(spec.origin).parent / "version.py"
    try:
        if re.search(r"^cuda\b.*=\s*None\s*$", version.read_text(), re.MULTILINE):
            return False  # a CPU-only build such as 2.13.0+cpu
    except OSError:
        pass
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidiactl").exists()


@cache
def cuda_available() -> bool:
    if not cuda_possible():
        return False
    import torch

    return bool(torch.cuda.is_available())


def _cuda_dtype(device: str) -> str:
    import torch

    major, _ = torch.cuda.get_device_capability(torch.device(device))
    return "bfloat16" if major >= 8 else "float16"  # bf16 tensor cores arrived with Ampere


def choose_backend(precision: str = "auto", device: str | None = None) -> Backend:
    """The device and dtype for `--precision`/`device` values; see the module docstring."""
    if precision != "auto" and precision not in PRECISIONS:
        raise ConfigError(f"embedding precision '{precision}': use auto, {', '.join(PRECISIONS)}")
    if device is None:
        device = "cuda" if cuda_available() else "cpu"
    elif device.startswith("cuda") and not cuda_available():
        raise ConfigError(f"device '{device}' was asked for but CUDA is not available here")
    elif device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"device '{device}': use cpu, cuda or cuda:N")
    if precision != "auto":
        if device == "cpu" and precision == "fp16":
            raise ConfigError("fp16 on a CPU is emulated and slow: use bf16 or fp32")
        return Backend(device, PRECISIONS[precision])
    if device == "cpu":
        return Backend("cpu", "bfloat16" if cpu_has_bf16() else "float32")
    return Backend(device, _cuda_dtype(device))
