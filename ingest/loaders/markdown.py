"""Markdown: YAML front matter, then markdown-it-py's CommonMark parse (plus GFM tables and
strikethrough) turned into headings and blocks.

Token kinds map to parts: headings (ATX and setext); fenced and indented code, kept verbatim
(a `#` inside is not a heading); pipe tables, rebuilt as `| a | b |` rows whose header is the
header row plus the alignment row; a top-level list, nested items and continuation lines
included, as one block ("- item", nested items indented two spaces a level); raw HTML blocks,
converted by the HTML loader's walker; paragraphs (block quotes give their paragraphs). Inline
markup is reduced to its text: link and image text, no emphasis markers, no inline tags,
entities and backslash escapes resolved by the parser.

Before parsing, Liquid/Jinja tags (`{% ... %}`, `{{ ... }}`: the 18F handbook is a Jekyll
site) and HTML comments are removed everywhere except inside code, whose lines the parser
itself locates. A page with nothing but front matter (a redirect stub) raises
`NothingToIndex`: the sync skips it with the reason.

Front matter goes to `metadata`; `title:` is the title and `access:`/`groups:` (a list or a
comma-separated string) become `Document.groups`. Front matter that is not valid YAML is a
LoadError rather than text: it may hold access groups, and silently dropping them would make
a restricted page readable by everyone. For the same reason, front matter after blank lines
is read (with a warning), TOML front matter (`+++`, as Hugo writes it) is read, and a key
that looks like an access key but is not one (`Access:`, `acces:`, `group:`) or a repeated
key is a LoadError naming the key: the page is not indexed until it is fixed.
"""

# A change that alters what this extracts from the same bytes bumps LOADER_VERSIONS["markdown"]
# (and "jsonl" for declared_language) in ingest/loaders/__init__.py, or indexes keep the old
# extraction of unchanged files.

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ingest.loaders.base import LoadOptions, Part, assemble, read_text
from ragkit.errors import LoadError, NothingToIndex
from ragkit.index.records import Document
from ragkit.strict import load_yaml

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

_FRONT_MATTER = re.compile(
    r"\A(\s*?)---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE
)
_TOML_FRONT_MATTER = re.compile(
    r"\A(\s*?)\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*$\n?", re.DOTALL | re.MULTILINE
)
ACCESS_KEYS = ("access", "groups")
# Liquid/Jinja; spans are bounded so a stray "{{" cannot swallow the rest of the page.
_LIQUID_COMMENT = re.compile(r"\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\}", re.DOTALL)
_SLACK_CHANNEL = re.compile(r"\{%-?\s*slack_channel\s+[\"']([^\"']+)[\"']\s*-?%\}")
_LIQUID = re.compile(r"\{%[\s\S]{0,2000}?%\}|\{\{[\s\S]{0,2000}?\}\}")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TEMPLATE_MARK = re.compile(r"\{[{%]|<!--")
# kramdown/Pandoc heading attributes: "### Deep {#deep}"
_HEADING_ATTRS = re.compile(r"\s*\{[#.][^}]*\}\s*$")
_ALIGN = {"text-align:left": ":---", "text-align:right": "---:", "text-align:center": ":---:"}


def load(path: Path, source: str, options: LoadOptions) -> list[Document]:
    text = read_text(path, source, options)
    meta, body = split_front_matter(text, source, options)
    title = meta.get("title")
    parts = parse_markdown(body)
    if not any(part.text.strip() for part in parts):
        target = meta.get("redirect_to")
        reason = f"a redirect page (to {target})" if target else "an empty page"
        raise NothingToIndex(source, f"no text besides front matter: {reason}; nothing to index")
    return [
        assemble(
            source,
            parts,
            title=str(title) if title is not None else None,
            metadata=meta,
            groups=front_matter_groups(meta, source),
            language=declared_language(meta),
        )
    ]


def split_front_matter(text: str, source: str, options: LoadOptions) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    toml = match is None
    if toml:
        match = _TOML_FRONT_MATTER.match(text)
    if not match:
        return {}, text
    if match.group(1):
        options.warn("blank line(s) before the front matter; read it as front matter anyway")
    try:
        data = tomllib.loads(match.group(2)) if toml else load_yaml(match.group(2))
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0][:80]
        raise LoadError(
            source,
            f"front matter is not valid {'TOML' if toml else 'YAML'} ({problem}{where}); fix it, "
            "or its title and access groups would be lost",
        ) from exc
    if data is None:
        return {}, text[match.end() :]
    if not isinstance(data, dict):
        options.warn("front matter is not a YAML mapping; read it as ordinary text")
        return {}, text
    meta = {str(key): value for key, value in data.items()}
    _refuse_near_miss_keys(meta, source)
    return meta, text[match.end() :]


def _refuse_near_miss_keys(meta: dict[str, Any], source: str) -> None:
    """A key one typo away from an access key would silently leave the page public."""
    for key in meta:
        if key in ACCESS_KEYS:
            continue
        folded = key.strip().lower().replace("-", "_")
        for wanted in ACCESS_KEYS:
            close = difflib.SequenceMatcher(None, folded, wanted).ratio() >= 0.8
            if folded == wanted or close or folded in (f"{wanted}_list", f"allowed_{wanted}"):
                raise LoadError(
                    source,
                    f"front matter key '{key}' looks like '{wanted}' but is not it; access "
                    f"groups are read only from 'access:' or 'groups:' (lower case). Fix the key: "
                    "the page is not indexed until then, so it cannot be read by the wrong people",
                )


def front_matter_groups(meta: dict[str, Any], source: str) -> tuple[str, ...]:
    groups: list[str] = []
    for key in ("access", "groups"):
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            names = value.split(",")
        elif isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            names = [str(v) for v in value]
        else:
            raise LoadError(
                source,
                f"front matter '{key}' must be a list of group names or a comma-separated "
                f"string, not {value!r}",
            )
        groups.extend(name.strip() for name in names if name.strip())
    return tuple(dict.fromkeys(groups))


def declared_language(meta: dict[str, Any]) -> str | None:
    """`lang:`/`language:` in front matter ("pt", "pt-BR"), which detection then does not
    override; None when absent or not a string."""
    for key in ("lang", "language"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def parse_markdown(body: str) -> list[Part]:
    """The parts of a Markdown body (front matter already removed), in reading order."""
    tokens = _parser().parse(body)
    if _TEMPLATE_MARK.search(body):
        stripped = strip_templates(body, _code_lines(tokens))
        if stripped != body:
            tokens = _parser().parse(stripped)
    return _Walker(tokens).run()


def _code_lines(tokens: Sequence[Token]) -> set[int]:
    """0-based line numbers of fenced and indented code, where templates are text to keep."""
    lines: set[int] = set()
    for token in tokens:
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(*token.map))
    return lines


def strip_templates(body: str, keep: set[int]) -> str:
    """Remove Liquid/Jinja tags and HTML comments from every line not in `keep` (code)."""
    out: list[str] = []
    prose: list[str] = []
    for number, line in enumerate(body.split("\n")):
        if number in keep:
            if prose:
                out.append(_strip_prose("\n".join(prose)))
                prose = []
            out.append(line)
        else:
            prose.append(line)
    if prose:
        out.append(_strip_prose("\n".join(prose)))
    return "\n".join(out)


def _strip_prose(text: str) -> str:
    text = _LIQUID_COMMENT.sub("", text)
    text = _SLACK_CHANNEL.sub(r"#\1", text)
    text = _LIQUID.sub("", text)
    return _HTML_COMMENT.sub("", text)


def inline_text(token: Token) -> str:
    """Plain text of an inline token: markers, link targets and inline tags dropped."""
    out: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif child.type == "image":
            out.append(inline_text(child))
        elif child.type == "html_inline" and child.content.lower().startswith("<br"):
            out.append("\n")
    return "".join(out).replace("\xa0", " ")


def _clean_lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


class _Walker:
    """One pass over the block tokens; `i` always points at the next unread token."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.parts: list[Part] = []

    def run(self) -> list[Part]:
        tokens = self.tokens
        while self.i < len(tokens):
            token = tokens[self.i]
            kind = token.type
            if kind == "heading_open":
                text = _HEADING_ATTRS.sub("", inline_text(tokens[self.i + 1])).strip()
                if text:
                    self.parts.append(
                        Part("heading", " ".join(text.split()), level=int(token.tag[1]))
                    )
                self.i += 3
            elif kind == "paragraph_open":
                text = _clean_lines(inline_text(tokens[self.i + 1]))
                if text:
                    self.parts.append(Part("paragraph", text))
                self.i += 3
            elif kind in ("fence", "code_block"):
                self.parts.append(Part("code", token.content.rstrip("\n")))
                self.i += 1
            elif kind in ("bullet_list_open", "ordered_list_open"):
                lines = self._list(0)
                if lines:
                    self.parts.append(Part("list", "\n".join(lines)))
            elif kind == "table_open":
                self.parts.append(self._table())
            elif kind == "html_block":
                self._html()
            else:  # hr, blockquote_open/close: their content is walked as blocks
                self.i += 1
        return self.parts

    def _html(self) -> None:
        from ingest.loaders.html import html_parts  # BeautifulSoup only when a page needs it

        # A blank line ends a CommonMark HTML block, so a <table> with blank lines inside
        # arrives as several blocks: consecutive ones are one fragment.
        fragment: list[str] = []
        while self.i < len(self.tokens) and self.tokens[self.i].type == "html_block":
            fragment.append(self.tokens[self.i].content)
            self.i += 1
        self.parts.extend(html_parts("\n".join(fragment)))

    def _list(self, depth: int) -> list[str]:
        """Lines of the list opening at `i`, nested lists indented; `i` ends past its close."""
        close = self.tokens[self.i].type.replace("_open", "_close")
        self.i += 1
        lines: list[str] = []
        indent = "  " * depth
        marker = ""
        while self.i < len(self.tokens):
            token = self.tokens[self.i]
            if token.type == close:  # nested lists were consumed by the recursion
                self.i += 1
                break
            if token.type == "list_item_open":
                marker = f"{token.info}{token.markup}" if token.info else token.markup
                first = True
                self.i += 1
                while self.tokens[self.i].type != "list_item_close":
                    inner = self.tokens[self.i]
                    if inner.type in ("bullet_list_open", "ordered_list_open"):
                        lines += self._list(depth + 1)
                        continue
                    text = self._item_block(inner)
                    if text:
                        pad = " " * (len(marker) + 1)
                        body = f"\n{indent}{pad}".join(text.split("\n"))
                        lines.append(
                            f"{indent}{marker} {body}" if first else f"{indent}{pad}{body}"
                        )
                        first = False
                self.i += 1  # list_item_close
            else:
                self.i += 1
        return lines

    def _item_block(self, token: Token) -> str:
        """Text of one block inside a list item; advances `i` past it."""
        if token.type == "inline":
            self.i += 1
            return _clean_lines(inline_text(token))
        if token.type in ("fence", "code_block", "html_block"):
            self.i += 1
            return token.content.rstrip("\n")
        if token.type == "table_open":
            return self._table().text
        self.i += 1  # paragraph_open/close, blockquote markers, hr: no text of their own
        return ""

    def _table(self) -> Part:
        rows: list[list[str]] = []
        aligns: list[str] = []
        header_rows = 0
        while self.tokens[self.i].type != "table_close":
            token = self.tokens[self.i]
            if token.type == "tr_open":
                rows.append([])
            elif token.type in ("th_open", "td_open"):
                if token.type == "th_open":
                    aligns.append(_ALIGN.get(str(token.attrs.get("style", "")), "---"))
                cell = inline_text(self.tokens[self.i + 1])
                rows[-1].append(" ".join(cell.split()).replace("|", "\\|"))
            elif token.type == "thead_close":
                header_rows = len(rows)
            self.i += 1
        self.i += 1
        lines = [_row(cells) for cells in rows]
        if header_rows:
            lines.insert(header_rows, _row(aligns[: len(rows[0])]))
            header = "\n".join(lines[: header_rows + 1])
            return Part("table", "\n".join(lines), header=header)
        return Part("table", "\n".join(lines))


def _row(cells: Sequence[str]) -> str:
    return f"| {' | '.join(cells)} |"
