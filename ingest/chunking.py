"""Structure-aware chunking sized in the embedding model's tokens.

A document's blocks are grouped into sections: runs of blocks under the same heading path on
the same page. Heading text is content: a heading with nothing under it (no text, no
sub-heading: "## Lost badges are reported to extension 4417" at the end of a page, or a file
of headings only) is a section whose text is the heading itself, so no text is dropped.
A chunk never crosses a section boundary, so its heading path and page are exact. Inside a
section, blocks are packed greedily up to the token budget; a block that does not fit alone
is split at the coarsest boundary that works: lines, then sentences, then words, then halves.
A table keeps its header: each piece of a split table starts with it.

The budget counts what is embedded, `Chunk.embedding_text` (title, heading path and text),
with the model's special tokens, and never exceeds the model's maximum sequence length, so
the embedding model never silently truncates a chunk.

Memory stays bounded whatever the input: a chunk is capped in characters as well as tokens
(`CHARS_PER_TOKEN` x the token budget: a 50 MB "word" is one [UNK] token to WordPiece, and
must not become one 50 MB chunk), a block longer than that cap is first cut into windows of
at most the cap at the best boundary inside each (line, sentence end, space, else anywhere)
before anything is tokenised, and tokens are counted in bounded batches. So a 50 MB line
costs its windows, never one 50 MB tokenisation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from ragkit.errors import ConfigError
from ragkit.index.records import Block, Chunk, Document, chunk_id_for, context_line
from ragkit.text.language import DOCUMENT_MIN_LETTERS, base_language, detect_language
from ragkit.text.segment import split_sentences

CountTokens = Callable[[Sequence[str]], list[int]]

SPECIAL_TOKENS = 2  # [CLS] and [SEP]; counted once per chunk, not per piece
# Most characters a chunk may hold per token of budget. English WordPiece text runs about 4-5
# characters a token and code or URLs fewer, so ordinary chunks never meet this cap; only
# runs of characters the tokenizer folds into one token (huge words, base64) do.
CHARS_PER_TOKEN = 8
MAX_CONTEXT_CHARS = 300  # a title or heading longer than this is cut before it is tokenised
_COUNT_BATCH = 256  # texts per tokenizer call: bounds the tokenizer's working memory
_WORD = re.compile(r"\S+\s*")
_SENTENCE_MARKS = (". ", "! ", "? ", "; ")


@dataclass(frozen=True)
class ChunkSettings:
    """How documents are cut. Part of the index fingerprint: a change rebuilds the index."""

    chunk_tokens: int = 256  # most tokens a chunk's embedding text may take, specials included
    min_context_budget: int = 32  # a heading path longer than budget - this is shortened

    def __post_init__(self) -> None:
        if self.chunk_tokens < 32:
            raise ConfigError(f"chunk size {self.chunk_tokens} tokens is too small: use 32 or more")

    def fingerprint(self) -> dict[str, Any]:
        # v3: empty headings are chunks; chunks carry the document's language.
        return {"chunk_tokens": self.chunk_tokens, "chunker": "sections-v3"}


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    text: str
    tokens: int  # without special tokens


def chunk_document(
    doc: Document,
    *,
    count_tokens: CountTokens,
    max_tokens: int,
    settings: ChunkSettings = ChunkSettings(),
    doc_hash: str = "",
    groups: tuple[str, ...] = (),
) -> list[Chunk]:
    """Cut one document into chunks whose embedding text fits `min(chunk_tokens, max_tokens)`."""
    limit = min(settings.chunk_tokens, max_tokens) - SPECIAL_TOKENS
    chunks: list[Chunk] = []
    seen_ids: dict[str, int] = {}
    content = content_blocks(doc.blocks)
    language = base_language(doc.language) or detect_language(
        doc.text, min_latin_letters=DOCUMENT_MIN_LETTERS
    )
    title = doc.title[:MAX_CONTEXT_CHARS]  # a 50 MB first line must not ride on every chunk
    for (headings, page), section in groupby(content, key=lambda b: (b.headings, b.page)):
        headings = tuple(heading[:MAX_CONTEXT_CHARS] for heading in headings)
        headings = _fit_headings(title, headings, count_tokens, limit, settings)
        context = context_line(title, headings) + "\n"
        budget = limit - _content_tokens(count_tokens, [context])[0]
        splitter = _Splitter(doc.text, count_tokens, budget)
        blocks = list(section)
        pieces = [piece for block in blocks for piece in splitter.block_pieces(block)]
        for group in _pack(pieces, budget, splitter.max_chars):
            text, start, end = _join(doc.text, group)
            page_end = _page_end(blocks, start, end, page)
            ocr = [b.ocr_confidence for b in _overlapping(blocks, start, end)]
            chunk_id = chunk_id_for(doc.source, text)
            if chunk_id in seen_ids:  # the same text twice in one document
                seen_ids[chunk_id] += 1
                chunk_id = f"{chunk_id}-{seen_ids[chunk_id]}"
            else:
                seen_ids[chunk_id] = 1
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    source=doc.source,
                    title=title,
                    text=text,
                    start=start,
                    end=end,
                    page=page,
                    headings=headings,
                    doc_hash=doc_hash,
                    groups=groups,
                    page_end=page_end,
                    # The weakest page's: a chunk is as trustworthy as its worst-read text.
                    ocr_confidence=min((c for c in ocr if c is not None), default=None),
                    language=language,
                )
            )
    return chunks


def _overlapping(blocks: Sequence[Block], start: int, end: int) -> list[Block]:
    return [b for b in blocks if b.start < end and start < b.end]


def _page_end(blocks: Sequence[Block], start: int, end: int, page: int | None) -> int | None:
    """The last page of the blocks overlapping [start, end) when it is past `page`, else None.

    A block a page break cut (PDF) runs from `page` to `page_end`; a piece of it is given the
    whole span, since where the break falls inside the block is not kept."""
    last = max((b.page_end for b in _overlapping(blocks, start, end) if b.page_end), default=None)
    return last if last is not None and page is not None and last > page else None


def content_blocks(blocks: Sequence[Block]) -> list[Block]:
    """The blocks that carry text: all but headings, plus each heading with nothing under it
    (the next block is neither its text nor a sub-heading)."""
    kept: list[Block] = []
    for index, block in enumerate(blocks):
        if not block.text.strip():
            continue
        if block.kind != "heading":
            kept.append(block)
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        path = block.headings
        if following is None or (
            following.kind == "heading"
            and not (
                len(following.headings) > len(path) and following.headings[: len(path)] == path
            )
        ):
            kept.append(block)
    return kept


def _content_tokens(count_tokens: CountTokens, texts: Sequence[str]) -> list[int]:
    counts: list[int] = []
    for i in range(0, len(texts), _COUNT_BATCH):
        counts += [max(0, n - SPECIAL_TOKENS) for n in count_tokens(texts[i : i + _COUNT_BATCH])]
    return counts


def _fit_headings(
    title: str,
    headings: tuple[str, ...],
    count_tokens: CountTokens,
    limit: int,
    settings: ChunkSettings,
) -> tuple[str, ...]:
    """Drop outer headings (then shorten the innermost) until the context leaves room for text."""
    allowed = limit - settings.min_context_budget
    path = headings
    while path and _content_tokens(count_tokens, [context_line(title, path)])[0] > allowed:
        path = path[1:] if len(path) > 1 else (path[0][:40],)
        if len(path) == 1 and len(path[0]) <= 40:
            break
    return path


def _pack(pieces: Sequence[_Piece], budget: int, max_chars: int) -> Iterator[list[_Piece]]:
    """Greedy packing of consecutive pieces within `budget` tokens and `max_chars` characters
    (from the first piece's start to the last one's end); joins ("\\n\\n") cost no tokens."""
    group: list[_Piece] = []
    used = 0
    for piece in pieces:
        too_long = group and piece.end - group[0].start > max_chars
        if group and (used + piece.tokens > budget or too_long):
            yield group
            group, used = [], 0
        group.append(piece)
        used += piece.tokens
    if group:
        yield group


def _join(text: str, group: Sequence[_Piece]) -> tuple[str, int, int]:
    """The chunk text and its offsets, trimmed of surrounding whitespace."""
    start, end = group[0].start, group[-1].end
    if all(text[p.start : p.end] == p.text for p in group):
        span = text[start:end]
        lead = len(span) - len(span.lstrip())
        trail = len(span) - len(span.rstrip())
        return span.strip(), start + lead, end - trail
    # A repeated table header makes the pieces non-contiguous with the source text.
    return "\n\n".join(p.text.strip() for p in group), start, end


class _Splitter:
    """Cuts one block into pieces that each fit the budget."""

    def __init__(self, text: str, count_tokens: CountTokens, budget: int) -> None:
        self.text = text
        self.count_tokens = count_tokens
        self.budget = budget
        self.max_chars = max(budget, 1) * CHARS_PER_TOKEN

    def block_pieces(self, block: Block) -> list[_Piece]:
        if len(block.text) <= self.max_chars:
            tokens = _content_tokens(self.count_tokens, [block.text])[0]
            if tokens <= self.budget:
                return [_Piece(block.start, block.end, block.text, tokens)]
        if block.kind == "table" and block.header and block.text.startswith(block.header):
            return self._table_pieces(block)
        return self._fit(block.start, block.end, level=0)

    def _table_pieces(self, block: Block) -> list[_Piece]:
        header = block.header or ""
        header_tokens = _content_tokens(self.count_tokens, [header[: self.max_chars + 1]])[0]
        body_start = block.start + len(header)
        if header_tokens > self.budget // 2 or len(header) > self.max_chars // 2:
            return self._fit(block.start, block.end, level=0)  # a header eating the budget
        rows = self._fit(body_start, block.end, level=0, budget=self.budget - header_tokens)
        grouped = _pack(rows, self.budget - header_tokens, self.max_chars - len(header) - 1)
        pieces = []
        for group in grouped:
            body = self.text[group[0].start : group[-1].end].strip("\n")
            start = block.start if group[0].start == body_start else group[0].start
            text = self.text[start : group[-1].end] if start == block.start else f"{header}\n{body}"
            pieces.append(
                _Piece(start, group[-1].end, text, header_tokens + sum(p.tokens for p in group))
            )
        return pieces

    def _fit(self, start: int, end: int, *, level: int, budget: int | None = None) -> list[_Piece]:
        budget = self.budget if budget is None else budget
        if end - start > self.max_chars:
            # Too long to tokenise whole: windows of at most max_chars first, each then cut
            # at the usual boundaries; their pieces pack together again below.
            pieces = [
                piece
                for window_start, window_end in self._windows(start, end)
                for piece in self._fit(window_start, window_end, level=level, budget=budget)
            ]
            return [self._merge(g) for g in _pack(pieces, budget, self.max_chars)]
        spans = list(self._split(start, end, level))
        texts = [self.text[s:e] for s, e in spans]
        counts = _content_tokens(self.count_tokens, texts)
        pieces = []
        for (s, e), text, tokens in zip(spans, texts, counts, strict=True):
            if tokens <= budget:
                pieces.append(_Piece(s, e, text, tokens))
            else:
                pieces.extend(self._fit(s, e, level=level + 1, budget=budget))
        return [self._merge(g) for g in _pack(pieces, budget, self.max_chars)]

    def _windows(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """Consecutive spans of at most max_chars tiling [start, end), each cut after the last
        newline, else sentence end, else space in its second half, else at the cap."""
        text, cap = self.text, self.max_chars
        while end - start > cap:
            limit = start + cap
            cut = text.rfind("\n", start + cap // 2, limit) + 1
            if not cut:
                ends = [text.rfind(mark, start + cap // 2, limit - 1) for mark in _SENTENCE_MARKS]
                cut = max(ends) + 2 if max(ends) >= 0 else 0
            if not cut:
                cut = text.rfind(" ", start + cap // 2, limit) + 1
            if not cut:
                cut = limit
            yield start, cut
            start = cut
        if start < end:
            yield start, end

    def _merge(self, group: list[_Piece]) -> _Piece:
        start, end = group[0].start, group[-1].end
        return _Piece(start, end, self.text[start:end], sum(p.tokens for p in group))

    def _split(self, start: int, end: int, level: int) -> Iterator[tuple[int, int]]:
        """Sub-spans of [start, end) at one level of granularity; they tile the span."""
        segment = self.text[start:end]
        if level == 0:
            pattern = re.compile(r"\n")
        elif level == 1:  # sentences (the one segmenter); the cuts tile the span
            cuts = [start + s for s, _ in split_sentences(segment)[1:]]
            for cut_start, cut_end in zip([start, *cuts], [*cuts, end], strict=True):
                if cut_end > cut_start:
                    yield cut_start, cut_end
            return
        elif level == 2:
            for match in _WORD.finditer(segment):
                yield start + match.start(), start + match.end()
            return
        else:  # one "word" longer than the budget (a URL, a hash): halve until it fits
            middle = (start + end) // 2
            if middle in (start, end):
                yield start, end
                return
            yield start, middle
            yield middle, end
            return
        cursor = start
        for match in pattern.finditer(segment):
            cut = start + match.end()
            if cut > cursor:
                yield cursor, cut
                cursor = cut
        if cursor < end:
            yield cursor, end
