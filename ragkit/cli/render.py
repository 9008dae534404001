"""Human-readable answers and hits, wrapped for an 80-column terminal."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from ragkit.types import Answer, Citation, Hit, page_label

WIDTH = 80


def _where(source: str, pages: str, section: str) -> str:
    parts = [source]
    if pages:
        parts.append(pages)
    if section:
        parts.append(section)
    return ", ".join(parts)


def citation_lines(number: int, citation: Citation) -> list[str]:
    also = "".join(f"; also {', '.join(filter(None, place))}" for place in citation.also)
    head = textwrap.wrap(
        f"[{number}] {_where(citation.source, citation.pages, citation.section)}{also}",
        WIDTH,
        subsequent_indent="    ",
    )
    quote = textwrap.wrap(
        f"“{citation.quote}”",
        WIDTH,
        initial_indent="    ",
        subsequent_indent="    ",
        max_lines=4,
        placeholder=" …”",
    )
    return head + quote


def render_answer(answer: Answer, *, show_text: bool = True) -> str:
    """The answer, then its numbered sources. An answer in the documents' own words is shown
    as a quote ("> " lines under "From the documents:"), never as if ragkit said it; a model's
    answer whose citations do not check out says so."""
    lines = answer_lines(answer) if show_text else []
    if answer.metadata.get("unverified") and not answer.abstained:
        lines += textwrap.wrap(
            f"(unverified: {answer.metadata['unverified']}; check the sources yourself)", WIDTH
        )
    if answer.citations:
        lines += ["", "Sources:"]
        for number, citation in answer.numbered_citations():
            lines += citation_lines(number, citation)
    return "\n".join(lines)


def answer_lines(answer: Answer) -> list[str]:
    if not answer.quoted:
        return textwrap.wrap(answer.text, WIDTH)
    lines = ["From the documents:"]
    for paragraph in answer.text.splitlines():
        wrapped = textwrap.wrap(paragraph, WIDTH, initial_indent="> ", subsequent_indent="> ")
        lines += wrapped or [">"]
    return lines


def render_hits(hits: Sequence[Hit]) -> str:
    if not hits:
        return "No passages found."
    lines: list[str] = []
    for hit in hits:
        chunk = hit.chunk
        also = f" (also in {', '.join(chunk.sources[1:])})" if len(chunk.sources) > 1 else ""
        pages = page_label(chunk.page, chunk.page_end, chunk.ocr_confidence)
        lines += textwrap.wrap(
            f"{hit.rank}. {_where(chunk.source, pages, chunk.section)}{also}  "
            f"(score {hit.score:.3f})",
            WIDTH,
            subsequent_indent="   ",
        )
        lines += textwrap.wrap(
            " ".join(chunk.text.split()),
            WIDTH,
            initial_indent="   ",
            subsequent_indent="   ",
            max_lines=3,
            placeholder=" …",
        )
    return "\n".join(lines)
