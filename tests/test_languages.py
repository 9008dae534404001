"""Languages: detection, per-language analysis for BM25 and the reader, CJK segmentation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ragkit.retrieval.sparse import BM25Index
from ragkit.text.analyse import PLAIN, analyser_for, words
from ragkit.text.language import base_language, detect_language, question_language
from ragkit.text.segment import split_sentences


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Employees get twenty-five days of paid annual leave every year.", "en"),
        ("Os funcionários têm direito a vinte e cinco dias de férias por ano.", "pt"),
        ("Los empleados tienen derecho a veinticinco días de vacaciones al año.", "es"),
        ("Die Mitarbeiter haben Anspruch auf fünfundzwanzig Urlaubstage im Jahr.", "de"),
        ("公司为在办公室工作的员工提供每个工作日三十元的午餐补贴。", "zh"),
        ("有給休暇は入社日から付与されます。", "ja"),
    ],
)
def test_detect_language(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_detect_language_edges() -> None:
    assert detect_language("12,500 | 17.3 | 2024-25") is None  # no letter: no guess
    # A short Latin-script document gets no guess (a 56-character page came out as Latin).
    assert detect_language("Handbook index: see the pages below.", min_latin_letters=100) is None
    assert detect_language("午餐补贴", min_latin_letters=100) == "zh"  # other scripts: no minimum
    assert detect_language("anything at all", among=["pt"]) == "pt"  # one candidate: no detector
    assert detect_language("Quantos dias de férias?", among=["en", "pt"]) == "pt"
    assert base_language("pt-BR") == "pt" and base_language("EN_gb") == "en"
    assert base_language(None) is None


def test_question_language_among_the_index_languages() -> None:
    assert question_language("How many days?", [None, None]) is None
    assert question_language("Quantos dias?", ["en", "en", None]) == "en"  # one language
    mixed = Counter({"en": 10, "pt": 3})
    assert question_language("Quantos dias de férias tenho por ano?", mixed) == "pt"
    assert question_language("Which extension do I report a lost badge to?", mixed) == "en"


def test_cjk_runs_become_bigrams_other_words_stay() -> None:
    assert words("午餐补贴 is 30元。午") == ["午餐", "餐补", "补贴", "is", "30", "元", "午"]
    assert words("Leave: 3.5 days") == ["leave", "3.5", "days"]  # no CJK: unchanged


def test_analyser_per_language() -> None:
    portuguese, english = analyser_for("pt-BR"), analyser_for("en")
    assert portuguese.language == "portuguese" and analyser_for(None).language == "english"
    assert portuguese.terms("remuneradas") == portuguese.terms("remunerado")
    assert english.terms("remuneradas") != english.terms("remunerado")
    assert portuguese.terms("os dias de férias") == portuguese.terms("dias férias")  # stopwords
    assert analyser_for("zh").language == PLAIN
    assert analyser_for("zh").terms("午餐补贴 the") == ["午餐", "餐补", "补贴", "the"]


def test_bm25_analyses_each_text_and_the_question_in_its_language() -> None:
    texts = [
        "Os funcionários têm direito a férias remuneradas e à renovação do contrato.",
        "Employees book leave in the HR system.",
        "公司提供午餐补贴。",
    ]
    index = BM25Index(texts, languages=["pt", "en", "zh"])
    assert index.language_counts == Counter({"pt": 1, "en": 1, "zh": 1})
    scores = index.scores("Quais direitos tem cada funcionário ao renovar?")
    assert np.argmax(scores) == 0 and scores[1] == 0
    assert np.flatnonzero(index.scores("午餐补贴")).tolist() == [2]
    # The English analyser (no languages given) misses the inflected Portuguese word.
    english = BM25Index(texts)
    assert english.scores("remunerado")[0] == 0 < index.scores("remunerado", language="pt")[0]


def test_cjk_sentences_end_at_full_width_stops() -> None:
    text = (
        "须提供电子发票。因加班晚归的员工，可以报销出租车费用，单次上限为一百五十元。真的吗？是！"
    )
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "须提供电子发票。",
        "因加班晚归的员工，可以报销出租车费用，单次上限为一百五十元。",
        "真的吗？",
        "是！",
    ]
    latin = "Os dias são 25. É proibido fumar. ¿Qué pasa? Él dijo."
    assert [latin[s:e] for s, e in split_sentences(latin)] == [
        "Os dias são 25.",
        "É proibido fumar.",
        "¿Qué pasa?",
        "Él dijo.",
    ]
