"""PDF layout: running headers and footers dropped, paragraphs joined across page breaks with
`page`/`page_end`, headings from font size and weight, two-column pages read column by column.

Case 08 of ../shared/cases is copied to tests/fixtures/cases/08-pdf-page-break; the other PDFs
are drawn here with reportlab (tests/pdf_fixtures.py).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from pdf_fixtures import styled_pdf, two_column_pdf

from ingest.loaders import load_file
from ingest.loaders.base import Part
from ingest.loaders.pdf import join_across_pages
from ragkit.cli import main
from ragkit.index.records import Chunk, Document
from ragkit.types import Citation, page_label

CASE_08 = Path(__file__).parent / "fixtures" / "cases" / "08-pdf-page-break"
BIKE = (
    "Staff who cycle to work can join the bike-to-work scheme, which spreads the cost of a new "
    "bicycle of up to 1,500 EUR over twelve monthly salary deductions."
)


def outline(doc: Document) -> list[tuple]:
    return [(b.kind, b.text, b.page, b.page_end, b.headings) for b in doc.blocks]


def load_one(path: Path) -> Document:
    warnings: list[str] = []
    (doc,) = load_file(path, path.name, warnings=warnings)
    assert warnings == []
    for block in doc.blocks:
        assert doc.text[block.start : block.end] == block.text
    return doc


def test_case_08_header_footer_dropped_sentence_joined_sentence_case_headings() -> None:
    doc = load_one(CASE_08 / "benefits.pdf")
    pension, health, life = ("Pension",), ("Health insurance",), ("Life assurance",)
    assert outline(doc) == [
        ("heading", "Pension", 1, None, pension),
        (
            "paragraph",
            "The company matches employee pension contributions up to 6 percent of base "
            f"salary. {BIKE}",
            1,
            2,
            pension,
        ),
        ("heading", "Health insurance", 2, None, health),
        (
            "paragraph",
            "Private health insurance covers the employee and up to two dependants.",
            2,
            None,
            health,
        ),
        ("heading", "Life assurance", 3, None, life),
        ("paragraph", "Life assurance pays four times annual salary.", 3, None, life),
    ]
    assert "Brightwell" not in doc.text and "of 3" not in doc.text


def test_other_running_headers_and_page_numbers_are_dropped(tmp_path: Path) -> None:
    """Another header, a bare "- N -" page number, four pages; a heading at body size in bold."""
    path = tmp_path / "travel.pdf"
    pages = [
        [("h", "Booking travel"), ("p", "Book trains through the travel portal at least a"),
         ("low", "week ahead, and flights")],
        [("p", "at least three weeks ahead of the trip."), ("h", "Hotels"),
         ("p", "Hotel nights are capped at 140 EUR in capital cities.")],
        [("h", "Per diem"), ("p", "The daily allowance is 35 EUR.")],
        [("h", "Claims"), ("p", "Claims are filed within thirty days.")],
    ]  # fmt: skip
    styled_pdf(path, pages, header="ACME Travel Policy v3 (2026)", footer="- {n} -")
    doc = load_one(path)
    assert "ACME" not in doc.text and "- 2 -" not in doc.text
    joined = [b for b in doc.blocks if b.page_end]
    assert [(b.text, b.page, b.page_end) for b in joined] == [
        (
            "Book trains through the travel portal at least a week ahead, and flights at least "
            "three weeks ahead of the trip.",
            1,
            2,
        )
    ]
    assert [b.text for b in doc.blocks if b.kind == "heading"] == [
        "Booking travel",
        "Hotels",
        "Per diem",
        "Claims",
    ]


def test_body_text_repeated_on_pages_is_not_a_running_header(tmp_path: Path) -> None:
    """The same sentence in the middle of every page is content, not a header."""
    path = tmp_path / "forms.pdf"
    page = [("h", "Form"), ("p", "Sign and date the form before you hand it in.")]
    styled_pdf(path, [page, page, page], footer=None)
    doc = load_one(path)
    assert doc.text.count("Sign and date the form") == 3


def test_title_case_body_line_is_not_a_heading_when_fonts_mark_headings(tmp_path: Path) -> None:
    path = tmp_path / "leave.pdf"
    pages = [[("h", "Annual leave"), ("p", "Annual Leave Carry Over Rules"),
              ("p", "Up to five days may be carried over.")]]  # fmt: skip
    styled_pdf(path, pages)
    doc = load_one(path)
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["Annual leave"]
    assert {b.headings for b in doc.blocks} == {("Annual leave",)}


def test_numbered_headings_in_a_heading_font_nest_and_numbered_items_stay_a_list(
    tmp_path: Path,
) -> None:
    """A numbered "4. Approval limits" in a heading font is a heading (its bullet-like "N. "
    start once hid it, and its table was cited under the previous "3.2" subheading);
    "1. Give notice" items stay a list, whether set in the body font or in bold."""
    path = tmp_path / "policy.pdf"
    pages = [[
        ("title", "Leaving Policy"),
        ("h", "1. Giving notice"),
        ("p", "Tell your manager in writing before you hand in any equipment."),
        ("p", "1. Give notice to your manager in writing"),
        ("p", "2. Agree your last working day"),
        ("h2", "1.1 Notice periods"),
        ("p", "Notice periods depend on your length of service with the company."),
        ("h", "2. Returning equipment"),
        ("p", "Item"),
        ("p", "Return to"),
        ("p", "Laptop"),
        ("p", "IT desk"),
        ("p", "Badge"),
        ("p", "Reception"),
        ("h", "3. Final pay"),
        ("p", "Final pay is made on the next payroll date after you leave."),
        ("b", "1. Check your holiday balance"),
        ("b", "2. Confirm your bank details"),
        ("p", "Payroll answers questions about final pay within five working days."),
    ]]  # fmt: skip
    styled_pdf(path, pages)
    doc = load_one(path)
    assert [(b.text, b.headings) for b in doc.blocks if b.kind == "heading"] == [
        ("Leaving Policy", ("Leaving Policy",)),
        ("1. Giving notice", ("Leaving Policy", "1. Giving notice")),
        ("1.1 Notice periods", ("Leaving Policy", "1. Giving notice", "1.1 Notice periods")),
        ("2. Returning equipment", ("Leaving Policy", "2. Returning equipment")),
        ("3. Final pay", ("Leaving Policy", "3. Final pay")),
    ]
    sections = {b.text.split()[0]: b.headings[-1] for b in doc.blocks if b.kind != "heading"}
    assert sections["Item"] == "2. Returning equipment"  # the table after its heading
    lists = [b.text for b in doc.blocks if b.kind == "list"]
    assert any(text.startswith("1. Give notice") and "2. Agree" in text for text in lists)
    assert any(text.startswith("1. Check your") and "2. Confirm" in text for text in lists)


def test_sample_expenses_limits_tables_are_cited_under_their_own_sections() -> None:
    """The fresh-clone trial's report: the meal-limits and approvers tables of the sample
    expenses.pdf were cited under "3.2 Claims on behalf of others"."""
    path = Path(__file__).parents[1] / "sample_corpus" / "money" / "expenses.pdf"
    doc = load_one(path)
    tables = {b.text.split(" |")[0]: b.headings for b in doc.blocks if b.kind == "table"}
    assert tables == {
        "Total value of claim": ("Expenses Policy", "4. Approval limits"),
        "Expense": ("Expenses Policy", "5. Spending limits"),
    }
    meals = next(b for b in doc.blocks if b.text.startswith("Meals are reimbursed"))
    assert meals.headings == ("Expenses Policy", "5. Spending limits", "5.1 Meals")


def test_no_join_when_the_page_ends_a_sentence(tmp_path: Path) -> None:
    parts = [
        Part("paragraph", "The scheme ends in June.", page=1),
        Part("paragraph", "bicycles bought later are not covered", page=2),
        Part("paragraph", "Claims go to payroll and", page=2),
        Part("paragraph", "Payroll answers within a week.", page=3),
        Part("paragraph", "Receipts are kept for", page=3),
        Part("heading", "five years", page=4),
    ]
    assert join_across_pages(parts) == parts
    cut = [
        Part("paragraph", "A claim is paid within", page=1),
        Part("paragraph", "ten days.", page=2),
    ]
    assert join_across_pages(cut) == [
        Part("paragraph", "A claim is paid within ten days.", page=1, page_end=2)
    ]


LEFT = [
    "The IT service desk is staffed from 08:00 to",
    "18:00 on working days and answers calls",
    "within two minutes on average; out of hours",
    "an on-call engineer covers urgent faults.",
]
RIGHT = [
    "Vacancies are advertised for an internal role",
    "for ten working days before they are opened",
    "to outside candidates, and every applicant",
    "gets written feedback after the interview.",
]


@pytest.mark.parametrize("row_by_row", [True, False])
def test_two_columns_are_read_column_by_column(tmp_path: Path, row_by_row: bool) -> None:
    path = tmp_path / "services.pdf"
    two_column_pdf(path, "Services and hiring", LEFT, RIGHT, row_by_row=row_by_row)
    doc = load_one(path)
    assert outline(doc) == [
        ("heading", "Services and hiring", 1, None, ("Services and hiring",)),
        ("paragraph", " ".join(LEFT), 1, None, ("Services and hiring",)),
        ("paragraph", " ".join(RIGHT), 1, None, ("Services and hiring",)),
    ]


def test_two_columns_of_short_cells_stay_rows(tmp_path: Path) -> None:
    """A label/amount table is not two columns of prose: its rows stay together."""
    path = tmp_path / "limits.pdf"
    labels = ["Breakfast", "Lunch", "Dinner", "Hotel night"]
    amounts = ["20 EUR", "30 EUR", "55 EUR", "140 EUR"]
    two_column_pdf(path, "Limits", labels, amounts)
    doc = load_one(path)
    body = doc.text.split("\n\n", 1)[1]
    assert body.index("Breakfast") < body.index("20 EUR") < body.index("Lunch")


def test_page_span_and_ocr_confidence_round_trip_and_labels() -> None:
    chunk = Chunk("id", "a.pdf", "A", "text", 0, 4, 1, ("H",), "h", (), 2, 0.91)
    assert Chunk.from_json(json.loads(json.dumps(chunk.to_json()))) == chunk
    old = {k: v for k, v in chunk.to_json().items() if k not in {"page_end", "ocr_confidence"}}
    assert Chunk.from_json(old).page_end is None  # an index written before these fields
    citation = Citation.of(chunk, "text")
    assert citation.to_json()["page_end"] == 2 and citation.pages.startswith("pages 1-2")
    assert page_label(3) == "p. 3" and page_label(None, 2) == ""
    assert page_label(2, None, 0.914) == "p. 2, OCR text (confidence 91%)"


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def test_case_08_end_to_end(tmp_path: Path) -> None:
    """`ragkit ask` on case 08: the whole bicycle sentence cited as pages 1-2, the health
    question under "Health insurance", no header or footer text in any chunk."""
    index = str(tmp_path / "index")
    code, _ = cli("ingest", str(CASE_08), "--index", index, "--model", "hash:256", "--json")
    assert code == 0
    code, out = cli("search", "Brightwell Logistics Page of", "--index", index, "-k", "9", "--json")
    assert code == 0
    for hit in json.loads(out)["hits"]:
        assert "Brightwell" not in hit["text"] and "Page " not in hit["text"]
    question = "Up to what price of bicycle does the bike-to-work scheme cover?"
    code, out = cli("ask", question, "--index", index, "--json")
    answer = json.loads(out)
    assert code == 0 and "1,500 EUR over twelve monthly salary deductions" in answer["answer"]
    bike = [c for c in answer["citations"] if "1,500 EUR" in c["quote"]]
    assert bike and (bike[0]["page"], bike[0]["page_end"]) == (1, 2)
    assert BIKE in bike[0]["quote"]
    code, out = cli("ask", question, "--index", index)
    assert "benefits.pdf, pages 1-2, Pension" in out
    code, out = cli("ask", "Who does private health insurance cover?", "--index", index, "--json")
    answer = json.loads(out)
    assert "two dependants" in answer["answer"]
    assert answer["citations"][0]["section"] == "Health insurance"
