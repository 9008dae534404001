"""Markdown: YAML front matter, then a line-based block parse into headings and blocks.

Recognised blocks: ATX (`## x`) and setext (underlined) headings; fenced code, kept whole and
verbatim (a `#` inside it is not a heading); GFM pipe tables, whose header is the header line
plus the separator line; lists with their continuation lines and nested items as one block;
raw HTML blocks, converted by the HTML loader; everything else is a paragraph. Outside code,
Liquid/Jinja tags (`{% ... %}`, `{{ ... }}`) and HTML comments are removed, and inline markup
(links, images, emphasis markers, tags, backslash escapes, entities) is reduced to its text.

Front matter goes to `metadata`; `title:` is the title and `access:`/`groups:` (a list or a
comma-separated string) become `Document.groups`. Front matter that is not valid YAML is a
LoadError rather than text: it may hold access groups, and silently dropping them would make
a restricted page readable by everyone. For the same reason, front matter after blank lines
is read (with a warning), TOML front matter (`+++`, as Hugo writes it) is read, and a key
that looks like an access key but is not one (`Access:`, `acces:`, `group:`) or a repeated
key is a LoadError naming the key: the page is not indexed until it is fixed.
"""

from __future__ import annotations

import difflib
import html
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ingest.loaders.base import LoadOptions, Part, assemble, read_text
from ragkit.errors import LoadError
from ragkit.index.records import Document
from ragkit.strict import load_yaml

_FRONT_MATTER = re.compile(
    r"\A(\s*?)---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE
)
_TOML_FRONT_MATTER = re.compile(
    r"\A(\s*?)\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*$\n?", re.DOTALL | re.MULTILINE
)
ACCESS_KEYS = ("access", "groups")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST = re.compile(r"^[ \t]{0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
# Only these start a list in the middle of a paragraph: "... in\n2019. The ..." is prose.
_INTERRUPTS = re.compile(r"^[ \t]{0,3}(?:[-*+]|1[.)])[ \t]+\S")
_TABLE_SEP = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_SEP_CELL = re.compile(r"^:?-+:?$")
_QUOTE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")
_LINK_DEF = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]*\S+")
_HTML_BLOCK = re.compile(
    r"^ {0,3}</?(address|article|aside|blockquote|center|details|dialog|div|dl|figure|h[1-6]|"
    r"header|hr|iframe|img|main|ol|p|picture|pre|section|summary|table|ul|video)\b",
    re.IGNORECASE,
)

# Liquid/Jinja (the 18F handbook is a Jekyll/Eleventy site); spans are bounded so a stray
# "{{" cannot swallow the rest of the page.
_LIQUID_COMMENT = re.compile(r"\{%-?\s*comment\s*-?%\}.*?\{%-?\s*endcomment\s*-?%\}", re.DOTALL)
_SLACK_CHANNEL = re.compile(r"\{%-?\s*slack_channel\s+[\"']([^\"']+)[\"']\s*-?%\}")
_LIQUID = re.compile(r"\{%[\s\S]{0,2000}?%\}|\{\{[\s\S]{0,2000}?\}\}")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

_IMAGE = re.compile(r"!\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\]]*\])*)\]\((?:[^()]|\([^()]*\))*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^>\s]+|[^<>\s@]+@[^<>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|&<>~\"'])")
_HEADING_ATTRS = re.compile(r"\s*\{[#.][^}]*\}\s*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")


def load(path: Path, source: str, options: LoadOptions) -> list[Document]:
    text = read_text(path, source, options)
    meta, body = split_front_matter(text, source, options)
    title = meta.get("title")
    parts = parse_markdown(body)
    if not any(part.text.strip() for part in parts):
        target = meta.get("redirect_to")
        reason = f"a redirect page (to {target})" if target else "an empty page"
        raise LoadError(source, f"no text besides front matter: {reason}; nothing to index")
    return [
        assemble(
            source,
            parts,
            title=str(title) if title is not None else None,
            metadata=meta,
            groups=front_matter_groups(meta, source),
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


def strip_templates(body: str) -> str:
    """Remove Liquid/Jinja tags and HTML comments everywhere except inside fenced code."""
    pieces: list[str] = []
    prose: list[str] = []
    fence: tuple[str, int] | None = None
    for line in body.split("\n"):
        if fence is None:
            match = _FENCE.match(line)
            if match and not (match.group(2)[0] == "`" and "`" in match.group(3)):
                if prose:
                    pieces.append(_strip_prose("\n".join(prose)))
                    prose = []
                fence = (match.group(2)[0], len(match.group(2)))
                pieces.append(line)
            else:
                prose.append(line)
        else:
            pieces.append(line)
            if _closes(line, fence):
                fence = None
    if prose:
        pieces.append(_strip_prose("\n".join(prose)))
    return "\n".join(pieces)


def _strip_prose(text: str) -> str:
    text = _LIQUID_COMMENT.sub("", text)
    text = _SLACK_CHANNEL.sub(r"#\1", text)
    text = _LIQUID.sub("", text)
    return _HTML_COMMENT.sub("", text)


def _closes(line: str, fence: tuple[str, int]) -> bool:
    char, length = fence
    stripped = line.strip()
    return (
        len(stripped) >= length
        and stripped == char * len(stripped)
        and len(line) - len(line.lstrip(" ")) <= 3
    )


def clean_inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _STRONG.sub(r"\2", text)
    text = _ESCAPE.sub(r"\1", text)
    return html.unescape(text).replace("\xa0", " ")


def parse_markdown(body: str) -> list[Part]:
    return _Parser(strip_templates(body).split("\n")).run()


class _Parser:
    """One pass over the lines; `i` always points at the next unread line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0
        self.parts: list[Part] = []
        self.para: list[str] = []

    def run(self) -> list[Part]:
        lines = self.lines
        while self.i < len(lines):
            line = lines[self.i]
            if not line.strip():
                self.flush()
                self.i += 1
            elif fence := self._fence_at(self.i):
                self.flush()
                self.code(fence)
            elif match := _ATX.match(line):
                self.flush()
                self.heading(match.group(2) or "", len(match.group(1)))
                self.i += 1
            elif self.para and (match := _SETEXT.match(line)):
                text = " ".join(entry.strip() for entry in self.para)
                self.para = []
                self.heading(text, 1 if match.group(1)[0] == "=" else 2)
                self.i += 1
            elif _HR.match(line):
                self.flush()
                self.i += 1
            elif self._table_at(self.i):
                self.flush()
                self.table()
            elif _is_item(line) and (not self.para or _INTERRUPTS.match(line)):
                self.flush()
                self.list()
            elif not self.para and _HTML_BLOCK.match(line):
                self.html()
            else:
                self.para.append(_QUOTE.sub("", line))
                self.i += 1
        self.flush()
        return self.parts

    def _fence_at(self, index: int) -> tuple[str, int] | None:
        match = _FENCE.match(self.lines[index])
        if not match or (match.group(2)[0] == "`" and "`" in match.group(3)):
            return None
        return match.group(2)[0], len(match.group(2))

    def _table_at(self, index: int) -> bool:
        if index + 1 >= len(self.lines):
            return False
        head, sep = self.lines[index], self.lines[index + 1]
        return (
            "|" in head
            and "|" in sep
            and _TABLE_SEP.match(sep) is not None
            and _cell_count(head) == _cell_count(sep)
        )

    def _starts_block(self, index: int) -> bool:
        line = self.lines[index]
        return bool(
            _ATX.match(line)
            or _HR.match(line)
            or _HTML_BLOCK.match(line)
            or self._fence_at(index)
            or self._table_at(index)
        )

    def flush(self) -> None:
        kept = [line.strip() for line in self.para if not _LINK_DEF.match(line)]
        self.para = []
        # Cleaned as a whole: link text and emphasis may span a line break.
        text = clean_inline("\n".join(kept))
        text = "\n".join(line.strip() for line in text.split("\n") if line.strip())
        if text:
            self.parts.append(Part("paragraph", text))

    def heading(self, raw: str, level: int) -> None:
        raw = _CLOSING_HASHES.sub("", raw).strip()
        text = _HEADING_ATTRS.sub("", clean_inline(raw)).strip()
        if text:
            self.parts.append(Part("heading", text, level=level))

    def code(self, fence: tuple[str, int]) -> None:
        body: list[str] = []
        self.i += 1
        while self.i < len(self.lines):
            line = self.lines[self.i]
            self.i += 1
            if _closes(line, fence):
                break
            body.append(line)
        self.parts.append(Part("code", "\n".join(body)))

    def table(self) -> None:
        rows = [self.lines[self.i], self.lines[self.i + 1]]
        self.i += 2
        while (
            self.i < len(self.lines)
            and "|" in self.lines[self.i]
            and self.lines[self.i].strip()
            and not self._starts_block(self.i)
        ):
            rows.append(self.lines[self.i])
            self.i += 1
        cleaned = [clean_inline(_tidy_row(row)) for row in rows]
        self.parts.append(Part("table", "\n".join(cleaned), header="\n".join(cleaned[:2])))

    def list(self) -> None:
        lines = self.lines
        items: list[str] = []
        while self.i < len(lines):
            line = lines[self.i]
            if not line.strip():
                # A blank line ends the list unless an item or an indented line follows.
                nxt = self.i + 1
                while nxt < len(lines) and not lines[nxt].strip():
                    nxt += 1
                if nxt < len(lines) and (lines[nxt][:1] in (" ", "\t") or _is_item(lines[nxt])):
                    self.i = nxt
                    continue
                break
            indented = line[:1] in (" ", "\t")
            if not indented and not _is_item(line) and self._starts_block(self.i):
                break  # a heading, fence, table... ends the list; other lines are lazy text
            items.append(line)
            self.i += 1
        text = "\n".join(line.rstrip() for line in clean_inline("\n".join(items)).split("\n"))
        self.parts.append(Part("list", text))

    def html(self) -> None:
        from ingest.loaders.html import html_parts  # BeautifulSoup only when a page needs it

        tag = _HTML_BLOCK.match(self.lines[self.i]).group(1).lower()
        opens = re.compile(rf"<{tag}\b", re.IGNORECASE)
        closes = re.compile(rf"</{tag}\s*>", re.IGNORECASE)
        depth = 0
        chunk: list[str] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip():
                nxt = self.i + 1
                while nxt < len(self.lines) and not self.lines[nxt].strip():
                    nxt += 1
                # An unclosed tag keeps going over blank lines only while HTML follows.
                if (
                    depth <= 0
                    or nxt >= len(self.lines)
                    or not self.lines[nxt].lstrip().startswith("<")
                ):
                    break
            depth += len(opens.findall(line)) - len(closes.findall(line))
            chunk.append(line)
            self.i += 1
            if depth <= 0:
                break
        self.parts.extend(html_parts("\n".join(chunk)))


def _tidy_row(row: str) -> str:
    """'|Day   |Hours |' -> '| Day | Hours |': column padding is only tokens to embed."""
    cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
    cells = [re.sub("-+", "---", cell) if _SEP_CELL.match(cell) else cell for cell in cells]
    return f"| {' | '.join(cells)} |"


def _is_item(line: str) -> bool:
    return _LIST.match(line) is not None and _HR.match(line) is None


def _cell_count(line: str) -> int:
    return len(re.split(r"(?<!\\)\|", line.strip().strip("|")))
