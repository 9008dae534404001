"""`--llm` values to generators: `extractive`, `hf:MODEL_OR_PATH`, `PROVIDER:MODEL`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragkit.errors import UsageError
from ragkit.prompt import load_system_prompt

LLM_HELP = (
    "extractive (default, offline), hf:MODEL_OR_PATH (a local transformers model), "
    "smollm2 (SmolLM2-135M-Instruct, pip install 'ragkit[smollm2]'), gguf:PATH (a GGUF file), "
    "or PROVIDER:MODEL for a LangChain chat model (e.g. openai:gpt-4o-mini, ollama:llama3.1)"
)


def load_generator(
    spec: str,
    *,
    embedder: Any = None,
    adapter: Path | str | None = None,
    system_prompt: Path | str | None = None,
) -> Any:
    """The generator for an `--llm` value. Cheap: model weights load on first use."""
    spec = (spec or "").strip()
    local = spec.startswith(("hf:", "gguf:")) or spec == "smollm2"
    if adapter is not None and not local:
        raise UsageError(f"--adapter needs --llm hf:BASE_MODEL, smollm2 or gguf:PATH, not '{spec}'")
    if spec == "extractive":
        from ragkit.generators.extractive import ExtractiveGenerator

        return ExtractiveGenerator(embedder=embedder)
    prompt = load_system_prompt(system_prompt)
    if spec.startswith("hf:") and len(spec) > 3:
        from ragkit.generators.hf import HFGenerator

        return HFGenerator(spec[3:], adapter=adapter, system_prompt=prompt)
    if spec == "smollm2" or (spec.startswith("gguf:") and len(spec) > 5):
        from ragkit.generators.gguf import gguf_file
        from ragkit.generators.hf import HFGenerator

        gguf_file(spec)  # fail now, not at the first question, when the file or package is missing
        return HFGenerator(spec, adapter=adapter, system_prompt=prompt)
    if ":" in spec and all(spec.partition(":")[::2]):
        from ragkit.generators.chat import ChatModelGenerator, init_chat

        return ChatModelGenerator(init_chat(spec), name=spec, system_prompt=prompt)
    raise UsageError(f"unknown --llm '{spec}': use {LLM_HELP}")
