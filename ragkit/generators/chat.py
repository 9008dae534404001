"""`PROVIDER:MODEL`: any chat model LangChain's `init_chat_model` knows, as a generator."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ragkit.errors import ConfigError, MissingDependencyError
from ragkit.generators.grounding import answer_from_text
from ragkit.prompt import build_messages
from ragkit.types import REFUSAL, Answer, Hit

# Integration packages for the providers people ask for most; others follow langchain's naming.
_PROVIDER_PACKAGES = {
    "openai": "langchain-openai",
    "azure_openai": "langchain-openai",
    "anthropic": "langchain-anthropic",
    "ollama": "langchain-ollama",
    "google_genai": "langchain-google-genai",
    "mistralai": "langchain-mistralai",
    "groq": "langchain-groq",
    "huggingface": "langchain-huggingface",
    "bedrock": "langchain-aws",
}


def init_chat(spec: str) -> Any:
    """A LangChain chat model for "provider:model", or a one-line error naming what to install."""
    provider, _, model = spec.partition(":")
    if not provider or not model:
        raise ConfigError(f"bad --llm '{spec}': use PROVIDER:MODEL, e.g. openai:gpt-4o-mini")
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - langchain is a dependency
        raise MissingDependencyError("langchain", "Chat models") from exc
    package = _PROVIDER_PACKAGES.get(provider, f"langchain-{provider.replace('_', '-')}")
    try:
        return init_chat_model(model, model_provider=provider, temperature=0)
    except (ImportError, AttributeError) as exc:
        # AttributeError: without its integration package langchain falls back to a
        # langchain_community class that no longer exists (ollama: ChatOllama).
        raise MissingDependencyError(package, f"--llm {spec}") from exc
    except Exception as exc:  # noqa: BLE001 - provider clients fail on construction
        # e.g. openai without OPENAI_API_KEY; ValueError for an unknown provider.
        first = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"--llm {spec}: {first[:200]}") from exc


class ChatModelGenerator:
    """Prompts a chat model with the shared prompt and grounds its answer's [n] citations."""

    def __init__(self, model: Any, *, name: str = "chat", system_prompt: str | None = None) -> None:
        self.model = model
        self.name = name
        self.system_prompt = system_prompt

    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        if not hits:
            return Answer(REFUSAL, True, (), (), {"generator": self.name})
        reply = self.model.invoke(build_messages(question, hits, self.system_prompt))
        return answer_from_text(_text(reply.content), hits, generator=self.name)

    def stream_answer(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Answer]:
        """Text pieces as the model produces them, then the grounded Answer."""
        if not hits:
            yield REFUSAL
            yield Answer(REFUSAL, True, (), (), {"generator": self.name})
            return
        pieces: list[str] = []
        for chunk in self.model.stream(build_messages(question, hits, self.system_prompt)):
            piece = _text(chunk.content)
            if piece:
                pieces.append(piece)
                yield piece
        yield answer_from_text("".join(pieces), hits, generator=self.name)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    # Some providers return a list of content blocks.
    return "".join(
        block.get("text", "") if isinstance(block, dict) else str(block) for block in content
    )
