"""The assistant as a LangChain Runnable: `invoke`, `batch`, `stream`, and `|` composition.

    chain = ragkit.load_chain(".index")
    chain.invoke("How many days of annual leave do I get?")
    # {"answer": ..., "abstained": False, "citations": [...], "passages": [...]}

Input is a question string, or a dict with "question" and optionally "groups" and "k".
Output is the JSON shape of an answer (see `ragkit.types`). Streaming yields dict pieces that
add up to that output (LangChain's AddableDict): first {"passages": [...]}, then
{"answer": "<text piece>"} as it is generated, last {"abstained": ..., "citations": [...]}.

The "groups" input key decides what the asker may see: pass it from your own authentication,
never from unchecked end-user input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ragkit.assistant import Assistant
from ragkit.errors import UsageError
from ragkit.types import Answer


def load_chain(
    index_dir: Path | str,
    llm: str = "extractive",
    *,
    k: int = 5,
    groups: Sequence[str] = (),
    adapter: Path | str | None = None,
    system_prompt: Path | str | None = None,
) -> Any:
    """A Runnable over the index at `index_dir`; see the module docstring."""
    assistant = Assistant.from_index(
        index_dir, llm=llm, k=k, groups=groups, adapter=adapter, system_prompt=system_prompt
    )
    return as_runnable(assistant)


def as_runnable(assistant: Assistant) -> Any:
    from langchain_core.runnables import RunnableGenerator
    from langchain_core.runnables.utils import AddableDict

    def transform(inputs: Iterator[Any]) -> Iterator[AddableDict]:
        request = _last(inputs)
        question, options = _parse_input(request)
        for item in assistant.stream(question, **options):
            if isinstance(item, str):
                yield AddableDict(answer=item)
            elif isinstance(item, Answer):
                record = item.to_json()
                yield AddableDict(abstained=record["abstained"], citations=record["citations"])
            else:
                yield AddableDict(answer="", passages=[hit.to_json() for hit in item])

    return RunnableGenerator(transform).with_config(run_name="ragkit")


def _last(inputs: Iterator[Any]) -> Any:
    request = None
    for request in inputs:  # noqa: B007 - a streamed input arrives in pieces; the last is whole
        pass
    return request


def _parse_input(request: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(request, str):
        return request, {}
    if isinstance(request, dict):
        unknown = set(request) - {"question", "groups", "k"}
        if unknown or "question" not in request:
            raise UsageError(
                "chain input must be a question string or a dict with 'question' "
                f"(and optionally 'groups', 'k'); got keys {sorted(request)}"
            )
        options = {key: request[key] for key in ("groups", "k") if key in request}
        return request["question"], options
    raise UsageError(f"chain input must be a string or a dict, not {type(request).__name__}")
