"""Table answers of the trained reader: which rows answer, from which tables (issue 11).

Each kind on a document of its own (never the sample_corpus documents it was seen on), with
the shipped embedder and selector, as a user meets them.
"""

from __future__ import annotations

import re

import numpy as np
from reader_helpers import chunk, hits

from ragkit.generators.extractive import ExtractiveGenerator
from ragkit.index.embedding import HashingEmbedder, load_embedder
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.reader import tables
from ragkit.reader.candidates import build_candidates, passages_text
from ragkit.reader.features import cheap_features
from ragkit.reader.lists import SHOWN_ITEMS
from ragkit.reader.selector import load_selector
from ragkit.text.segment import segment


def generator() -> ExtractiveGenerator:
    return ExtractiveGenerator(load_embedder(), threshold=0.0)


def lines(text: str) -> list[str]:
    """The answer's lines without their citation markers."""
    return [re.sub(r" \[\d+\]", "", line).strip() for line in text.splitlines()]


# --- a row naming the asked place, cut by stage 1 ------------------------------------------

PARKING = chunk(
    "Parking at our sites is booked through the facilities desk, within the daily rates "
    "below. The rates are per car per day, including the local parking tax. If no space is "
    "free within the rate, the facilities desk records an exception and the booking needs "
    "no further approval.\n\n"
    "| Site | Daily rate |\n|---|---|\n"
    "| Lisbon | 12 EUR |\n| Porto | 9 EUR |\n| Leeds | 14 GBP |\n| Cork | 8 EUR |\n"
    "| Other sites | Agreed with the facilities desk |\n\n"
    "Cycling to the site instead of parking is welcome, but no payment is made in place of "
    "the parking rate. Parking rates per day are reviewed each year.",
    "facilities/parking.md",
    "Parking policy",
    ("Parking policy", "3. Parking rates"),
)
PARKING_Q = "What is the parking rate per day in Leeds?"


def test_a_row_naming_the_asked_place_is_read_although_stage_1_cut_it():
    units, candidates = build_candidates(hits(PARKING), 5)
    cheap, crosses = cheap_features(PARKING_Q, candidates, passages_text(hits(PARKING)))
    first = load_selector().cheap_scores(cheap, crosses)
    keep = [int(i) for i in np.argsort(-first, kind="stable")[:3]]
    assert all(units[i].kind == "sentence" for i in keep)  # stage 1 cut every row
    leeds = next(i for i, c in enumerate(candidates) if "Leeds" in c.text)
    added = tables.table_candidates(PARKING_Q, units, candidates, first, keep, hits(PARKING))
    assert leeds in added and len(added) <= tables.MAX_TABLE_CANDIDATES
    # end to end: the row of the asked place answers, under its header
    answer = generator().generate(PARKING_Q, hits(PARKING))
    assert "| Leeds | 14 GBP |" in lines(answer.text), answer.text
    assert "| Lisbon | 12 EUR |" not in lines(answer.text), answer.text


# --- the asked names in the header, the asked thing in a row of another table -------------

ALLOWANCES = chunk(
    "| Allowance | Lisbon (EUR) | Leeds (GBP) | How it is paid |\n|---|---|---|---|\n"
    "| Monthly home working allowance | 30 EUR | 25 GBP | With the salary |\n"
    "| Full home working monthly allowance | 60 EUR | 50 GBP | With the salary |\n"
    "| Desk and chair (one-off) | 400 EUR | 350 GBP | Claimed as an expense |",
    "people/home-working.md",
    "Home working policy",
    ("Home working policy", "4. Allowances"),
)
LIMITS = chunk(
    "| Expense | Lisbon (EUR) | Leeds (GBP) |\n|---|---|---|\n"
    "| Breakfast on a trip | 15 EUR | 13 GBP |\n"
    "| Dinner on a trip | 45 EUR | 40 GBP |\n"
    "| Daily food cap on a trip | 80 EUR | 70 GBP |\n"
    "| Client dinner (per head) | 70 EUR | 60 GBP |",
    "money/claims.md",
    "Claims policy",
    ("Claims policy", "5. Limits"),
)


def test_tables_whose_header_names_the_asked_places_are_read_together():
    question = "What is the food allowance for Lisbon and Leeds?"
    h = hits(ALLOWANCES, LIMITS)
    units = [segment(c.chunk.text, i) for i, c in enumerate(h)]
    home = units[0][0]
    food = next(u for u in units[1] if "food" in LIMITS.text[u.start : u.end])
    assert tables.related_table(food, home, h, ["Lisbon", "Leeds"])
    assert not tables.related_table(food, home, h, [])  # no asked names: other tables
    answer = generator().generate(question, h)
    assert "| Daily food cap on a trip | 80 EUR | 70 GBP |" in lines(answer.text), answer.text
    assert "home working" not in answer.text, answer.text


# --- a question the header answers: the whole table ----------------------------------------

NOTICE = chunk(
    "Unless your contract says otherwise, these notice periods apply to both sides.\n\n"
    "| Years employed | Notice period |\n|---|---|\n"
    "| Under 1 year | 1 week |\n| 1 to 4 years | 1 month |\n"
    "| 5 to 9 years | 2 months |\n| 10 years or more | 3 months |",
    "people/leaving.md",
    "Leaving policy",
    ("Leaving policy", "2. Notice"),
)


def test_a_question_in_the_header_words_gets_the_whole_table():
    answer = generator().generate("What are the notice periods by years employed?", hits(NOTICE))
    shown = [line for line in lines(answer.text) if line.startswith("| ") and "---" not in line]
    assert shown[0] == "| Years employed | Notice period |", answer.text
    assert len(shown) == 5, answer.text  # the header and every row, nothing else of the table


def test_a_whole_table_past_the_shown_rows_says_how_many_more():
    rows = "".join(f"| Grade {n} | {20 + n} days |\n" for n in range(1, 21))
    grades = chunk(
        "| Grade | Leave days |\n|---|---|\n" + rows, "leave/grades.md", "Leave", ("Leave", "Days")
    )
    units = segment(grades.text, 0)
    question = "What are the leave days for each grade?"
    assert tables.header_asked(question, units[0], hits(grades))
    chosen = tables.best_rows(question, units[0], [units], hits(grades), HashingEmbedder(64).embed)
    assert chosen.whole and len(chosen.rows) == SHOWN_ITEMS
    assert len(chosen.left_out) == 20 - SHOWN_ITEMS
    answer = ExtractiveGenerator(HashingEmbedder(dim=2048), threshold=0.0).generate(
        question, hits(grades)
    )
    assert (
        answer.text.splitlines()[-1]
        == f"+{20 - SHOWN_ITEMS} more rows in leave/grades.md, Leave > Days"
    )


# --- rows of two tables under one header ---------------------------------------------------

LISBON = chunk(
    "| Date | Holiday |\n|---|---|\n| 1 January | New Year's Day |\n| 25 April | Freedom Day |\n"
    "| 1 May | Labour Day |\n| 13 June | Saint Anthony |\n| 25 December | Christmas Day |",
    "leave/holidays.md",
    "Holidays",
    ("Holidays", "Lisbon office"),
)
LEEDS = chunk(
    "| Date | Holiday |\n|---|---|\n| 1 January | New Year's Day |\n"
    "| 5 May | Early May bank holiday |\n| 26 May | Spring bank holiday |\n"
    "| 25 August | Summer bank holiday |\n| 25 December | Christmas Day |",
    "leave/holidays.md",
    "Holidays",
    ("Holidays", "Leeds office"),
)


def test_matching_rows_of_each_table_under_one_header_join_each_under_its_citation():
    answer = generator().generate("Which holidays are in May?", hits(LISBON, LEEDS))
    text = answer.text
    assert "| 1 May | Labour Day | [1]" in text.splitlines(), text
    assert "| 5 May | Early May bank holiday |" in lines(text), text
    assert "| 26 May | Spring bank holiday | [2]" in text.splitlines(), text
    assert "January" not in text and "June" not in text, text
    # each table under its own header line, each quoted in its own citation
    assert lines(text).count("| Date | Holiday |") == 2, text
    assert [c.source for c in answer.citations] == ["leave/holidays.md"] * 2


BANDS = chunk(
    "Salary bands are reviewed every April by the People team.\n\n"
    "| Band | Minimum salary | Maximum salary |\n|---|---|---|\n"
    + "".join(f"| L{n} | {20 + 10 * n},000 EUR | {30 + 10 * n},000 EUR |\n" for n in range(1, 9)),
    "managers/bands.md",
    "Salary bands",
    ("Salary bands", "Bands"),
)
GRADES = chunk(
    "| Grade | Leave days | Carry-over days |\n|---|---|---|\n"
    + "".join(f"| Grade {n} | {20 + n} days | {n} days |\n" for n in range(1, 16)),
    "leave/grades.md",
    "Leave",
    ("Leave", "Days by grade"),
)


def test_a_question_word_no_header_or_row_holds_never_gets_the_whole_table():
    # "senior engineer" is in no column, heading or row: a near miss, never the whole table
    for question, table in [
        ("What is the maximum salary for a senior engineer?", BANDS),
        ("How many leave days does a senior engineer get?", GRADES),
    ]:
        units = segment(table.text, 0)
        row = next(u for u in units if u.kind == "row")
        assert not tables.header_asked(question, row, hits(table)), question
        answer = generator().generate(question, hits(table))
        rows = [line for line in lines(answer.text) if line.startswith("| ")]
        assert len(rows) <= 1 + tables.MAX_ROWS, answer.text
    # every word of the question in the columns and headings: the table is asked for
    row = next(u for u in segment(BANDS.text, 0) if u.kind == "row")
    assert tables.header_asked("What are the salary bands?", row, hits(BANDS))


def test_a_question_naming_one_office_gets_that_office_table_rows_only():
    # both tables under "| Date | Holiday |"; the office is named in the headings only
    for question, wanted, other in [
        ("Which holidays are in May in the Lisbon office?", "| 1 May | Labour Day |", "May"),
        (
            "Which holidays does the Lisbon office have in December?",
            "| 25 December | Christmas Day |",
            "December",
        ),
    ]:
        answer = generator().generate(question, hits(LISBON, LEEDS))
        assert wanted in lines(answer.text), answer.text
        assert lines(answer.text).count("| Date | Holiday |") == 1, answer.text
        assert [c.source for c in answer.citations] == ["leave/holidays.md"], answer.text
        assert sum(other in line for line in lines(answer.text)) == 1, answer.text
    # the other way round: the Leeds question gets Leeds's rows, not Lisbon's
    answer = generator().generate(
        "Which holidays are in May in the Leeds office?", hits(LISBON, LEEDS)
    )
    assert "| 1 May | Labour Day |" not in lines(answer.text), answer.text
    assert "| 5 May | Early May bank holiday |" in lines(answer.text), answer.text


def test_a_table_continued_from_an_earlier_chunk_is_never_given_as_whole():
    # the chunker repeats the header above rows it carries on: the text is longer than the
    # document span it stands for, and the table's first rows are in another chunk
    text = "| Years employed | Notice period |\n|---|---|\n| 10 years or more | 3 months |"
    body = text.split("\n", 2)[2]
    carried = Chunk(
        chunk_id_for("people/leaving.md", text), "people/leaving.md", "Leaving policy",
        text, 500, 500 + len(body), None, ("Leaving policy", "2. Notice"), "0" * 8,
    )  # fmt: skip
    whole = chunk(text, "people/leaving.md", "Leaving policy", ("Leaving policy", "2. Notice"))
    question = "What are the notice periods by years employed?"
    assert tables.continued(carried) and not tables.continued(whole)
    row = segment(text, 0)[0]
    assert tables.header_asked(question, row, hits(whole))
    assert not tables.header_asked(question, row, hits(carried))
