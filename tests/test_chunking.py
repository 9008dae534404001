"""Chunking: sections respected, tables keep headers, nothing exceeds the model's window."""

from __future__ import annotations

import pytest

from ingest.chunking import ChunkSettings, chunk_document
from ragkit.index.embedding import HashingEmbedder, SentenceTransformerEmbedder
from ragkit.index.records import Block, Document


def make_doc(parts: list[tuple[str, str, tuple[str, ...], int | None]], header: str | None = None):
    """Build a Document from (kind, text, headings, page) parts separated by blank lines."""
    text, blocks, cursor = "", [], 0
    for kind, body, headings, page in parts:
        if text:
            text += "\n\n"
            cursor += 2
        blocks.append(
            Block(
                kind,
                body,
                cursor,
                cursor + len(body),
                page,
                headings,
                header if kind == "table" else None,
            )
        )
        text += body
        cursor += len(body)
    return Document(source="doc.md", title="Leave Policy", text=text, blocks=tuple(blocks))


WORDS = HashingEmbedder(dim=64, max_tokens=64)


def test_small_sections_become_one_chunk_each_with_exact_offsets():
    doc = make_doc(
        [
            ("paragraph", "Staff get 25 days of annual leave.", ("Annual leave",), None),
            ("paragraph", "Unused days carry over until March.", ("Annual leave",), None),
            ("paragraph", "Sick days need a note after three days.", ("Sick leave",), None),
        ]
    )
    chunks = chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)
    assert [c.text for c in chunks] == [
        "Staff get 25 days of annual leave.\n\nUnused days carry over until March.",
        "Sick days need a note after three days.",
    ]
    assert [c.headings for c in chunks] == [("Annual leave",), ("Sick leave",)]
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
    assert chunks[0].embedding_text.startswith("Leave Policy > Annual leave\n")


def test_chunks_never_cross_pages():
    doc = make_doc(
        [
            ("paragraph", "Page one text.", (), 1),
            ("paragraph", "Page two text.", (), 2),
        ]
    )
    chunks = chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)
    assert [(c.page, c.text) for c in chunks] == [(1, "Page one text."), (2, "Page two text.")]


def test_long_paragraph_splits_at_sentences_within_budget():
    sentences = [f"Sentence number {i} talks about leave rules here." for i in range(40)]
    doc = make_doc([("paragraph", " ".join(sentences), ("Rules",), None)])
    chunks = chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)
    assert len(chunks) > 1
    for chunk in chunks:
        assert WORDS.count_tokens([chunk.embedding_text])[0] <= 64
        assert chunk.text.endswith("here.")  # cut at a sentence end, never mid-sentence
        assert doc.text[chunk.start : chunk.end] == chunk.text
    assert " ".join(c.text for c in chunks) == " ".join(sentences)


def test_split_table_repeats_its_header_in_every_piece():
    header = "| Level | Band |\n|---|---|"
    rows = "\n".join(f"| L{i} | {1000 * i} to {1000 * i + 500} EUR per year |" for i in range(30))
    table = f"{header}\n{rows}"
    doc = make_doc([("table", table, ("Bands",), None)], header=header)
    chunks = chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith(header)
        assert WORDS.count_tokens([chunk.embedding_text])[0] <= 64
    body_rows = [line for c in chunks for line in c.text.splitlines()[2:]]
    assert body_rows == rows.splitlines()  # every row exactly once, in order


def test_one_enormous_word_is_halved_until_it_fits():
    doc = make_doc([("paragraph", "x" * 5000, (), None)])
    model = SentenceTransformerEmbedder()
    chunks = chunk_document(doc, count_tokens=model.count_tokens, max_tokens=model.max_tokens)
    assert "".join(c.text for c in chunks) == "x" * 5000
    assert max(model.count_tokens([c.embedding_text for c in chunks])) <= model.max_tokens


def test_identical_texts_in_one_document_get_distinct_ids():
    doc = make_doc(
        [
            ("paragraph", "Ask your manager.", ("A",), None),
            ("paragraph", "Ask your manager.", ("B",), None),
        ]
    )
    ids = [c.chunk_id for c in chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)]
    assert len(set(ids)) == 2


def test_ids_are_content_derived_and_stable():
    doc = make_doc([("paragraph", "Same text.", (), None)])
    first = chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)
    again = chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)
    assert first[0].chunk_id == again[0].chunk_id


def test_tiny_chunk_size_is_refused_with_the_value():
    with pytest.raises(Exception, match="chunk size 8 tokens"):
        ChunkSettings(chunk_tokens=8)


def test_minilm_never_truncates_a_chunk_of_dense_text():
    """all-MiniLM-L6-v2 silently truncates at 256 word pieces: no chunk may reach past that."""
    model = SentenceTransformerEmbedder()
    assert model.max_tokens == 256
    # Word-piece-heavy text (numbers, rare words) is where word counts underestimate tokens.
    text = " ".join(
        f"Reimbursement-code XJ{i:05d} applies to Zürich/Łódź trips." for i in range(400)
    )
    doc = make_doc([("paragraph", text, ("Expenses", "Codes"), 3)])
    chunks = chunk_document(doc, count_tokens=model.count_tokens, max_tokens=model.max_tokens)
    counts = model.count_tokens([c.embedding_text for c in chunks])
    assert len(chunks) > 5
    assert max(counts) <= 256
    assert min(counts) > 128  # packed, not shredded


class RecordingCounter:
    """WordPiece-like counts (a word is one token however long) that record text lengths."""

    def __init__(self) -> None:
        self.longest = 0

    def __call__(self, texts):
        self.longest = max([self.longest, *(len(t) for t in texts)])
        return WORDS.count_tokens(texts)


@pytest.mark.parametrize(
    "body",
    [
        "x" * 300_000,  # one huge word: one token, must not be one huge chunk
        "word " * 60_000,  # one 300k-character line with no sentence end
        ("A sentence that goes on. " * 12_000),
    ],
    ids=["one-word", "one-line", "one-paragraph"],
)
def test_huge_blocks_are_cut_by_characters_before_tokenising(body):
    counter = RecordingCounter()
    doc = make_doc([("paragraph", body, ("H" * 100_000,), None)])
    doc = Document(doc.source, "T" * 100_000, doc.text, doc.blocks)
    chunks = chunk_document(doc, count_tokens=counter, max_tokens=64)
    budget = 64 - 2
    max_chars = budget * 8
    # Nothing tokenised or stored is much longer than the cap; no text is lost.
    assert counter.longest <= max_chars + 700
    assert all(len(c.text) <= max_chars for c in chunks)
    assert all(len(c.embedding_text) <= max_chars + 700 for c in chunks)
    assert "".join(c.text.replace(" ", "") for c in chunks) == body.replace(" ", "")
    assert all(WORDS.count_tokens([c.embedding_text])[0] <= 64 for c in chunks)


def test_a_heading_with_nothing_under_it_is_a_chunk():
    """Heading text is content: an empty section is indexed as its heading, while a heading
    whose text or sub-headings follow is only context."""
    doc = make_doc(
        [
            ("heading", "Security", ("Security",), None),
            ("paragraph", "Sign in at reception.", ("Security",), None),
            ("heading", "Hotline", ("Security", "Hotline"), None),
            ("heading", "Call 0800 555 0199", ("Security", "Hotline", "Call 0800 555 0199"), None),
            (
                "heading",
                "Lost badges go to extension 4417",
                ("Security", "Lost badges go to extension 4417"),
                None,
            ),
        ]
    )
    chunks = chunk_document(doc, count_tokens=WORDS.count_tokens, max_tokens=64)
    assert [(c.text, c.headings[-1]) for c in chunks] == [
        ("Sign in at reception.", "Security"),
        ("Call 0800 555 0199", "Call 0800 555 0199"),
        ("Lost badges go to extension 4417", "Lost badges go to extension 4417"),
    ]
