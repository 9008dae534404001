"""The one prompt builder, shared by inference and adapter training.

Training examples must look exactly like inference prompts, or a tuned adapter learns a
format it never sees again; so both call `build_messages`. Passages are numbered and
delimited, and any delimiter inside a passage is neutralised, so a document cannot close its
own passage and smuggle text in as if it were the system's.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ragkit.errors import ConfigError
from ragkit.types import Hit

PROMPT_VERSION = "v1"  # bump when the layout below changes: saved adapters record it
_OPEN, _CLOSE = "<passage", "</passage>"


@lru_cache(maxsize=1)
def default_system_prompt() -> str:
    return resources.files("ragkit").joinpath("prompts/system.txt").read_text(encoding="utf-8")


def load_system_prompt(path: Path | str | None) -> str:
    if path is None:
        return default_system_prompt()
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read system prompt file {path}: {exc.strerror}") from exc
    if not text:
        raise ConfigError(f"system prompt file {path} is empty")
    return text


def format_passages(hits: Sequence[Hit]) -> str:
    if not hits:
        return "(no passages were found)"
    blocks = []
    for number, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        page = f' page="{chunk.page}"' if chunk.page else ""
        section = _attr(chunk.section)
        body = chunk.text.replace(_CLOSE, "</ passage>").replace(_OPEN, "< passage")
        blocks.append(
            f'<passage id="{number}" source="{_attr(chunk.source)}"{page} section="{section}">\n'
            f"{body}\n{_CLOSE}"
        )
    return "\n\n".join(blocks)


def build_user_message(question: str, hits: Sequence[Hit]) -> str:
    return f"Passages:\n\n{format_passages(hits)}\n\nQuestion: {question.strip()}"


def build_messages(
    question: str, hits: Sequence[Hit], system_prompt: str | None = None
) -> list[tuple[str, str]]:
    """(role, content) pairs: the form chat templates and LangChain chat models both take."""
    system = system_prompt if system_prompt is not None else default_system_prompt()
    return [("system", system), ("user", build_user_message(question, hits))]


def _attr(value: str) -> str:
    return value.replace('"', "'").replace("\n", " ")
