"""A best sentence that only points to a figure ("paid at the rates above") brings the table
row that gives it (issue 11: `ragkit.reader.tables.figure_row`). Documents of our own
(another company, other names and numbers), the shipped embedder and selector."""

from __future__ import annotations

import dataclasses

from reader_helpers import chunk, hits

from ragkit.generators.extractive import ExtractiveGenerator
from ragkit.index.embedding import load_embedder
from ragkit.reader.tables import figure_row
from ragkit.text.segment import segment

LIMITS = chunk(
    "These limits apply per person. Costs above a limit are not repaid unless approved in "
    "advance.\n\n"
    "Cost | Oslo (NOK) | Leeds (GBP)\n"
    "Lunch on a site visit | 250 NOK | 20 GBP\n"
    "Dinner on a site visit | 450 NOK | 38 GBP\n"
    "Bicycle courier, own bike | 4.10 NOK per km | 0.30 GBP per mile\n"
    "Team breakfast (per head) | 150 NOK | 12 GBP",
    "finance/claims.pdf",
    "Claims Policy",
    ("Claims Policy", "4. Limits"),
)
COURIER = chunk(
    "Parcels are sent through the post room where possible. A bicycle courier on your own "
    "bike is repaid at the rates above and is claimed from your home site.",
    "finance/claims.pdf",
    "Claims Policy",
    ("Claims Policy", "4. Limits", "4.3 Couriers"),
)
QUESTION = "What is the bicycle courier rate for my own bike?"


def test_the_row_a_figureless_sentence_points_to_joins_the_answer():
    h = hits(COURIER, LIMITS)
    passages = [segment(c.chunk.text, i) for i, c in enumerate(h)]
    best = next(u for u in passages[0] if "rates above" in COURIER.text[u.start : u.end])
    row = figure_row(QUESTION, best, passages, h)
    assert row is not None and "4.10 NOK per km" in LIMITS.text[row.start : row.end]
    answer = ExtractiveGenerator(load_embedder(), threshold=0.0).generate(QUESTION, h)
    assert "Bicycle courier, own bike | 4.10 NOK per km | 0.30 GBP per mile" in answer.text, (
        answer.text
    )
    assert "Dinner on a site visit" not in answer.text, answer.text


def test_no_row_joins_a_sentence_with_its_own_figure_or_when_rows_tie():
    h = hits(COURIER, LIMITS)
    passages = [segment(c.chunk.text, i) for i, c in enumerate(h)]
    parcels = passages[0][0]  # "Parcels are sent ..." holds no asked term the row holds
    assert figure_row(QUESTION, parcels, passages, h) is None
    stated = chunk(
        "A bicycle courier on your own bike is repaid at 4 NOK per km.",
        "finance/claims.pdf",
        "Claims Policy",
        ("Claims Policy", "4. Limits", "4.3 Couriers"),
    )
    h = hits(stated, LIMITS)
    passages = [segment(c.chunk.text, i) for i, c in enumerate(h)]
    assert figure_row(QUESTION, passages[0][0], passages, h) is None
    # two rows name the sentence's subject as fully: neither is the one it points to
    meals = "What is the site visit meal rate?"
    pointer = chunk(
        "Meals on a site visit are repaid at the rates above.",
        "finance/claims.pdf",
        "Claims Policy",
        ("Claims Policy", "4. Limits", "4.1 Meals"),
    )
    h = hits(pointer, LIMITS)
    passages = [segment(c.chunk.text, i) for i, c in enumerate(h)]
    assert figure_row(meals, passages[0][0], passages, h) is None


def test_the_pointed_row_joins_in_portuguese_too():
    def pt(text: str, headings: tuple[str, ...]):
        made = chunk(text, "financeiro/despesas.pdf", "Política de despesas", headings)
        return dataclasses.replace(made, language="pt")

    limits = pt(
        "Estes limites valem por pessoa. Custos acima do limite não são reembolsados sem "
        "aprovação prévia.\n\n"
        "Despesa | Porto (EUR) | Recife (BRL)\n"
        "Almoço em viagem | 18 EUR | 60 BRL\n"
        "Jantar em viagem | 30 EUR | 90 BRL\n"
        "Quilometragem, carro próprio | 0,40 EUR por km | 1,20 BRL por km\n"
        "Táxi noturno | 25 EUR | 70 BRL",
        ("Política de despesas", "5. Limites"),
    )
    pointer = pt(
        "Use transporte público sempre que possível. A quilometragem do carro próprio é paga "
        "às taxas acima e é contada a partir do escritório, não de casa.",
        ("Política de despesas", "5. Limites", "5.4 Deslocações"),
    )
    answer = ExtractiveGenerator(load_embedder(), threshold=0.0).generate(
        "Qual é a taxa de quilometragem para carro próprio?", hits(pointer, limits)
    )
    assert "Quilometragem, carro próprio | 0,40 EUR por km | 1,20 BRL por km" in answer.text, (
        answer.text
    )
    assert "Jantar em viagem" not in answer.text, answer.text
