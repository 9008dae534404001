"""The README's and `make demo`'s questions, asked with `ragkit ask` over the bundled
sample_corpus with the real embedding model, get the headline fact: the entitlement ("25
days"), not a qualifying sentence of the top passage ("carry up to 5 days"). Paraphrases of
the same question guard the kind, not the one wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = "How many days of annual leave do I get?"


@pytest.fixture(scope="module")
def sample_index(tmp_path_factory) -> Path:
    from ingest.pipeline import IngestOptions, ingest

    index = tmp_path_factory.mktemp("sample") / "index"
    assert ingest([ROOT / "sample_corpus"], index, IngestOptions(progress=False)).ok
    return index


def ask(index: Path, question: str, capsys, *extra: str) -> dict:
    from ragkit.cli import main

    assert main(["ask", question, "--index", str(index), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_demo_question_is_the_one_the_readme_and_make_demo_ask():
    assert f'ragkit ask "{DEMO}"' in (ROOT / "README.md").read_text(encoding="utf-8")
    assert f'ragkit ask "{DEMO}"' in (ROOT / "Makefile").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        DEMO,
        "How many vacation days do employees get?",
        "How many days of leave do full-time employees get per year?",
        "How many days of paid holiday do I get each year?",
    ],
)
def test_annual_leave_questions_get_the_entitlement(sample_index, capsys, question):
    answer = ask(sample_index, question, capsys)
    assert not answer["abstained"]
    assert "25 days" in answer["answer"], answer["answer"]


@pytest.mark.slow
def test_the_salary_bands_demo_answers_for_managers(sample_index, capsys):
    answer = ask(sample_index, "What are the salary bands?", capsys, "--groups", "managers")
    assert not answer["abstained"] and "Band L4" in answer["answer"]
    public = ask(sample_index, "What are the salary bands?", capsys)
    assert "Band L4" not in public["answer"]  # the bands are for managers only
