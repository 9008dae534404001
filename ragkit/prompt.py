"""The one prompt builder, shared by inference, adapter training and the LangChain chain.

Training examples must look exactly like inference prompts, or a tuned adapter learns a
format it never sees again; so both call `build_messages`, and the chain's default
`ChatPromptTemplate` (`chat_prompt`) renders the same two messages. Passages are numbered and
delimited, and any delimiter inside a passage is neutralised, so a document cannot close its
own passage and smuggle text in as if it were the system's:

    <passage id="1" source="hr/leave.md" page="2" title="Handbook" section="Leave > Carry-over">
    Up to 5 unused days may be carried into the next year.
    </passage>

`parse_passages` reads that block back (the chain's ragkit generators read their passages
from the prompt they are given, as a chat model does).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.types import Hit

# Bump when the layout below changes: saved adapters record it. v2: a passage shows its
# document's title when the source path and the first heading do not already say it.
PROMPT_VERSION = "v2"
USER_TEMPLATE = "Passages:\n\n{passages}\n\nQuestion: {question}"
NO_PASSAGES = "(no passages were found)"
_CLOSE = "</passage>"
_INVISIBLE = "[\u00ad\u200b-\u200f\u2060\ufeff]*"  # soft hyphen, zero-width characters
# A less-than sign (also full-width or small), then "/" and spaces, then p-a-s-s-a-g-e with
# invisible characters allowed between the letters; any case.
_DELIMITER = re.compile(
    "[<\uff1c\ufe64][\\s/" + _INVISIBLE[1:] + _INVISIBLE.join("passage"), re.IGNORECASE
)
_BLOCK = re.compile(
    r'<passage id="(?P<id>\d+)" source="(?P<source>[^"]*)"(?: page="(?P<page>\d+)")?'
    r'(?: title="(?P<title>[^"]*)")? section="(?P<section>[^"]*)">\n(?P<body>.*?)\n</passage>',
    re.DOTALL,
)


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
    """The hits as numbered `<passage>` blocks (1-based, in order), blank-line separated."""
    if not hits:
        return NO_PASSAGES
    blocks = []
    for number, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        pages = f"{chunk.page}-{chunk.page_end}" if chunk.page_end else f"{chunk.page}"
        page = f' page="{pages}"' if chunk.page else ""
        where = f'source="{_attr(chunk.source)}"{page}'
        if _title_adds(chunk):
            where += f' title="{_attr(chunk.title)}"'
        body = neutralise_delimiters(chunk.text)
        blocks.append(
            f'<passage id="{number}" {where} section="{_attr(chunk.section)}">\n{body}\n{_CLOSE}'
        )
    return "\n\n".join(blocks)


def parse_passages(text: str) -> list[Hit]:
    """The `<passage>` blocks of a rendered prompt as hits, in prompt order (rank = position).

    The inverse of `format_passages` for what the prompt shows: text, source, title (shown
    only when it is neither the source nor the first heading; else taken from them), section
    path and page, so `Chunk.context` comes back as it was. Scores are not in the prompt: each
    hit gets 1/rank, so the order is kept.
    A passage whose text held a delimiter comes back with it neutralised ("< passage").
    """
    hits = []
    for rank, match in enumerate(_BLOCK.finditer(text), start=1):
        section = match["section"]
        headings = tuple(section.split(" > ")) if section else ()
        body = match["body"]
        title = match["title"] or (headings[0] if headings else match["source"])
        chunk = Chunk(
            chunk_id=chunk_id_for(match["source"], body),
            source=match["source"],
            title=title,
            text=body,
            start=0,
            end=len(body),
            page=int(match["page"]) if match["page"] else None,
            headings=headings,
            doc_hash="",
        )
        hits.append(Hit(chunk, 1.0 / rank, rank))
    return hits


def build_user_message(question: str, hits: Sequence[Hit]) -> str:
    return USER_TEMPLATE.format(passages=format_passages(hits), question=question.strip())


def build_messages(
    question: str, hits: Sequence[Hit], system_prompt: str | None = None
) -> list[tuple[str, str]]:
    """(role, content) pairs: the form chat templates and LangChain chat models both take."""
    system = system_prompt if system_prompt is not None else default_system_prompt()
    return [("system", system), ("user", build_user_message(question, hits))]


def chat_prompt(system_prompt: str | None = None) -> Any:
    """A LangChain `ChatPromptTemplate` over {passages} and {question} rendering exactly what
    `build_messages` builds; the system prompt is a fixed message (braces in it are literal)."""
    from langchain_core.messages import SystemMessage
    from langchain_core.prompts import ChatPromptTemplate

    system = system_prompt if system_prompt is not None else default_system_prompt()
    return ChatPromptTemplate.from_messages([SystemMessage(system), ("human", USER_TEMPLATE)])


def _title_adds(chunk: Chunk) -> bool:
    """Whether the title says more than the source path and the first heading already do."""
    first = chunk.headings[0] if chunk.headings else None
    return bool(chunk.title) and chunk.title not in (chunk.source, first)


def neutralise_delimiters(text: str) -> str:
    """`text` with every passage tag made inert: "</PASSAGE >", "< passage", "＜/passage" ...

    Matched case-insensitively, across spaces, zero-width characters and the full-width and
    small less-than signs; the "<" becomes "‹" (U+2039), so the tag reads as text to a model
    as well as to `parse_passages`.
    """
    return _DELIMITER.sub(lambda m: "‹" + m.group(0)[1:], text)


def _attr(value: str) -> str:
    return neutralise_delimiters(value.replace('"', "'").replace("\n", " "))
