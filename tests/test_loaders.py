"""Each loader on small hand-written inputs, with literal expected blocks.

Every test checks the offset invariant: each block's text is exactly the slice of the
document text it points at, and blocks appear in order without overlapping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_SUFFIXES, load_file
from ingest.loaders.pdf import heading_level, page_parts
from ragkit.errors import LoadError, NothingToIndex
from ragkit.index.records import Document


def check_offsets(doc: Document) -> None:
    previous_end = 0
    for block in doc.blocks:
        assert doc.text[block.start : block.end] == block.text
        assert block.start >= previous_end
        previous_end = block.end
        if block.header is not None:
            assert block.kind == "table"
            assert block.text.startswith(block.header)


def outline(doc: Document) -> list[tuple]:
    return [(b.kind, b.text, b.headings) for b in doc.blocks]


def load_one(path: Path, source: str | None = None, **kwargs: object) -> Document:
    docs = load_file(path, source or path.name, **kwargs)
    assert len(docs) == 1
    check_offsets(docs[0])
    return docs[0]


# ---- Markdown ----

MARKDOWN = """\
---
title: Travel policy
access: [managers, hr]
owner: finance
---
# Travel

Intro with a [link](https://example.org/x) and **bold** text.{% include "note.html" %}
<!-- reviewer: check the limits -->

Setext section
--------------

- first item
  continued here
- second item
  - nested item

```python
# not a heading
x = 1
```

| Item | Limit |
|------|:------|
| Taxi | 30    |

### Deep {#deep}
Text with {{ page.var }}liquid and a \\*literal\\* star.
"""


def test_markdown_blocks_headings_and_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "travel.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = load_one(path, "policies/travel.md")
    assert doc.source == "policies/travel.md"
    assert doc.title == "Travel policy"
    assert doc.groups == ("managers", "hr")
    assert doc.metadata == {
        "title": "Travel policy",
        "access": ["managers", "hr"],
        "owner": "finance",
    }
    assert outline(doc) == [
        ("heading", "Travel", ("Travel",)),
        ("paragraph", "Intro with a link and bold text.", ("Travel",)),
        ("heading", "Setext section", ("Travel", "Setext section")),
        (
            "list",
            "- first item\n  continued here\n- second item\n  - nested item",
            ("Travel", "Setext section"),
        ),
        ("code", "# not a heading\nx = 1", ("Travel", "Setext section")),
        (
            "table",
            "| Item | Limit |\n| --- | :--- |\n| Taxi | 30 |",
            ("Travel", "Setext section"),
        ),
        ("heading", "Deep", ("Travel", "Setext section", "Deep")),
        (
            "paragraph",
            "Text with liquid and a *literal* star.",
            ("Travel", "Setext section", "Deep"),
        ),
    ]
    table = doc.blocks[5]
    assert table.header == "| Item | Limit |\n| --- | :--- |"
    assert "reviewer" not in doc.text and "{%" not in doc.text


def test_markdown_keeps_liquid_and_comments_inside_code(tmp_path: Path) -> None:
    path = tmp_path / "code.md"
    path.write_text("Intro.\n\n~~~\n{{ keep }} <!-- keep -->\n~~~\n", encoding="utf-8")
    doc = load_one(path)
    assert outline(doc)[1] == ("code", "{{ keep }} <!-- keep -->", ())


def test_markdown_indented_code_ordered_lists_and_quotes(tmp_path: Path) -> None:
    path = tmp_path / "setup.md"
    path.write_text(
        "Run this:\n\n    make install\n    # not a heading\n\n3. third\n4. fourth\n   more\n\n"
        "> Quoted *advice* with `code` and ![a chart](c.png).\n",
        encoding="utf-8",
    )
    assert outline(load_one(path)) == [
        ("paragraph", "Run this:", ()),
        ("code", "make install\n# not a heading", ()),
        ("list", "3. third\n4. fourth\n   more", ()),
        ("paragraph", "Quoted advice with code and a chart.", ()),
    ]


def test_markdown_numbers_inside_a_paragraph_are_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "history.md"
    path.write_text("We were founded in\n2019. The team grew.\n- but this is a list\n", "utf-8")
    assert outline(load_one(path)) == [
        ("paragraph", "We were founded in\n2019. The team grew.", ()),
        ("list", "- but this is a list", ()),
    ]


def test_markdown_title_falls_back_to_h1_then_file_name(tmp_path: Path) -> None:
    with_h1 = tmp_path / "a.md"
    with_h1.write_text("Preamble.\n\n# Leave Policy\n\nText.\n", encoding="utf-8")
    assert load_one(with_h1).title == "Leave Policy"
    index = tmp_path / "parental_leave" / "index.md"
    index.parent.mkdir()
    index.write_text("## Only a sub-heading\n\nText.\n", encoding="utf-8")
    assert load_one(index, "parental_leave/index.md").title == "Parental leave"


def test_markdown_comma_separated_groups(tmp_path: Path) -> None:
    path = tmp_path / "pay.md"
    path.write_text("---\ngroups: managers, payroll\n---\nSalaries.\n", encoding="utf-8")
    assert load_one(path).groups == ("managers", "payroll")


def test_markdown_raw_html_table(tmp_path: Path) -> None:
    path = tmp_path / "office.md"
    path.write_text(
        "## Office\n\n<table>\n  <tr><th>Key</th><th>Value</th></tr>\n\n"
        "  <tr><td><strong>City</strong></td><td>Chicago</td></tr>\n</table>\n\nAfter.\n",
        encoding="utf-8",
    )
    doc = load_one(path)
    assert outline(doc) == [
        ("heading", "Office", ("Office",)),
        ("table", "Key | Value\nCity | Chicago", ("Office",)),
        ("paragraph", "After.", ("Office",)),
    ]
    assert doc.blocks[1].header == "Key | Value"


@pytest.mark.parametrize(
    ("front_matter", "message"),
    [
        ("title: [unclosed", "front matter is not valid YAML"),
        ("access: {managers: yes}", "front matter 'access' must be a list of group names"),
        ("Access: [managers]", "front matter key 'Access' looks like 'access'"),
        ("acces: [managers]", "front matter key 'acces' looks like 'access'"),
        ("group: managers", "front matter key 'group' looks like 'groups'"),
        ("GROUPS: [managers]", "front matter key 'GROUPS' looks like 'groups'"),
        ("groups: []\ngroups: [managers]", "duplicate key 'groups'"),
    ],
)
def test_markdown_bad_front_matter_is_a_load_error(
    tmp_path: Path, front_matter: str, message: str
) -> None:
    # Failing closed: a page whose access groups cannot be read must not become public.
    path = tmp_path / "bad.md"
    path.write_text(f"---\n{front_matter}\n---\nSecret salaries.\n", encoding="utf-8")
    with pytest.raises(LoadError, match=message):
        load_file(path, "bad.md")


@pytest.mark.parametrize(
    "text",
    [
        "\n\n---\naccess: [managers]\n---\nSecret salaries.\n",  # blank lines first
        "+++\naccess = ['managers']\ntitle = 'Pay'\n+++\nSecret salaries.\n",  # TOML (Hugo)
    ],
    ids=["blank-line-first", "toml"],
)
def test_markdown_front_matter_variants_keep_their_groups(tmp_path: Path, text: str) -> None:
    path = tmp_path / "pay.md"
    path.write_text(text, encoding="utf-8")
    warnings: list[str] = []
    doc = load_one(path, warnings=warnings)
    assert doc.groups == ("managers",)
    assert "access" not in doc.text and doc.text.strip() == "Secret salaries."
    assert bool(warnings) == text.startswith("\n")


def test_markdown_redirect_stub_has_nothing_to_index(tmp_path: Path) -> None:
    path = tmp_path / "old.md"
    path.write_text("---\ntitle: Old\nredirect_to: /new/\n---\n", encoding="utf-8")
    with pytest.raises(NothingToIndex, match=r"redirect page \(to /new/\)"):
        load_file(path, "old.md")
    path.write_text("---\ntitle: Placeholder\n---\n{% include nav.html %}\n", encoding="utf-8")
    with pytest.raises(NothingToIndex, match="no text besides front matter: an empty page"):
        load_file(path, "old.md")


# ---- Plain text ----


def test_text_paragraphs_headings_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "leave_policy.txt"
    path.write_text(
        "Leave Policy\n============\n\nANNUAL LEAVE\nStaff get 25 days.\nBook them early.\n\n"
        "- carry over 5 days\n\n- ask your manager\n\nSick leave\n----------\n\nCall in by 9.\n",
        encoding="utf-8",
    )
    doc = load_one(path)
    assert doc.title == "Leave Policy"
    assert outline(doc) == [
        ("heading", "Leave Policy", ("Leave Policy",)),
        ("heading", "ANNUAL LEAVE", ("Leave Policy", "ANNUAL LEAVE")),
        ("paragraph", "Staff get 25 days.\nBook them early.", ("Leave Policy", "ANNUAL LEAVE")),
        ("list", "- carry over 5 days\n- ask your manager", ("Leave Policy", "ANNUAL LEAVE")),
        ("heading", "Sick leave", ("Leave Policy", "Sick leave")),
        ("paragraph", "Call in by 9.", ("Leave Policy", "Sick leave")),
    ]


# ---- HTML ----


def test_html_structure(tmp_path: Path) -> None:
    path = tmp_path / "benefits.html"
    path.write_text(
        """<!doctype html><html><head><title>Benefits</title><style>p{}</style></head>
        <body><nav><a href="/">Home</a></nav><script>var x = 1;</script>
        <h2>Health</h2><p>Cover for <b>you</b> and your family,<br>from day one.</p>
        <ul><li>Dental<ul><li>Checkups</li></ul></li><li>Vision</li></ul>
        <h3>Costs</h3><table><tr><th>Plan</th><th>Price</th></tr>
        <tr><td>Basic</td><td>10</td></tr></table><pre>  code  block</pre>
        <footer>Copyright</footer></body></html>""",
        encoding="utf-8",
    )
    doc = load_one(path)
    assert doc.title == "Benefits"
    assert outline(doc) == [
        ("heading", "Health", ("Health",)),
        ("paragraph", "Cover for you and your family,\nfrom day one.", ("Health",)),
        ("list", "- Dental\n  - Checkups\n- Vision", ("Health",)),
        ("heading", "Costs", ("Health", "Costs")),
        ("table", "Plan | Price\nBasic | 10", ("Health", "Costs")),
        ("code", "  code  block", ("Health", "Costs")),
    ]
    assert doc.blocks[4].header == "Plan | Price"


def test_html_marked_main_content_only_and_declared_language(tmp_path: Path) -> None:
    """A page that marks its main content gives only that, however short: no cookie banner,
    sidebar or menu; <html lang> is the declared language."""
    path = tmp_path / "ponto.html"
    path.write_text(
        """<html lang="pt-BR"><head><title>Ponto</title></head><body>
        <div id="cookie-banner">Usamos cookies para melhorar a sua experiência.</div>
        <nav><a href="/">Início</a></nav><aside>Páginas populares: Férias, Holerite</aside>
        <main><h1>Ponto eletrônico</h1><p>Registre o ponto na entrada e na saída.</p>
        <table><tr><th>Turno</th><th>Entrada</th></tr><tr><td>Manhã</td><td>08:00</td></tr>
        </table></main><footer>© Empresa</footer></body></html>""",
        encoding="utf-8",
    )
    doc = load_one(path)
    assert doc.language == "pt-BR"
    assert outline(doc) == [
        ("heading", "Ponto eletrônico", ("Ponto eletrônico",)),
        ("paragraph", "Registre o ponto na entrada e na saída.", ("Ponto eletrônico",)),
        ("table", "Turno | Entrada\nManhã | 08:00", ("Ponto eletrônico",)),
    ]


# ---- DOCX ----


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Core Title"
    document.add_paragraph("Expenses Handbook", style="Title")
    document.add_heading("Claims", level=1)
    document.add_paragraph("Claim within 30 days.")
    document.add_paragraph("Keep receipts", style="List Bullet")
    document.add_paragraph("Use the form", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    cells = table.rows[0].cells + table.rows[1].cells
    for cell, text in zip(cells, ["Item", "Limit", "Taxi", "30"], strict=True):
        cell.text = text
    document.add_heading("Travel", level=2)
    document.add_paragraph("Book trains.")
    document.save(str(path))


def test_docx_structure_in_document_order(tmp_path: Path) -> None:
    path = tmp_path / "expenses.docx"
    make_docx(path)
    doc = load_one(path)
    assert doc.title == "Expenses Handbook"
    path_claims = ("Expenses Handbook", "Claims")
    assert outline(doc) == [
        ("heading", "Expenses Handbook", ("Expenses Handbook",)),
        ("heading", "Claims", path_claims),
        ("paragraph", "Claim within 30 days.", path_claims),
        ("list", "- Keep receipts\n- Use the form", path_claims),
        ("table", "Item | Limit\nTaxi | 30", path_claims),
        ("heading", "Travel", (*path_claims, "Travel")),
        ("paragraph", "Book trains.", (*path_claims, "Travel")),
    ]
    assert doc.blocks[4].header == "Item | Limit"


def test_docx_core_title_when_no_title_or_h1(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Core Title"
    document.add_paragraph("Just text.")
    path = tmp_path / "plain.docx"
    document.save(str(path))
    assert load_one(path).title == "Core Title"


# ---- JSONL ----


def test_jsonl_records(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    records = [
        {"_id": "d1", "title": "Aspirin", "text": "Aspirin thins blood.\n\nTake with food.",
         "metadata": {"year": 2001}},
        {"_id": 7, "title": "", "text": "Untitled record."},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    docs = load_file(path, "data/corpus.jsonl")
    for doc in docs:
        check_offsets(doc)
    assert [d.source for d in docs] == ["data/corpus.jsonl#d1", "data/corpus.jsonl#7"]
    assert [d.title for d in docs] == ["Aspirin", "7"]
    assert outline(docs[0]) == [
        ("paragraph", "Aspirin thins blood.", ()),
        ("paragraph", "Take with food.", ()),
    ]
    assert docs[0].metadata == {"year": 2001}
    assert [d.language for d in docs] == [None, None]  # undeclared: detected at chunking


def test_jsonl_records_may_declare_their_language(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    records = [
        {"_id": "a", "text": "Férias anuais: 25 dias.", "language": "pt-BR"},
        {"_id": "b", "text": "Annual leave.", "metadata": {"lang": "en"}},
        {"_id": "c", "text": "No tag.", "language": 3},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert [d.language for d in load_file(path, "c.jsonl")] == ["pt-BR", "en", None]


def test_jsonl_bad_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        '{"_id": "a", "text": "good"}\nnot json\n{"text": "no id"}\n{"_id": "a", "text": "dup"}\n',
        encoding="utf-8",
    )
    warnings: list[str] = []
    docs = load_file(path, "corpus.jsonl", warnings=warnings)
    assert [d.text for d in docs] == ["good"]
    assert warnings == [
        "skipped 3 bad line(s): line 2: invalid JSON (Expecting value), "
        "line 3: missing '_id', line 4: repeated _id 'a'"
    ]


# ---- PDF ----


def make_pdf(path: Path, pages: list[list[str]], *, password: str | None = None) -> None:
    canvas_module = pytest.importorskip("reportlab.pdfgen.canvas", reason="pip install reportlab")
    canvas = canvas_module.Canvas(str(path), encrypt=password)
    for lines in pages:
        y = 800
        for line in lines:
            canvas.drawString(72, y, line)
            y -= 14
        canvas.showPage()
    canvas.save()


PDF_PAGES = [
    [
        "1. Travel Expenses",
        "Employees may claim travel costs when a trip is approved in advance by the",
        "manager of their team.",
        "Receipts are required for every claim above twenty euros, including taxis and",
        "public transport.",
        "- Keep the original receipt",
        "- Submit claims within thirty days of the end of the trip, using the expense",
        "form on the intranet",
    ],
    [
        "2. Meals",
        "Meals are reimbursed up to a daily limit of forty euros per person on trips that",
        "last more than one day.",
    ],
]


def test_pdf_pages_paragraphs_lists_and_headings(tmp_path: Path) -> None:
    path = tmp_path / "expense_policy.pdf"
    make_pdf(path, PDF_PAGES)
    doc = load_one(path)
    assert doc.title == "Expense policy"
    assert doc.pages == 2
    travel, meals = ("1. Travel Expenses",), ("2. Meals",)
    assert [(b.kind, b.text, b.page, b.headings) for b in doc.blocks] == [
        ("heading", "1. Travel Expenses", 1, travel),
        (
            "paragraph",
            "Employees may claim travel costs when a trip is approved in advance by the "
            "manager of their team.",
            1,
            travel,
        ),
        (
            "paragraph",
            "Receipts are required for every claim above twenty euros, including taxis and "
            "public transport.",
            1,
            travel,
        ),
        (
            "list",
            "- Keep the original receipt\n- Submit claims within thirty days of the end of the "
            "trip, using the expense form on the intranet",
            1,
            travel,
        ),
        ("heading", "2. Meals", 2, meals),
        (
            "paragraph",
            "Meals are reimbursed up to a daily limit of forty euros per person on trips that "
            "last more than one day.",
            2,
            meals,
        ),
    ]


def test_pdf_encrypted_with_password(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    make_pdf(path, PDF_PAGES, password="s3cret")
    doc = load_one(path, passwords=["wrong", "s3cret"])
    assert doc.blocks[0].text == "1. Travel Expenses"
    with pytest.raises(LoadError, match="encrypted PDF: supply the password with --password-file"):
        load_file(path, "secret.pdf")


def make_table_pdf(path: Path, *, valign: str) -> None:
    """A numbered heading, a paragraph, a label/amount table whose label "Team celebration
    (per head, per quarter)" wraps onto two lines, and a numbered sub-heading."""
    platypus = pytest.importorskip("reportlab.platypus", reason="pip install reportlab")
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm

    style = getSampleStyleSheet()["Normal"]
    rows = [
        ["Expense", "Limit"],
        ["Breakfast", "20 EUR"],
        ["Dinner while travelling", "55 EUR"],
        [platypus.Paragraph("Team celebration (per head, per quarter)", style), "40 EUR"],
    ]
    table = platypus.Table(rows, colWidths=[45 * mm, 30 * mm], hAlign="LEFT")
    table.setStyle([("VALIGN", (0, 0), (-1, -1), valign)])
    story = [
        platypus.Paragraph("2. Meal limits", style),
        platypus.Paragraph(MEALS, style),
        table,
        platypus.Paragraph("2.1 Receipts", style),
        platypus.Paragraph(RECEIPTS, style),
    ]
    platypus.SimpleDocTemplate(str(path), invariant=1).build(story)


MEALS = (
    "Meals are reimbursed up to the limits below when you travel on business, per person and "
    "per day, tips included."
)
RECEIPTS = (
    "Keep an itemised receipt for every meal over 25 EUR and attach a photo of it to the claim "
    "in the expenses tool."
)


# The row's other cells sit at the top or at the bottom of the wrapped label.
@pytest.mark.parametrize("valign", ["TOP", "BOTTOM"])
def test_pdf_table_keeps_amounts_with_their_labels(tmp_path: Path, valign: str) -> None:
    path = tmp_path / "meals.pdf"
    make_table_pdf(path, valign=valign)
    doc = load_one(path)
    limits, receipts = ("2. Meal limits",), ("2. Meal limits", "2.1 Receipts")
    assert [(b.kind, b.text, b.page, b.headings) for b in doc.blocks] == [
        ("heading", "2. Meal limits", 1, limits),
        ("paragraph", MEALS, 1, limits),
        (
            "table",
            "Expense | Limit\n"
            "Breakfast | 20 EUR\n"
            "Dinner while travelling | 55 EUR\n"
            "Team celebration (per head, per quarter) | 40 EUR",
            1,
            limits,
        ),
        ("heading", "2.1 Receipts", 1, receipts),
        ("paragraph", RECEIPTS, 1, receipts),
    ]
    assert doc.blocks[2].header == "Expense | Limit"


# What pypdf gives for a page with a two-column table: one cell per line, and in layout mode
# one row per line with the cells at fixed columns.
APPROVAL_PLAIN = """\
4. Approval limits
Claims are approved in the expenses tool before they are paid; the approver depends on the value
of the claim.
Total value of claim
Approver
Up to 1,000 EUR
Line manager
Over 1,000 EUR
Department head
Claims by a department head are approved by the Chief Financial Officer, and claims by the
CFO are approved by the CEO."""
APPROVAL_LAYOUT = """\
 4. Approval limits
 Claims are approved in the expenses tool before they are paid; the approver depends on the value
 of the claim.

   Total value of claim          Approver
   Up to 1,000 EUR               Line manager

   Over 1,000 EUR                Department head

 Claims by a department head are approved by the Chief Financial Officer, and claims by the
 CFO are approved by the CEO."""
APPROVAL_AROUND = [
    ("heading", "4. Approval limits"),
    (
        "paragraph",
        "Claims are approved in the expenses tool before they are paid; the approver depends on "
        "the value of the claim.",
    ),
    "the table",
    (
        "paragraph",
        "Claims by a department head are approved by the Chief Financial Officer, and claims by "
        "the CFO are approved by the CEO.",
    ),
]


def test_pdf_grid_from_layout_text_becomes_a_table() -> None:
    parts = page_parts(APPROVAL_PLAIN, 2, layout=lambda: APPROVAL_LAYOUT)
    table = (
        "table",
        "Total value of claim | Approver\nUp to 1,000 EUR | Line manager\n"
        "Over 1,000 EUR | Department head",
    )
    assert [(p.kind, p.text) for p in parts] == [
        table if part == "the table" else part for part in APPROVAL_AROUND
    ]
    assert parts[2].header == "Total value of claim | Approver"
    assert {p.page for p in parts} == {2}


@pytest.mark.parametrize("layout", [None, "", " one line, no grid"])
def test_pdf_cell_lines_without_a_grid_stay_together_and_are_not_headings(
    layout: str | None,
) -> None:
    parts = page_parts(APPROVAL_PLAIN, 2, layout=None if layout is None else lambda: layout)
    cells = (
        "paragraph",
        "Total value of claim\nApprover\nUp to 1,000 EUR\nLine manager\nOver 1,000 EUR\n"
        "Department head",
    )
    assert [(p.kind, p.text) for p in parts] == [
        cells if part == "the table" else part for part in APPROVAL_AROUND
    ]


def test_pdf_numbered_list_is_not_headings_and_a_list_ends_at_a_heading() -> None:
    text = """\
Job Roles
1. Chief Executive Officer
2. Chief Operating Officer
3. Chief Financial Officer
The roles above report to the board, which meets four times a year to review the company's
results.
• Submit each claim within 30 days of incurring the cost. Claims older than 90 days are not
paid.
3.1 Missing receipts
If a receipt has been lost, complete the Missing Receipt Declaration in the expenses tool and
attach it to the claim."""
    assert [(p.kind, p.text, p.level) for p in page_parts(text, 1)] == [
        ("heading", "Job Roles", 2),
        (
            "list",
            "1. Chief Executive Officer\n2. Chief Operating Officer\n3. Chief Financial Officer",
            0,
        ),
        (
            "paragraph",
            "The roles above report to the board, which meets four times a year to review the "
            "company's results.",
            0,
        ),
        (
            "list",
            "• Submit each claim within 30 days of incurring the cost. Claims older than 90 days "
            "are not paid.",
            0,
        ),
        ("heading", "3.1 Missing receipts", 2),
        (
            "paragraph",
            "If a receipt has been lost, complete the Missing Receipt Declaration in the expenses "
            "tool and attach it to the claim.",
            0,
        ),
    ]


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("3. Expenses", 1),
        ("3. Submitting a claim", 1),  # numbered: any case
        ("3.1 Meal limits", 2),
        ("3 Travel Expenses", 1),
        ("COVERED SERVICES", 1),
        ("Tips for Employees", 2),
        ("Copayments (Copays)", 2),
        ("25 GBP", 0),  # amounts, figures and other table cells
        ("17 GBP", 0),
        ("1,000 to 5,000 EUR (850 to 4,250 GBP)", 0),
        ("Up to 1,000 EUR (850 GBP)", 0),
        ("0.43 EUR per km", 0),
        ("$40 Per Night", 0),
        ("10%", 0),
        ("2024-25", 0),
        ("Page 3", 0),
        ("Dinner while travelling", 0),  # sentence case without a number
        ("Agreed with travel@northwind.example", 0),
        ("Meals and Drinks,", 0),
        ("Expenses ..... 12", 0),
        ("Position: Chief Executive Officer", 0),
    ],
)
def test_pdf_heading_level(line: str, level: int) -> None:
    assert heading_level(line) == level


# ---- all formats ----


def test_every_suffix_has_a_loader() -> None:
    assert SUPPORTED_SUFFIXES == (
        ".docx", ".htm", ".html", ".jsonl", ".markdown", ".md", ".pdf", ".txt"
    )  # fmt: skip


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "slides.pptx"
    path.write_bytes(b"PK")
    with pytest.raises(LoadError) as caught:
        load_file(path, "deck/slides.pptx")
    assert str(caught.value) == (
        "deck/slides.pptx: unsupported file type '.pptx' (supported: .docx, .htm, .html, "
        ".jsonl, .markdown, .md, .pdf, .txt)"
    )


@pytest.mark.parametrize(
    "content",
    ["", "\n", "Plain line", "emoji 🙂 and CJK 你好\n\nمرحبا", "# H\n\n" + "word " * 500],
)
@pytest.mark.parametrize("suffix", [".md", ".txt", ".html"])
def test_offsets_invariant_on_odd_inputs(tmp_path: Path, suffix: str, content: str) -> None:
    path = tmp_path / f"doc{suffix}"
    path.write_text(content, encoding="utf-8")
    try:
        doc = load_one(path)
    except LoadError as error:
        assert not content.strip()
        assert error.reason == "empty file"
    else:
        assert doc.text == doc.text.strip()
