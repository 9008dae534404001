"""Dataset readers for the four formats, malformed lines, and gold-source matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragkit.errors import UsageError
from ragkit.eval.datasets import access_warnings, coverage_warnings, load_dataset
from ragkit.eval.formats import parse_source
from ragkit.eval.items import Gold, chunk_matches, doc_matches
from ragkit.eval.squad import paragraph_id, write_squad_corpus
from ragkit.index.records import Chunk

ROOT = Path(__file__).resolve().parents[1]


def _lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ragkit_jsonl_with_malformed_lines_reported_by_number(tmp_path):
    path = _lines(
        tmp_path / "eval.jsonl",
        [
            '{"id": "q1", "question": "How many days?", "answer": "25 days.", "sources": '
            '["leave/annual-leave.md"], "answerable": true, "must_contain": ["25 days"]}',
            "{not json",
            '{"id": "q2", "question": "Dinner limit?", "answers": ["55 EUR", "EUR 55"], '
            '"sources": ["money/expenses.pdf#page=2"]}',
            "",
            '{"id": "q3", "question": "   "}',
            '{"id": "q4", "question": "Stock options?", "answer": "Not covered.", '
            '"sources": [], "answerable": false}',
            '{"id": "q1", "question": "again"}',
            '{"id": "q5", "question": "x", "answerable": "yes"}',
        ],
    )
    dataset = load_dataset(path)
    assert dataset.format == "ragkit" and dataset.match == "path"
    assert [i.id for i in dataset.items] == ["q1", "q2", "q4"]
    q1, q2, q4 = dataset.items
    assert q1.answers == ("25 days.",) and q1.must_contain == ("25 days",)
    assert q1.gold == (Gold("leave/annual-leave.md"),)
    assert q2.answers == ("55 EUR", "EUR 55") and q2.gold == (Gold("money/expenses.pdf", 2),)
    assert q2.answerable is True  # the default
    assert q4.answerable is False and q4.answers == ()
    problems = {p.where: p.message for p in dataset.problems}
    assert set(problems) == {"line 2", "line 5", "line 7", "line 8"}
    assert "invalid JSON" in problems["line 2"]
    assert "question" in problems["line 5"]
    assert "repeated id" in problems["line 7"]
    assert "answerable" in problems["line 8"]


def test_the_sample_corpus_eval_set_loads_cleanly():
    dataset = load_dataset(ROOT / "sample_corpus" / "eval.jsonl")
    assert len(dataset.items) == 83 and not dataset.problems
    assert sum(not i.answerable for i in dataset.items) >= 10
    paged = [g for i in dataset.items for g in i.gold if g.page is not None]
    assert paged and all(g.doc.endswith(".pdf") for g in paged)


def test_a_file_with_no_usable_line_is_an_error(tmp_path):
    with pytest.raises(UsageError, match="line 1"):
        load_dataset(_lines(tmp_path / "bad.jsonl", ["[1, 2]"]))


def test_contoso_ground_truth(tmp_path):
    path = _lines(
        tmp_path / "ground_truth.jsonl",
        [
            json.dumps(
                {
                    "question": "What protects against balance billing?",
                    "truth": "The Standard plan does. "
                    "[Northwind_Standard_Benefits_Details.pdf#page=7]"
                    " See also [Benefit_Options.pdf#page=3].",
                }
            ),
            json.dumps({"question": "No truth here"}),
            json.dumps({"question": "Uncited?", "truth": "An answer with no citation."}),
        ],
    )
    dataset = load_dataset(path)
    assert dataset.format == "contoso" and dataset.match == "basename"
    first, second = dataset.items
    assert first.gold == (
        Gold("Northwind_Standard_Benefits_Details.pdf", 7),
        Gold("Benefit_Options.pdf", 3),
    )
    assert first.answers == ("The Standard plan does. See also .",)
    assert second.gold == () and second.id == "q003"
    assert [str(p) for p in dataset.problems] == ["line 2: missing 'truth'"]


def test_beir_folder(tmp_path):
    folder = tmp_path / "scifact"
    (folder / "qrels").mkdir(parents=True)
    _lines(folder / "corpus.jsonl", ['{"_id": "d1", "title": "T", "text": "x"}'])
    _lines(
        folder / "queries.jsonl",
        ['{"_id": "1", "text": "first query"}', '{"_id": "2"}', '{"_id": "3", "text": "third"}'],
    )
    _lines(
        folder / "qrels" / "test.tsv",
        ["query-id\tcorpus-id\tscore", "1\td1\t1", "1\td2\t2", "3\td3\tone", "3\td4", "9\td1\t1"],
    )
    dataset = load_dataset(folder)
    assert dataset.format == "beir" and dataset.retrieval_only and dataset.match == "doc_id"
    assert [(i.id, i.question) for i in dataset.items] == [("1", "first query")]
    assert dataset.items[0].gold == (Gold("d1", None, 1), Gold("d2", None, 2))
    wheres = [p.where for p in dataset.problems]
    assert wheres == [
        "queries.jsonl line 2",
        "qrels/test.tsv line 4",
        "qrels/test.tsv line 5",
        "qrels/test.tsv",  # query 9 has judgements but no text
    ]


def _squad(version: str) -> dict:
    context = "Denver Broncos won Super Bowl 50."
    qas = [
        {"id": "a1", "question": "Who won?", "answers": [
            {"text": "Denver Broncos", "answer_start": 0},
            {"text": "Denver Broncos", "answer_start": 0}]},
        {"id": "a2", "question": "", "answers": []},
    ]  # fmt: skip
    if version == "v2.0":
        qas.append({"id": "a3", "question": "Who lost Super Bowl 49?", "answers": [],
                    "plausible_answers": [{"text": "Broncos", "answer_start": 7}],
                    "is_impossible": True})  # fmt: skip
        qas.append({"id": "a4", "question": "Who scored?", "answers": [], "is_impossible": False})
    return {"version": version, "data": [{"title": "Super_Bowl_50", "paragraphs": [
        {"context": context, "qas": qas}, {"qas": []}]}]}  # fmt: skip


@pytest.mark.parametrize("version", ["1.1", "v2.0"])
def test_squad_v1_and_v2(tmp_path, version):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(_squad(version)), encoding="utf-8")
    dataset = load_dataset(path)
    assert dataset.format == "squad" and dataset.match == "doc_id"
    pid = paragraph_id("Denver Broncos won Super Bowl 50.")
    first = dataset.items[0]
    assert first.answers == ("Denver Broncos",) and first.answerable
    assert first.gold == (Gold(pid),) and first.passages == ("Denver Broncos won Super Bowl 50.",)
    wheres = {p.where for p in dataset.problems}
    assert {"data[0].paragraphs[0].qas[1]", "data[0].paragraphs[1]"} <= wheres
    if version == "v2.0":
        impossible = dataset.items[1]
        assert impossible.id == "a3" and not impossible.answerable and impossible.answers == ()
        assert "data[0].paragraphs[0].qas[3]" in wheres  # answerable with no answers
    else:
        assert len(dataset.items) == 1


def test_squad_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"data": [\n  {"title": }\n]}', encoding="utf-8")
    with pytest.raises(UsageError, match="line 2"):
        load_dataset(path)


def test_squad_corpus_round_trip(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(_squad("v2.0")), encoding="utf-8")
    dataset = load_dataset(path)
    out = tmp_path / "squad-corpus" / "corpus.jsonl"
    assert write_squad_corpus(dataset, out) == 1
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records == [
        {"_id": paragraph_id("Denver Broncos won Super Bowl 50."), "title": "Super Bowl 50",
         "text": "Denver Broncos won Super Bowl 50."}
    ]  # fmt: skip
    # Ingested, the source is "corpus.jsonl#<_id>", which matches the gold paragraph id.
    assert doc_matches(records[0]["_id"], f"corpus.jsonl#{records[0]['_id']}", "doc_id")


def test_parse_source():
    assert parse_source("leave/annual-leave.md") == Gold("leave/annual-leave.md")
    assert parse_source("money\\expenses.pdf#page=2") == Gold("money/expenses.pdf", 2)
    with pytest.raises(ValueError, match="1-based"):
        parse_source("a.pdf#page=0")


def _chunk(source: str, page: int | None = None, page_end: int | None = None) -> Chunk:
    return Chunk("id", source, "t", "text", 0, 4, page, (), "h", (), page_end)


def test_matching_modes():
    assert doc_matches("leave/a.md", "leave/a.md", "path")
    assert doc_matches("leave/a.md", "corpus/leave/a.md", "path")  # ingested from a parent
    assert doc_matches("sample_corpus/leave/a.md", "leave/a.md", "path")
    assert not doc_matches("leave/a.md", "leave/aa.md", "path")
    assert not doc_matches("a.md", "leave/ba.md", "path")
    assert doc_matches("Benefit_Options.pdf", "data/Benefit_Options.pdf", "basename")
    assert doc_matches("42", "corpus.jsonl#42", "doc_id")
    assert not doc_matches("4", "corpus.jsonl#42", "doc_id")
    gold = Gold("money/e.pdf", 3)
    assert chunk_matches(gold, _chunk("money/e.pdf", 2, 3), "path")
    assert not chunk_matches(gold, _chunk("money/e.pdf", 2), "path")
    assert not chunk_matches(gold, _chunk("money/e.pdf"), "path")
    assert chunk_matches(Gold("money/e.pdf"), _chunk("money/e.pdf", 9), "path")


def test_gold_matching_nothing_warns_loudly(tmp_path):
    dataset = load_dataset(ROOT / "sample_corpus" / "eval.jsonl")
    [warning] = coverage_warnings(dataset, ["docs/handbook.md", "other/file.pdf"], "idx")
    assert warning.startswith("NONE of the")
    assert "path mismatch" in warning and "'docs/handbook.md'" in warning
    [partial] = coverage_warnings(dataset, ["leave/annual-leave.md"], "idx")
    assert "gold sources match nothing in idx" in partial
    sources = {g.doc for i in dataset.items for g in i.gold}
    assert coverage_warnings(dataset, sources) == []


def test_squad_coverage_warning_says_how_to_ingest_the_paragraphs(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(_squad("1.1")), encoding="utf-8")
    [warning] = coverage_warnings(load_dataset(path), ["leave/a.md"])
    assert "--write-corpus" in warning and "ragkit ingest" in warning


def test_gold_the_asker_cannot_read_is_named():
    dataset = load_dataset(ROOT / "sample_corpus" / "eval.jsonl")
    chunks = [
        Chunk("a", "leave/annual-leave.md", "t", "x", 0, 1, None, (), "h"),
        Chunk("s", "managers/salary-bands.md", "t", "x", 0, 1, None, (), "h", ("managers",)),
    ]
    [warning] = access_warnings(dataset, chunks, ())
    ids = [i.id for i in dataset.items if i.gold and i.gold[0].doc == "managers/salary-bands.md"]
    assert warning.startswith(f"{len(ids)} question(s) ({ids[0]}, ")
    assert "--groups managers" in warning
    assert access_warnings(dataset, chunks, ("managers",)) == []
