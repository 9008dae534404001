"""The row of a bracket table that holds the asker's number answers (issue 11): "after 15
years" over "Under 2 years", "2 to 5 years", "6 to 9 years", "10 years or more" is the last
row, whose open end is written in words no rule lists (`ragkit.reader.brackets`).

Documents of our own (another company, other numbers, one in Portuguese), with the shipped
embedder and selector, as a user meets them.
"""

from __future__ import annotations

import re

from reader_helpers import chunk, hits

from ragkit.generators.extractive import ExtractiveGenerator
from ragkit.index.embedding import load_embedder
from ragkit.reader.brackets import asked_quantities, bracket_rows

SABBATICAL_ROWS = [
    "| Under 2 years | 3 days | None |",
    "| 2 to 5 years | 5 days | 1 week |",
    "| 6 to 9 years | 8 days | 2 weeks |",
    "| 10 years or more | 12 days | 4 weeks |",
]
SABBATICAL_HEADER = "| Length of service | Study days per year | Paid sabbatical |\n|---|---|---|"


def test_a_number_past_the_last_bracket_is_in_the_open_ended_row():
    rows = SABBATICAL_ROWS
    header = SABBATICAL_HEADER
    assert bracket_rows("How many study days after 15 years of service?", rows, header) == {
        3: {15.0}
    }
    assert bracket_rows("I have 7 years of service.", rows, header) == {2: {7.0}}
    assert bracket_rows("I joined 1 year ago: study days?", rows, header) == {0: {1.0}}
    # between two brackets: the lower one (5.5 years is past "2 to 5", before "6 to 9")
    assert set(bracket_rows("after 5.5 years", rows, header)) == {1}
    # "12 days" counts days: the days column is single figures (values, not brackets)
    assert bracket_rows("Do I get 12 days?", rows, header) == {}
    assert bracket_rows("How many study days do I get?", rows, header) == {}


def test_a_closed_end_holds_no_number_past_it_and_a_falling_scale_reads_bottom_up():
    closed = ["| 1 to 3 km | 5 EUR |", "| 4 to 10 km | 9 EUR |", "| 11 to 25 km | 15 EUR |"]
    assert bracket_rows("Commuting 40 km each way?", closed, "| Distance | Allowance |") == {}
    assert bracket_rows("Commuting 8 km each way?", closed, "| Distance | Allowance |") == {
        1: {8.0}
    }
    falling = ["| 20+ anos | 90 dias |", "| 10 a 19 anos | 60 dias |", "| 1 a 9 anos | 30 dias |"]
    question = "Quanto aviso prévio tenho depois de 25 anos de casa?"
    assert asked_quantities(question) == [(25.0, {"ano"})]
    assert bracket_rows(question, falling, "| Tempo de casa | Aviso prévio |") == {0: {25.0}}
    assert bracket_rows("E com 12 anos?", falling, "| Tempo de casa | Aviso prévio |") == {
        1: {12.0}
    }


def test_an_amount_is_counted_by_its_currency_sign_or_code():
    rows = [
        "| Up to 1,000 EUR | Team lead |",
        "| 1,001 to 10,000 EUR | Department head |",
        "| Over 10,000 EUR | Finance director |",
    ]
    header = "| Purchase value | Approver |"
    assert asked_quantities("Who approves a €25,000 laptop order?") == [
        (25000.0, {"eur", "lapto"})  # the word after it, and the sign as its code
    ]
    assert bracket_rows("Who approves a €25,000 laptop order?", rows, header) == {2: {25000.0}}
    assert bracket_rows("Who approves EUR 400 of software?", rows, header) == {0: {400.0}}
    assert bracket_rows("Who approves a 4.500 EUR chair?", rows, header) == {1: {4500.0}}
    # a code's digits are no number ("L4"), a number counted by nothing picks no column
    assert asked_quantities("What does level L4 earn in 2025?") == []


def test_a_date_column_is_no_scale():
    # "17 March 2025" holds two numbers that make no range: no bracket, though the days and
    # the year rise row by row (the day "17" of the question is no count on a scale)
    rows = [
        "| 2 January 2026 | Friday | New Year holiday |",
        "| 19 March 2026 | Thursday | Founders' Day |",
        "| 24 April 2026 | Friday | Spring holiday |",
    ]
    assert bracket_rows("Is 19 March a holiday?", rows, "| Date | Day | Holiday |") == {}


def test_the_header_names_what_bare_numbers_count():
    rows = ["| 0-2 | 1 week |", "| 3-7 | 2 weeks |", "| 8+ | 1 month |"]
    header = "| Years employed | Notice |"
    assert bracket_rows("What notice after 15 years?", rows, header) == {2: {15.0}}


# --- end to end ---------------------------------------------------------------------------

STUDY = chunk(
    "Bellweather Freight Ltd grants study days and a paid sabbatical that grow with "
    "continuous service. The new entitlement applies from the first month after the "
    "anniversary.\n\n"
    f"{SABBATICAL_HEADER}\n" + "\n".join(SABBATICAL_ROWS),
    "people/study-and-sabbatical.md",
    "Study leave and sabbaticals",
    ("Study leave and sabbaticals", "2. Entitlement by service"),
)
AVISO = chunk(
    "O aviso prévio da Transportes Ribeira depende do tempo de casa, como na tabela "
    "abaixo. O aviso vale para as duas partes.\n\n"
    "| Tempo de casa | Aviso prévio | Dias de férias extra |\n|---|---|---|\n"
    "| Menos de 1 ano | 15 dias | 0 |\n| 1 a 4 anos | 30 dias | 1 |\n"
    "| 5 a 9 anos | 45 dias | 2 |\n| 10 anos ou mais | 60 dias | 3 |",
    "rh/desligamento.md",
    "Desligamento",
    ("Desligamento", "3. Aviso prévio"),
)


def shown_rows(text: str) -> list[str]:
    found = [re.sub(r" \[\d+\]", "", line).strip() for line in text.splitlines()]
    return [line for line in found if line.startswith("| ") and "---" not in line]


def test_the_row_whose_bracket_holds_the_asked_years_answers_alone():
    generator = ExtractiveGenerator(load_embedder(), threshold=0.0)
    answer = generator.generate(
        "How many study days do I get after 15 years of service?", hits(STUDY)
    )
    assert shown_rows(answer.text)[1:] == ["| 10 years or more | 12 days | 4 weeks |"], answer.text
    answer = generator.generate("Qual é o aviso prévio depois de 20 anos de casa?", hits(AVISO))
    assert shown_rows(answer.text)[1:] == ["| 10 anos ou mais | 60 dias | 3 |"], answer.text


APPROVALS = chunk(
    "Every purchase order at Kestrel Instruments needs one approval before it is placed, by "
    "the approver below for its value including tax.\n\n"
    "| Purchase value | Approver |\n|---|---|\n"
    "| Up to 1,000 EUR | Team lead |\n| 1,001 to 10,000 EUR | Department head |\n"
    "| Over 10,000 EUR | Finance director |",
    "finance/purchasing.md",
    "Purchasing policy",
    ("Purchasing policy", "3. Approvals"),
)


def test_a_row_of_another_bracket_never_stays_beside_the_asker_s():
    # the sentence answers first; a row joins it, and brings its table's bracket row,
    # which replaces it when its own bracket is another case ("Up to 1,000 EUR")
    generator = ExtractiveGenerator(load_embedder(), threshold=0.0)
    answer = generator.generate("Who approves a €25,000 laptop order?", hits(APPROVALS))
    assert shown_rows(answer.text)[1:] == ["| Over 10,000 EUR | Finance director |"], answer.text
    answer = generator.generate("Who has to approve a purchase of 600 EUR?", hits(APPROVALS))
    assert shown_rows(answer.text)[1:] == ["| Up to 1,000 EUR | Team lead |"], answer.text
