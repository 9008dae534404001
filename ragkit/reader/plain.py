"""Markdown syntax noise out of quoted text: what a reader sees is the words, not the markup.

Answers and citation quotes are spans of chunk text, and Markdown sources keep their emphasis
(`**gross misconduct**`, `_only_`), inline code ticks and links in it. `plain` removes that
markup and nothing else, so a quote still reads as the page does. Deleting characters of a
fixed class keeps substrings substrings (a quote of a chunk, made plain, is inside the chunk
made plain), which is how `ragkit.eval.metrics.citation_valid` checks a plain quote.
"""

from __future__ import annotations

import re

_LINK = re.compile(r"!?\[([^\]\n]*)\]\((?:[^()\s]+)(?:\s+\"[^\"]*\")?\)")
_EMPHASIS_UNDERSCORE = re.compile(r"(?<![\w\\])_{1,3}(?=\S)|(?<=\S)_{1,3}(?![\w])")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def plain(text: str) -> str:
    """`text` without Markdown emphasis (`*`, `**`, `_x_`), code ticks, link targets or `<br>`.

    "**Gross misconduct** is [defined here](x.md)" -> "Gross misconduct is defined here".
    Table pipes and list bullets are kept: they are structure, handled by the answer layout.
    """
    text = _LINK.sub(r"\1", text)
    text = _HTML_BREAK.sub(" ", text)
    text = text.replace("*", "").replace("`", "")
    return _EMPHASIS_UNDERSCORE.sub("", text)
