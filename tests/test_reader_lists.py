"""A list question gets every item of its list (issue 11, item 3), told by structure only.

Each test ranks the candidate units by hand (`Scored`, as the trained selector would hand
them to `compose.choose`) over documents of our own, in English and Portuguese, so what is
tested is the composition of the answer, not a selector's weights.
"""

from __future__ import annotations

import pytest
from reader_helpers import chunk, hits

from ragkit.generators.extractive import ExtractiveGenerator, Scored
from ragkit.index.embedding import HashingEmbedder
from ragkit.reader.compose import LIST_RATIO, SECOND_UNIT_RATIO
from ragkit.reader.lists import key_value_run
from ragkit.text.segment import Unit, segment
from ragkit.types import Chunk, Hit

PAPERWORK = chunk(
    "To get advanced sick leave approved, send your supervisor the following paperwork:\n\n"
    "- The advanced sick leave request form.\n"
    "- An original medical certificate signed by your doctor.\n"
    "- A copy of your timesheet report for this year and the last.\n"
    "- A written explanation of why your sick leave ran out.\n\n"
    "Your supervisor keeps signed copies.",
    "leave/advanced-sick-leave.md",
    "Advanced sick leave",
    ("Advanced sick leave", "Getting approval"),
)
DOCUMENTOS = chunk(
    "Para pedir a licença de casamento, envie estes documentos aos Recursos Humanos:\n\n"
    "- O formulário de pedido, assinado pela chefia.\n"
    "- A certidão de casamento.\n"
    "- O mapa de férias da equipa.\n\n"
    "Os Recursos Humanos respondem em cinco dias úteis.",
    "rh/licenca-casamento.md",
    "Licença de casamento",
    ("Licença de casamento", "Pedido"),
)
BELOW = chunk(  # introduced without a colon: the paragraph the list directly follows
    "Send your supervisor the paperwork listed below.\n\n"
    "- The request form.\n"
    "- A medical certificate signed by your doctor.\n"
    "- A written explanation of why your leave ran out.\n",
    "leave/paperwork.md",
    "Paperwork",
)
KEY_VALUES = chunk(
    "Paid leave for life events comes on top of annual leave. The types are:\n\n"
    "- sick leave: 10 days a year\n"
    "- wedding leave: 2 days\n"
    "- bereavement leave: 3 days\n"
    "- moving leave: 1 day\n\n"
    "Ask your manager before you take any of them.",
    "leave.md",
    "Leave policy",
    ("Leave policy", "Special leave"),
)


def scored(unit: Unit, given: list[Hit], score: float, dense: float) -> Scored:
    text = given[unit.hit].chunk.text[unit.start : unit.end]
    return Scored(unit, text, 0.5, 0.5, 0.0, 1.0 / (unit.hit + 1), dense=dense, score=score)


def choose(question: str, given: list[Hit], ranked: list[Scored]) -> list[str]:
    chosen, more, _ = ExtractiveGenerator(HashingEmbedder(dim=64))._choose(question, ranked, given)
    assert more == 0
    return [given[u.hit].chunk.text[u.start : u.end] for u in chosen]


def items_of(units: list[Unit]) -> list[Unit]:
    return [u for u in units if u.kind == "item"]


def list_ranking(document: Chunk, runner: float, lead_dense: float) -> list[Scored]:
    """The list's last item first, its first item `runner` x as well, its lead (cosine
    `lead_dense`, the best item's is 0.5) and the sentence after the list far below."""
    given = hits(document)
    units = segment(document.text, 0)
    items = items_of(units)
    return [
        scored(items[-1], given, 0.7, 0.5),
        scored(items[0], given, 0.7 * runner, 0.45),
        scored(units[0], given, 0.1, lead_dense),
        scored(units[-1], given, 0.01, 0.1),
    ]


def question_for(document: Chunk) -> str:
    return "Que documentos envio?" if document is DOCUMENTOS else "What paperwork do I send?"


@pytest.mark.parametrize("document", [PAPERWORK, DOCUMENTOS, BELOW])
@pytest.mark.parametrize("runner", [0.85, 0.5, LIST_RATIO + 0.01])
def test_two_items_of_a_list_whose_lead_reads_like_the_question_bring_the_list(document, runner):
    """The best unit and a runner-up scoring well under it (not a near tie) are items of one
    list, and the question reads at least as much like the list's lead as like the best item:
    the question asks for the list, so every item comes, under its colon lead."""
    given = hits(document)
    units = segment(document.text, 0)
    texts = choose(question_for(document), given, list_ranking(document, runner, 0.5))
    assert texts == [document.text[u.start : u.end] for u in [units[0], *items_of(units)]], texts


@pytest.mark.parametrize("document", [PAPERWORK, DOCUMENTOS])
def test_a_question_reading_more_like_one_item_than_the_lead_gets_that_item(document):
    """The same ranking, but the question reads like the best item more than like the lead
    (a question about what one item says): the item answers, never the whole list."""
    given = hits(document)
    best = items_of(segment(document.text, 0))[-1]
    texts = choose(question_for(document), given, list_ranking(document, 0.5, 0.3))
    assert texts == [document.text[best.start : best.end]], texts


def test_a_runner_up_item_far_below_the_best_stays_out():
    given = hits(PAPERWORK)
    ranked = list_ranking(PAPERWORK, 0.1, 0.5)
    best = ranked[0].unit
    assert choose("What do I write in the explanation?", given, ranked) == [
        PAPERWORK.text[best.start : best.end]
    ]


def test_a_list_of_key_value_facts_needs_a_near_tie_for_the_whole_list():
    """ "wedding leave: 2 days" is a fact of its own: another item scoring half as well
    leaves the answer one item (the question asks about one key); a near tie brings all."""
    given = hits(KEY_VALUES)
    units = segment(KEY_VALUES.text, 0)
    items = items_of(units)
    position = units.index(items[1])
    assert key_value_run(KEY_VALUES.text, units, position)
    assert not key_value_run(PAPERWORK.text, segment(PAPERWORK.text, 0), 1)
    half = [scored(items[1], given, 0.6, 0.5), scored(items[2], given, 0.3, 0.3)]
    texts = choose("How long is wedding leave?", given, half)
    assert texts == ["wedding leave: 2 days"], texts
    tie = [scored(items[1], given, 0.6, 0.5), scored(items[2], given, 0.6 * SECOND_UNIT_RATIO, 0.3)]
    assert len(choose("How long is wedding leave?", given, tie)) == 1 + len(items)


VIDEO = chunk(
    "If your video keeps freezing on a call, try:\n\n"
    "- lowering the video quality in the settings;\n"
    "- turning your camera off;\n"
    "- dialling in by phone.\n\n"
    "Tell IT if none of it helps.",
    "it/meetings.md",
    "Meetings",
    ("Meetings", "Connectivity problems"),
)
INTERPRETER = chunk(
    "Give the interpreter the phone number listed under the dial-in details of the invite.",
    "it/interpreters.md",
    "Interpreters",
    ("Interpreters", "Joining by phone"),
)
VIDEO_PT = chunk(
    "Se o vídeo congelar durante uma chamada, experimente:\n\n"
    "- baixar a qualidade do vídeo;\n"
    "- desligar a câmara;\n"
    "- ligar por telefone.\n",
    "ti/reunioes.md",
    "Reuniões",
    ("Reuniões", "Problemas de ligação"),
)


@pytest.mark.parametrize("document", [VIDEO, VIDEO_PT])
def test_a_lead_ending_in_a_colon_that_joins_the_answer_brings_its_list(document):
    """The best unit is from another passage; the sentence the question reads most like (it
    joins as the contested unit) ends with ":" and introduces a list: the list comes with
    it, whole, never the bare "try:"."""
    given = hits(INTERPRETER, document)
    other = segment(INTERPRETER.text, 0)[0]
    units = segment(document.text, 1)
    lead, items = units[0], items_of(units)
    ranked = [scored(other, given, 0.3, 0.3), scored(lead, given, 0.2, 0.55)]
    texts = choose("My video keeps freezing. What should I try?", given, ranked)
    assert texts == [
        INTERPRETER.text[other.start : other.end],
        *(document.text[u.start : u.end] for u in [lead, *items]),
    ], texts


def test_a_joining_sentence_without_a_list_after_it_joins_alone():
    closing = chunk(
        "Your supervisor keeps the signed copies of the following:\n\nAsk HR for the form.",
        "leave/copies.md",
        "Copies",
    )
    given = hits(INTERPRETER, closing)
    other = segment(INTERPRETER.text, 0)[0]
    lead = segment(closing.text, 1)[0]
    ranked = [scored(other, given, 0.3, 0.3), scored(lead, given, 0.2, 0.55)]
    assert len(choose("Who keeps the signed copies?", given, ranked)) == 2
