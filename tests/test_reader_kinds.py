"""Kinds of question the trained reader used to answer with the wrong unit, each by hand.

Found by a fresh user on sample_corpus and by a PDF-heading fix that moved BM25 statistics
(issue 11); each test is one kind, in a wording and a document of its own, on
`HashingEmbedder` and the shipped selector.
"""

from __future__ import annotations

import numpy as np
from reader_helpers import chunk, hits

from ragkit.eval.metrics import citation_valid
from ragkit.generators.extractive import ExtractiveGenerator
from ragkit.index.embedding import HashingEmbedder, load_embedder
from ragkit.reader import tables
from ragkit.reader.coverage import asked_names, uncovered
from ragkit.reader.faq import faq_question, is_question
from ragkit.reader.features import (
    CHEAP_NAMES,
    Candidate,
    cheap_features,
    number_value,
    ranges,
)
from ragkit.reader.lists import SHOWN_ITEMS, shorten
from ragkit.text.segment import segment


def generator() -> ExtractiveGenerator:
    return ExtractiveGenerator(HashingEmbedder(dim=2048), threshold=0.0)


def features(question: str, *candidates: Candidate, passages: str = "") -> dict[str, list[float]]:
    x, _ = cheap_features(question, list(candidates), passages)
    return {name: [float(v) for v in x[:, n]] for n, name in enumerate(CHEAP_NAMES)}


# --- a number in the question against amounts and ranges in the units ---------------------

APPROVERS = chunk(
    "The approver depends on the claim's total:\n\n"
    "| Total of the claim | Approver |\n|---|---|\n"
    "| Up to 2,000 USD | Team lead |\n"
    "| 2,000 to 8,000 USD | Director |\n"
    "| Over 8,000 USD | Finance VP |",
    "spend.md",
    "Spend policy",
    ("Spend policy", "Who signs off"),
)


def test_a_question_number_is_found_in_a_range_that_holds_it_or_written_otherwise():
    q = "Who signs off a 4500 dollar bill?"
    row = Candidate("| 2,000 to 8,000 USD | Director |", "", 1, 0, 3, "row")
    below = Candidate("| Up to 2,000 USD | Team lead |", "", 1, 1, 3, "row")
    assert features(q, row, below)["numbers_found"] == [1.0, 0.0]
    # the same value written with a thousands separator, or in German style, is found
    same = Candidate("Bills of 4,500 USD need two signatures.", "", 1, 0, 1, "sentence")
    assert features(q, same, below)["numbers_found"][0] == 1.0
    assert ranges("1.000 bis 5.000 EUR") == [(1000.0, 5000.0)]
    # numbers of different cells are no range ("3 to 4 years | 26 days": 4 and 26 are not)
    assert ranges("| 3 to 4 years | 26 days |") == [(3.0, 4.0)]


def test_dates_pages_and_spaced_thousands_are_no_false_ranges():
    # a day then a year, a page count in a sentence: no ranges
    assert ranges("This policy was updated on 1 May 2026.") == []
    assert ranges("See Page 1 of 12 for the form.") == []
    # thousands grouped by a space are one amount, not "000 to 5"
    assert ranges("| 1 000 to 5 000 EUR | Director |") == [(1000.0, 5000.0)]
    # a currency on either amount, a dash between them, or amounts in a sentence
    assert ranges("$1,000 - $5,000") == [(1000.0, 5000.0)]
    assert ranges("1.000 € bis 5.000 €") == [(1000.0, 5000.0)]
    assert ranges("Claims from 1,000 to 5,000 EUR need a director.") == [(1000.0, 5000.0)]


def test_a_number_value_reads_fractions_and_both_separators():
    # a leading 0 is no thousands group
    assert number_value("0.125") == 0.125
    assert number_value("0,125") == 0.125
    # both marks: the last is the decimal one
    assert number_value("1.000,00") == 1000.0
    assert number_value("1,250.00") == 1250.0
    assert number_value("3,000") == 3000.0 and number_value("3.000") == 3000.0


def test_the_table_row_whose_range_holds_the_asked_amount_answers():
    answer = generator().generate("who signs off a 4500 dollar bill", hits(APPROVERS))
    assert "Director" in answer.text and "Team lead" not in answer.text, answer.text


# --- numbers and names the headings already state are no new fact -------------------------


def test_a_year_a_heading_states_or_a_title_cased_common_noun_is_nothing_new():
    q = "How many days off do staff get?"
    intro = Candidate(
        "Staff also get these days off in 2026:",
        "Closure Calendar 2026 > 3. Company days",
        1,
        0,
        2,
        "sentence",
    )
    cited = Candidate(
        "Staff get 30 days (see the Closure Calendar).",
        "Leave > 1. Entitlement",
        2,
        0,
        2,
        "sentence",
    )
    # "3" is the number of a section: a unit's "3 days" is still a new figure
    three = Candidate("Staff get 3 days to move house.", "Leave > 3. Moving", 3, 0, 1, "sentence")
    named = Candidate("Ask Priya in Payroll.", "Leave > 4. Questions", 4, 0, 1, "sentence")
    # "Closure Calendar" is written in lower case elsewhere in the passages: a common noun set
    # in title case (a document cited by its title), not a name; "Priya" and "Payroll" are
    passages = "The closure calendar lists the days the offices close."
    got = features(q, intro, cited, three, named, passages=passages)
    assert got["unit_new_number"] == [0.0, 1.0, 1.0, 0.0]
    # a heading that opens with a year keeps it ("2026 Calendar" states 2026); a section
    # number ("11.") is still no topic
    dated = Candidate("These are the dates for 2026:", "Leave > 2026 Calendar", 1, 0, 1, "sentence")
    numbered = Candidate("Staff get 11 days.", "Leave > 11. Holidays", 2, 0, 1, "sentence")
    assert features(q, dated, numbered)["unit_new_number"] == [0.0, 1.0]
    assert got["unit_new_name"] == [0.0, 0.0, 0.0, 1.0]


# --- names: a run of capitalised words is one name ----------------------------------------

HOLIDAYS = chunk(
    "Staff in the Lisbon office observe the public holidays of Portugal.",
    "holidays.md",
    "Public holidays",
)


def test_a_multi_word_name_does_not_make_a_question_read_as_german():
    question = "Is Bastille Day a public holiday in the Paris office?"
    assert asked_names(question) == ["Bastille Day", "Paris"]
    assert uncovered(question, hits(HOLIDAYS)) == ["Bastille Day", "Paris"]
    # German still: nouns capitalised throughout, only codes and years are names
    assert asked_names("Gilt der Tag der Arbeit im Büro in Lissabon als Feiertag?") == []
    # ... also where nouns follow one another ("Tage Urlaub": two capitalised words, one run)
    assert asked_names("Wie viele Tage Urlaub bekomme ich im Jahr?") == []


# --- a list answer is the whole list ------------------------------------------------------

SICK_PAY = chunk(
    "Once you have completed probation, you receive:\n\n"
    "- full salary for the first 15 days of illness in a calendar year, then\n"
    "- 60% of salary for the next 30 days, then\n"
    "- the statutory benefit only.\n\n"
    "Contact payroll with any question.",
    "sickness.md",
    "Sickness policy",
    ("Sickness policy", "Pay when ill"),
)


SICK_INTRO = chunk(
    "This policy explains how to report illness and how much sick pay you receive. "
    "It applies to all staff.",
    "sickness.md",
    "Sickness policy",
    ("Sickness policy",),
)


def test_an_item_continuing_its_lead_comes_with_the_lead_and_the_whole_list():
    # the first item scores best: alone it would say "full salary ..., then" and stop
    question = "how much salary do i get for days of illness"
    answer = generator().generate(question, hits(SICK_PAY, SICK_INTRO))
    lines = answer.text.splitlines()
    assert lines[0] == "Once you have completed probation, you receive:", answer.text
    assert "full salary for the first 15 days" in answer.text
    assert "60% of salary for the next 30 days" in answer.text
    assert "statutory benefit only" in answer.text


LEAVE_TYPES = chunk(
    "Paid leave for life events comes on top of annual leave. The types are:\n\n"
    "- sick leave: 10 days a year\n"
    "- wedding leave: 2 days\n"
    "- bereavement leave: 3 days\n"
    "- moving leave: 1 day\n"
    "- study leave: 5 days a year\n\n"
    "Ask your manager before you take any of them.",
    "leave.md",
    "Leave policy",
    ("Leave policy", "Special leave"),
)


def test_a_key_value_list_answers_with_its_one_item():
    # lower-case items under a colon, but each "key: value" is a fact of its own
    answer = generator().generate("How long is wedding leave?", hits(LEAVE_TYPES))
    assert "wedding leave: 2 days" in answer.text, answer.text
    assert "moving leave" not in answer.text, answer.text
    assert "study leave" not in answer.text, answer.text


DUBLIN = chunk(
    "| Date | Holiday |\n|---|---|\n"
    "| 1 January | New Year's Day |\n| 17 March | St Patrick's Day |\n"
    "| 2 June | June Bank Holiday |\n| 25 December | Christmas Day |\n\n"
    "Dublin staff have 4 public holidays this year.",
    "holidays.md",
    "Public holidays",
    ("Public holidays", "1. Calendar", "1.1 Ireland (Dublin office)"),
)
INTRO = chunk(
    "Staff in the Dublin office observe Irish public holidays. "
    "Staff in the Manchester office observe English bank holidays.",
    "holidays.md",
    "Public holidays",
    ("Public holidays",),
)


def test_a_question_naming_a_section_gets_its_whole_table():
    answer = generator().generate(
        "What are all the public holidays in the Dublin office?", hits(INTRO, DUBLIN)
    )
    for holiday in ("New Year's Day", "St Patrick's Day", "June Bank Holiday", "Christmas Day"):
        assert holiday in answer.text, answer.text
    assert "|---|" not in answer.text
    # a question with a word the headings lack asks for one fact inside the section
    count = generator().generate(
        "How many public holidays do Dublin staff have?", hits(INTRO, DUBLIN)
    )
    assert "Christmas Day" not in count.text, count.text


def test_a_short_note_list_before_the_table_does_not_hide_the_table():
    noted = chunk(
        "- Dates move when they fall on a weekend.\n- Local holidays are agreed per office.\n\n"
        + DUBLIN.text.split("\n\n")[0],
        "holidays.md",
        "Public holidays",
        DUBLIN.headings,
    )
    answer = generator().generate(
        "What are all the public holidays in the Dublin office?", hits(INTRO, noted)
    )
    for holiday in ("New Year's Day", "St Patrick's Day", "June Bank Holiday", "Christmas Day"):
        assert holiday in answer.text, answer.text


# --- FAQ passages: a question line is never the answer by itself ---------------------------

STIPEND_FAQ = chunk(
    "Q: How do I claim the wellbeing stipend?\n"
    "A: Fill in the stipend form on the intranet. Finance pays it with the next salary.\n\n"
    "Q: Is the wellbeing stipend a taxable benefit?\n"
    "A: Yes, like every stipend it is taxed through payroll.\n\n"
    "Q: Can I spend the wellbeing stipend on a gym membership?\n"
    "A: No.\n\n"
    "Q: Does my manager approve the wellbeing stipend?\n"
    "A: The people team approves every claim within three business days.",
    "benefits/wellbeing.md",
    "Wellbeing stipend",
    ("Wellbeing stipend", "FAQ"),
)


def test_is_question_by_mark_or_marker_in_any_language():
    for asked in (
        "Q: Is the wellbeing stipend a taxable benefit?",
        "Q. Where can I view my level?",
        "Q1) Who approves it?",
        "¿Cuándo se paga el subsidio?",
        "**Kann ich Urlaub übertragen?**",
        "P: O auxílio é tributável?",
        "年假可以结转吗？",
    ):
        assert is_question(asked), asked
    for told in (
        "A: Yes, it is taxed.",
        "F: 030 1234 5678",
        "Quarterly reviews: see below.",
        "Q2: The mid-year check-in takes place in June.",  # a quarter, not a question
        "Q1) Who approves it",  # a numbered marker needs the mark
    ):
        assert not is_question(told), told


def test_quarter_lines_are_facts_not_faq_questions():
    calendar = chunk(
        "Q1: Goals are set with your manager by 31 March.\n"
        "Q2: The mid-year check-in takes place in June.\n\n"
        "The check-in is a short conversation with your manager about progress against your"
        " goals.",
        "reviews.md",
        "Reviews",
        ("Performance", "Calendar"),
    )
    answer = generator().generate("When is the mid-year check-in?", hits(calendar))
    assert "takes place in June" in answer.text, answer.text


def test_a_checklist_of_question_items_is_no_faq():
    desk = chunk(
        "Standing desks are available in every office.\n\n"
        "Before you ask, check these points.\n\n"
        "- Has your manager approved the request?\n"
        "- Have you completed the ergonomic self-assessment?\n"
        "- Is the desk model on the approved equipment list?\n\n"
        "Requests go to the facilities team, who order the desk within two weeks.",
        "desk.md",
        "Desks",
        ("Equipment", "Standing desks"),
    )
    given = hits(desk)
    assert not any(faq_question(u, given) for u in segment(desk.text))
    answer = generator().generate("Does my manager need to approve a standing desk request?", given)
    assert answer.text.startswith("Has your manager approved the request"), answer.text


def test_an_faq_question_without_a_reply_is_quoted_not_an_unrelated_sentence():
    ends = chunk(
        "The office opens at nine.\n\nQ: Can I work from another country for a month?",
        "remote.md",
        "Remote work",
        ("Remote work", "FAQ"),
    )
    answer = generator().generate("Can I work from another country for a month?", hits(ends))
    assert answer.text.startswith("Q: Can I work from another country"), answer.text


def test_an_item_joined_by_its_lists_introduction_comes_with_the_whole_list():
    topics = chunk(
        "Use your one-to-ones with your manager for the topics below.\n\n"
        "- What went well since the last meeting?\n"
        "- What is blocking you?\n"
        "- Which skills do you want to grow this quarter?\n\n"
        "Keep notes in the shared document.",
        "one-to-ones.md",
        "One-to-ones",
        ("Management", "One-to-ones"),
    )
    question = "What should I talk about in my one-to-ones with my manager?"
    lines = unmarked_lines(generator().generate(question, hits(topics)).text)
    assert lines == [
        "Use your one-to-ones with your manager for the topics below.",
        "- What went well since the last meeting?",
        "- What is blocking you?",
        "- Which skills do you want to grow this quarter?",
    ], lines


def unmarked_lines(text: str) -> list[str]:
    return [line.replace(" [1]", "") for line in text.splitlines()]


def test_an_faq_question_stands_on_its_own_line_a_question_in_prose_does_not():
    text = (
        "**Can I carry over unused days?**\n"
        "Yes, up to five days.\n\n"
        "- Who approves it?\n"
        "- Your manager.\n\n"
        'Staff have asked the question, "why not pay weekly?" Payroll runs monthly. '
        "Why monthly? Because the bank charges per run."
    )
    given = hits(chunk(text, "pay.md", "Pay"))
    asks = {text[u.start : u.end]: faq_question(u, given) for u in segment(text)}
    assert asks == {
        "**Can I carry over unused days?**": True,
        "Yes, up to five days.": False,
        "Who approves it?": True,
        "Your manager.": False,
        'Staff have asked the question, "why not pay weekly?"': False,
        "Payroll runs monthly.": False,
        "Why monthly?": False,
        "Because the bank charges per run.": False,
    }


def test_an_faq_question_line_is_answered_by_the_reply_that_follows_it():
    answer = generator().generate("Is the wellbeing stipend taxed?", hits(STIPEND_FAQ))
    assert "taxed through payroll" in answer.text, answer.text
    # the reply alone (it reads without its question), and no other entry's lines
    assert "taxable benefit?" not in answer.text, answer.text
    assert "gym" not in answer.text and "next salary" not in answer.text, answer.text
    [citation] = answer.citations
    assert citation_valid(citation.quote, STIPEND_FAQ.text)


def test_a_bare_yes_or_no_reply_keeps_its_question_as_the_lead():
    answer = generator().generate(
        "Could I use the wellbeing stipend for my gym membership?", hits(STIPEND_FAQ)
    )
    assert answer.text.startswith("Q: Can I spend the wellbeing stipend"), answer.text
    assert "gym membership? A: No [1]." in answer.text and "taxed" not in answer.text


def test_a_question_ending_its_chunk_is_answered_from_the_chunk_holding_its_reply():
    ends = chunk(
        "Stipends are paid once a year.\n\nQ: Does my manager approve the wellbeing stipend?",
        "benefits/wellbeing.md",
        "Wellbeing stipend",
        ("Wellbeing stipend", "FAQ"),
    )
    answer = generator().generate(
        "Does my manager have to approve the wellbeing stipend?", hits(ends, STIPEND_FAQ)
    )
    assert "three business days" in answer.text, answer.text
    assert not answer.text.rstrip(" [12].").endswith("stipend?"), answer.text


# --- table rows: the row that matches, not the table's first rows -------------------------

REVIEW_DATES = chunk(
    "| Date | Item |\n|---|---|\n"
    "| 30 September 2025 | End of the FY25 review year |\n"
    "| 1 October 2025 | Employees are asked to begin their FY25 self-review |\n"
    "| 6 October 2025 | Calibration sessions are booked |\n"
    "| 17 October 2025 | Self-review submission deadline |\n"
    "| 20 October 2025 | Audit of self-review completion |\n"
    "| 27 October 2025 | Managers hold FY25 review meetings with their reports |\n"
    "| 10 November 2025 | Internal due date to close out FY25 review plans |\n"
    "| 14 November 2025 | Official due date to close out FY25 review plans |\n"
    "| 10 December 2025 | FY25 bonus letters are issued |",
    "people/review-dates.md",
    "Review dates",
    ("Review dates", "Year-end review"),
)
LAST_DAY = "What's the last day to send in my self-review?"


def minilm_generator() -> ExtractiveGenerator:
    # the shipped embedder: "last day to send in" is "deadline" by meaning, not by words
    return ExtractiveGenerator(load_embedder(), threshold=0.0)


def test_a_table_row_answer_is_the_row_that_matches_not_the_first_rows():
    answer = minilm_generator().generate(LAST_DAY, hits(REVIEW_DATES))
    lines = answer.text.replace(" [1]", "").splitlines()
    assert lines[0] == "| Date | Item |", answer.text
    assert "| 17 October 2025 | Self-review submission deadline |" in lines, answer.text
    # neither the first rows nor the whole table: the question does not ask for the table
    assert "End of the FY25 review year" not in answer.text, answer.text
    assert 2 <= len(lines) <= 1 + tables.MAX_ROWS


def test_rows_of_one_table_cut_across_two_chunks_are_scored_together():
    head, tail = REVIEW_DATES.text.split("| 17 October")
    first = chunk(head.rstrip(), REVIEW_DATES.source, REVIEW_DATES.title, REVIEW_DATES.headings)
    second = chunk(
        "| Date | Item |\n|---|---|\n| 17 October" + tail,
        REVIEW_DATES.source,
        REVIEW_DATES.title,
        REVIEW_DATES.headings,
    )
    answer = minilm_generator().generate(LAST_DAY, hits(first, second))
    assert "17 October 2025" in answer.text, answer.text
    assert "End of the FY25 review year" not in answer.text, answer.text
    # the rows of both chunks are one table (same document, same section, same header)
    rows = [u for i, h in enumerate(hits(first, second)) for u in segment(h.chunk.text, i)]
    assert all(tables.same_table(u, rows[0], hits(first, second)) for u in rows)


# --- a long list cut around the asked item, never silently ---------------------------------


def test_a_long_list_is_cut_around_the_item_the_question_asks_about():
    cities = [
        "Austin", "Berlin", "Bogota", "Cairo", "Delhi", "Dublin", "Hanoi", "Jakarta", "Lagos",
        "Lima", "Madrid", "Manila", "Nairobi", "Osaka", "Porto", "Quito", "Riga", "Seoul",
        "Tunis", "Warsaw",
    ]  # fmt: skip
    offices = chunk(
        "Staff may work from any of the following offices:\n"
        + "".join(f"- the {city} office\n" for city in cities),
        "offices.md",
        "Offices",
        ("Offices",),
    )
    answer = generator().generate("Which offices may staff work from? Is Riga one?", hits(offices))
    shown = [line for line in answer.text.splitlines() if line.startswith("- ")]
    assert len(shown) == SHOWN_ITEMS
    assert any("Riga" in line for line in shown), answer.text
    assert answer.text.splitlines()[-1] == f"+{20 - SHOWN_ITEMS} more in offices.md, Offices"
    # the cut itself: the first items unless the asked one lies past them
    items = list(range(20))
    assert shorten(items, 3) == 8 and items == list(range(12))  # type: ignore[arg-type]
    items = list(range(20))
    assert shorten(items, 16) == 8 and items == list(range(8, 20))  # type: ignore[arg-type]


def test_note_lines_of_an_faq_reply_stay_on_their_own_lines():
    notes = chunk(
        "Q: When is the wellbeing stipend paid?\n"
        "A: Every claim is approved within three business days.\n"
        "US staff: expect it on your next payslip\n"
        "Staff elsewhere: add it to your next invoice\n\n"
        "Q: Is there a limit?\n"
        "A: The stipend is 250 USD a year.",
        "benefits/wellbeing.md",
        "Wellbeing stipend",
        ("Wellbeing stipend", "FAQ"),
    )
    answer = generator().generate("When do I get the wellbeing stipend paid?", hits(notes))
    assert answer.text.splitlines() == [
        "A: Every claim is approved within three business days.",
        "US staff: expect it on your next payslip",
        "Staff elsewhere: add it to your next invoice [1]",
    ], answer.text


def test_rows_matching_beyond_the_kept_ones_are_counted_never_cut_silently():
    holidays = chunk(
        "| Date | Holiday |\n|---|---|\n| 1 January | New Year's Day |\n"
        "| 17 March | St Patrick's Day |\n| 24 December | Christmas Eve (half day) |\n"
        "| 25 December | Christmas Day |\n| 26 December | St Stephen's Day |\n"
        "| 31 December | New Year's Eve (half day) |",
        "holidays.md",
        "Holidays",
        ("Holidays", "Dublin"),
    )
    answer = generator().generate("Which holidays are in December?", hits(holidays))
    lines = answer.text.splitlines()
    shown = [line for line in lines if "December |" in line]
    assert len(shown) == tables.MAX_ROWS, answer.text
    assert lines[-1].startswith(f"+{4 - tables.MAX_ROWS} more row"), answer.text
    assert "January" not in answer.text and "March" not in answer.text, answer.text


def test_a_long_table_embeds_a_bounded_number_of_rows():
    rows = "".join(f"| {d} March | Sync of team {d} |\n" for d in range(1, 31))
    long_table = chunk("| Date | Meeting |\n|---|---|\n" + rows, "sync.md", "Syncs", ("Syncs",))
    units = segment(long_table.text, 0)
    embedded: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        embedded.append(len(texts))
        return HashingEmbedder(dim=256).embed(texts)

    question = "When is the sync of team 23?"
    chosen = tables.best_rows(question, units[0], [units], hits(long_table), embed).rows
    assert "| 23 March | Sync of team 23 |" in [long_table.text[u.start : u.end] for u in chosen]
    assert embedded == [1 + tables.MAX_EMBEDDED_ROWS]


def test_an_faq_reply_that_scores_best_is_quoted_without_its_question():
    answer = generator().generate(
        "How many business days does the people team take per claim?", hits(STIPEND_FAQ)
    )
    assert "three business days" in answer.text, answer.text
    assert "Q: Does my manager approve" not in answer.text, answer.text
