"""The small types passed between retrieval, generation and the interfaces.

JSON shapes (the CLI's --json, the HTTP API, the evaluation harness):
- a hit: {"chunk_id", "source", "sources", "page", "page_end", "ocr_confidence", "section",
  "score", "text"}; `sources` lists every document holding this exact text (`source` first),
  stored and returned once
- an answer: {"answer", "abstained", "citations": [{"n", "source", "page", "page_end",
  "ocr_confidence", "section", "quote", "also"}], "passages": [hit, ...]}; `n` is the cited
  passage's 1-based position in "passages", the number the answer's inline [n] markers use;
  `also` lists the other documents holding the same text, as [{"source", "pages"}]

`page_end` is set when a chunk runs across pages (else null); `ocr_confidence` (0-1, mean
Tesseract word confidence) when its text was read by OCR from a scanned page (else null).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ragkit.index.records import Chunk


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score (higher is better) and its 1-based rank."""

    chunk: Chunk
    score: float
    rank: int = 0
    dense_score: float | None = None  # cosine similarity; None when retrieval was BM25 alone
    sparse_score: float | None = None  # BM25 score (0: no term matched); None when dense alone

    def to_json(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk.chunk_id,
            "source": self.chunk.source,
            "sources": list(self.chunk.sources),
            "page": self.chunk.page,
            "page_end": self.chunk.page_end,
            "ocr_confidence": self.chunk.ocr_confidence,
            "section": self.chunk.section,
            "score": round(float(self.score), 6),
            "text": self.chunk.text,
        }


@dataclass(frozen=True)
class Citation:
    """Where a claim comes from; `quote` is a verbatim span of the cited chunk's text."""

    source: str
    page: int | None
    section: str
    quote: str
    chunk_id: str = ""
    page_end: int | None = None
    ocr_confidence: float | None = None
    # Other places holding the same text (a stored duplicate's `also`): (source, pages label).
    also: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, chunk: Chunk, quote: str) -> Citation:
        """A citation of `quote` in `chunk`, with the chunk's pages, OCR confidence and the
        other places its text is stored for."""
        return cls(
            chunk.source,
            chunk.page,
            chunk.section,
            quote,
            chunk.chunk_id,
            page_end=chunk.page_end,
            ocr_confidence=chunk.ocr_confidence,
            also=tuple(
                (other.source, page_label(other.page, other.page_end, other.ocr_confidence))
                for other in chunk.also
                if other.source != chunk.source
            ),
        )

    @property
    def pages(self) -> str:
        return page_label(self.page, self.page_end, self.ocr_confidence)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "page": self.page,
            "page_end": self.page_end,
            "ocr_confidence": self.ocr_confidence,
            "section": self.section,
            "quote": self.quote,
            "also": [{"source": source, "pages": pages} for source, pages in self.also],
        }


def page_label(
    page: int | None, page_end: int | None = None, ocr_confidence: float | None = None
) -> str:
    """'p. 3', 'pages 1-2', 'p. 2, OCR text (confidence 91%)'; '' when there is no page."""
    if not page:
        return ""
    label = f"pages {page}-{page_end}" if page_end and page_end > page else f"p. {page}"
    if ocr_confidence is not None:
        label += f", OCR text (confidence {ocr_confidence:.0%})"
    return label


@dataclass(frozen=True)
class Answer:
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)  # generator name, timings, support

    @property
    def quoted(self) -> bool:
        """Whether the answer text is the documents' own words (shown as a quote, not as ours).

        The extractive reader only ever quotes; another generator says so with
        `metadata["quoted"] = True`. A refusal is never a quote.
        """
        if self.abstained:
            return False
        return bool(self.metadata.get("quoted", self.metadata.get("generator") == "extractive"))

    def numbered_citations(self) -> list[tuple[int, Citation]]:
        """Each citation with its number `n`: the 1-based position of its passage.

        One numbering everywhere (CLI, --json, HTTP API, web page, the prompt's passages and
        the answer's inline [n] markers), so "[2]" always means the second passage. Two quotes
        from one passage share its number; a citation of a chunk that is not among the passages
        (none of ours do this) gets a number after the last passage.
        """
        number_of = {hit.chunk.chunk_id: n for n, hit in enumerate(self.passages, start=1)}
        spare = len(self.passages)
        numbered = []
        for citation in self.citations:
            number = number_of.get(citation.chunk_id)
            if number is None:
                spare += 1
                number = spare
            numbered.append((number, citation))
        return numbered

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [{"n": n, **c.to_json()} for n, c in self.numbered_citations()],
            "passages": [h.to_json() for h in self.passages],
        }


REFUSAL = "The documents I can search don't cover this."
