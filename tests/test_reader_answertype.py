"""Answer-type evidence in the refusal support (`ragkit.reader.answertype`): what a unit
holds, the learned expectation, and the shipped selector reading both."""

from __future__ import annotations

import dataclasses
import zlib

import pytest

from ragkit.index.records import Chunk, chunk_id_for
from ragkit.reader.answertype import (
    ANSWER_TYPE_NAMES,
    BUCKETS,
    AnswerType,
    answer_type_features,
    gold_has_number,
    question_buckets,
    stated_numbers,
    unit_has_number,
)
from ragkit.reader.features import stem
from ragkit.reader.selector import ANSWERABILITY_NAMES, answerability_features, load_selector
from ragkit.types import Hit


def test_a_unit_holds_a_number_in_digits_or_in_words_of_its_language():
    question = "How many counselling sessions do I get?"
    assert unit_has_number("You get 6 free sessions a year.", question)
    assert unit_has_number("Each visit costs $25.", question)
    # written out: read in the passage's language (text2num), not from a word list of ours
    assert unit_has_number("You get six free sessions a year.", question, "en")
    assert unit_has_number("Você tem direito a seis sessões gratuitas.", question, "pt")
    assert not unit_has_number("You get six free sessions a year.", question, None)
    assert not unit_has_number("Sessions are free and confidential.", question, "en")


def test_a_number_the_question_states_is_not_one_the_unit_adds():
    question = "I'm away for three months. How long is the limit?"
    assert not unit_has_number("Stays of three months need approval.", question, "en")
    assert not unit_has_number("Stays of 3 months need approval.", question, "en")
    assert unit_has_number("Stays of up to 120 days need no approval.", question, "en")


def test_small_numbers_written_as_words_are_numbers_the_unit_holds():
    # "one month" answers "How many months...?" as "1 month" does (text2num reads them from
    # 2 up, and "one" standing alone where it is no stopword of the language)
    question = "How many months is the probation period?"
    assert unit_has_number("New employees serve a probation period of one month.", question, "en")
    assert unit_has_number("Either side gives two weeks' notice.", question, "en")
    assert unit_has_number("O aviso prévio é de duas semanas.", question, "pt")
    # an article that is also 1 ("uma", "un", "een": Snowball stopwords) is no number
    assert not unit_has_number("Você recebe uma carta do seu gestor.", question, "pt")
    assert not unit_has_number("Vous recevez une lettre et un avis.", question, "fr")
    assert not unit_has_number("U krijgt een brief van uw manager.", question, "nl")
    # the question's own small number is not one the unit adds
    assert not unit_has_number("Stays of one month need approval.", "Is one month allowed?", "en")
    assert stated_numbers("one month and two weeks", "en") == {"1", "2"}


def test_gold_answers_with_numbers_label_the_training_questions():
    assert gold_has_number(["about three weeks"], "en")
    assert gold_has_number(["$50 USD or less"])
    assert gold_has_number(["30 dias"], "pt")
    assert not gold_has_number(["the People Team"], "en")
    # small numbers written out are numbers too, as in a unit (`stated_numbers`); an article
    # that text2num would read as 1 is not
    assert gold_has_number(["dois"], "pt") and gold_has_number(["duas semanas"], "pt")
    assert gold_has_number(["one month"], "en")
    assert not gold_has_number(["um ano ou mais"], "pt")


def bucket_of(word: str) -> int:
    return zlib.crc32(f"w:{stem(word)}".encode()) % BUCKETS


def test_the_expectation_is_learned_weights_on_hashed_question_words():
    assert bucket_of("cost") in question_buckets("What does the pass cost?")
    model = AnswerType.from_json({"bias": -2.0, "weights": [[bucket_of("cost"), 4.0]]})
    assert model.expects_number("What does the pass cost?") > 0.8
    assert model.expects_number("Who approves the pass?") < 0.2
    lacks = answer_type_features(model, "What does the pass cost?", "Passes are sold online.")
    holds = answer_type_features(model, "What does the pass cost?", "A pass costs $90.")
    assert len(lacks) == len(ANSWER_TYPE_NAMES)
    assert lacks[1] == pytest.approx(lacks[0]) and holds[1] == 0.0


LOCKERS = Chunk(
    chunk_id_for("bikes.md", "bike lockers"),
    "bikes.md",
    "bikes",
    "Bike lockers are in the basement of the north building. "
    "Lockers are rented by the month at the front desk.",
    0,
    100,
    None,
    ("Cycling to work",),
    "0" * 8,
)


def test_the_shipped_support_is_lower_when_the_chosen_unit_lacks_the_asked_number():
    selector = load_selector()
    assert selector.answerability.answer_type is not None
    question = "How much does a bike locker cost per month?"
    hits = [Hit(dataclasses.replace(LOCKERS, language="en"), score=1.0, rank=1)]
    x = answerability_features([0.6, 0.2], 0.6, 0.6, question, hits, 0, [])
    assert len(x) == len(ANSWERABILITY_NAMES)  # no answer-type model given

    def support(unit: str) -> float:
        return selector.support([0.6, 0.2], 0.6, 0.6, question, hits, 0, [], unit)

    assert support("Lockers are rented by the month at the front desk.") < support(
        "Lockers are rented for $15 a month at the front desk."
    )
    # a question that asks for no figure is not marked down for a unit without one
    where = "Where are the bike lockers?"
    assert selector.support(
        [0.6, 0.2], 0.6, 0.6, where, hits, 0, [], "Bike lockers are in the basement."
    ) == pytest.approx(
        selector.support([0.6, 0.2], 0.6, 0.6, where, hits, 0, [], "Locker 12 is in the basement."),
        abs=0.02,
    )


def test_stems_are_memoised_and_unchanged():
    """A warm answer stems the same words many times (features.stem, cached)."""
    from ragkit.reader.features import has_digit

    stem.cache_clear()
    words = ["leaves", "dias", "class", "2025s", "pays", "a1b", "leaves"]
    assert [stem(w) for w in words] == ["leave", "dia", "class", "2025s", "pay", "a1b", "leave"]
    assert stem.cache_info().hits == 1 and has_digit("a1b") and not has_digit("abc")
