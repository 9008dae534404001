"""The ragkit command: outputs, JSON shapes, and one-line errors with non-zero exits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import HIT_JSON_KEYS

from ragkit.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_prints_answer_then_numbered_sources_in_80_columns(capsys, tiny_index):
    code, out, _ = run_cli(
        capsys, "ask", "How many days of annual leave?", "--index", str(tiny_index)
    )
    assert code == 0
    assert "25 days" in out and "\nSources:\n[1] leave.md" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_ask_json_shape(capsys, tiny_index):
    code, out, _ = run_cli(
        capsys,
        "ask",
        "How much are meals reimbursed per day?",
        "--index",
        str(tiny_index),
        "--json",
    )
    record = json.loads(out)
    assert code == 0 and set(record) == {"answer", "abstained", "citations", "passages"}
    assert set(record["citations"][0]) == {
        "n",
        "source",
        "page",
        "page_end",
        "ocr_confidence",
        "section",
        "quote",
        "also",
    }
    cited = record["passages"][record["citations"][0]["n"] - 1]  # n: the passage's position
    assert record["citations"][0]["quote"] in cited["text"]
    assert f"[{record['citations'][0]['n']}]" in record["answer"]  # the inline marker


def test_ask_batch_keeps_ids_and_reports_bad_lines(capsys, tiny_index, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"id": "a", "question": "How much are meals reimbursed per day?"}\nnot json\n'
        '{"id": "c", "question": ""}\n'
    )
    code, out, _ = run_cli(
        capsys, "ask", "--questions", str(questions), "--index", str(tiny_index), "--json"
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ["a", "line-2", "c"]
    assert "40 EUR" in lines[0]["answer"]
    assert "not valid JSON" in lines[1]["error"] and "empty" in lines[2]["error"]
    assert code == 1


def test_search_json_hits(capsys, tiny_index):
    code, out, _ = run_cli(
        capsys, "search", "expense claims", "-k", "2", "--index", str(tiny_index), "--json"
    )
    hits = json.loads(out)["hits"]
    assert code == 0 and len(hits) == 2 and hits[0]["source"] == "expenses.md"
    assert set(hits[0]) == HIT_JSON_KEYS


def test_sources_hides_restricted_documents_unless_in_group(capsys, tiny_index):
    _, public, _ = run_cli(capsys, "sources", "--index", str(tiny_index), "--json")
    _, managers, _ = run_cli(
        capsys, "sources", "--index", str(tiny_index), "--json", "--groups", "managers"
    )
    assert "salary.md" not in public and len(public.splitlines()) == 3
    assert "salary.md" in managers and len(managers.splitlines()) == 4


def test_index_from_environment(capsys, tiny_index, monkeypatch):
    monkeypatch.setenv("RAGKIT_INDEX", str(tiny_index))
    code, out, _ = run_cli(capsys, "sources")
    assert code == 0 and out.startswith("3 documents")


@pytest.mark.parametrize(
    "argv, message, exit_code",
    [
        (["ask", "", "--index", "{index}"], "question is empty", 2),
        (["ask", "x" * 100_000, "--index", "{index}"], "the limit is", 2),
        (["ask", "hi", "--index", "{index}", "--llm", "nope"], "unknown --llm 'nope'", 2),
        (["ask", "hi", "--index", "{index}", "-k", "0"], "-k 0 is out of range", 2),
        (["ask", "hi", "--index", "{missing}"], "no index at", 1),
        (["ask", "hi", "--index", "{corrupt}"], "corrupt", 1),
        (["ask", "hi"], "pass --index DIR or set RAGKIT_INDEX", 2),
        (["ingest", "{missing}", "--index", "{missing}"], "no such file or folder", 2),
    ],
)
def test_bad_input_gives_one_line_and_no_traceback(
    capsys, tiny_index, tmp_path, monkeypatch, argv, message, exit_code
):
    monkeypatch.delenv("RAGKIT_INDEX", raising=False)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "CURRENT").write_text("gen-000001\n")
    (corrupt / "gen-000001").mkdir()
    (corrupt / "gen-000001" / "manifest.json").write_text('{"format": 1, "fingerprint": {}}')
    values = {
        "index": str(tiny_index),
        "missing": str(tmp_path / "missing"),
        "corrupt": str(corrupt),
    }
    code, out, err = run_cli(capsys, *[a.format(**values) for a in argv])
    assert code == exit_code
    assert message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_help_is_fast_because_nothing_heavy_is_imported():
    heavy = ["torch", "transformers", "sentence_transformers", "faiss", "langchain_core", "bm25s"]
    code = (
        "import sys, ragkit, ragkit.cli; ragkit.cli.build_parser(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_search_batch_one_line_per_query(capsys, tiny_index, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "x", "question": "expense claims"}\n{"id": "y"}\n')
    code, out, _ = run_cli(capsys, "search", "--queries", str(queries), "--index", str(tiny_index))
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["id"] == "x" and lines[0]["hits"][0]["source"] == "expenses.md"
    assert lines[1] == {"id": "y", "error": f"{queries}:2: no 'question' field"}
    assert code == 1


@pytest.mark.parametrize("damage", ["manifest-list", "no-fingerprint", "pointer-bytes", "faiss"])
@pytest.mark.parametrize("command", ["ask", "search", "sources"])
def test_a_malformed_index_is_one_line_for_every_reading_command(
    capsys, tiny_index, tmp_path, damage, command
):
    import faiss

    index = tmp_path / "index"
    shutil.copytree(tiny_index, index)
    generation = index / (index / "CURRENT").read_text().strip()
    manifest = json.loads((generation / "manifest.json").read_text())
    if damage == "manifest-list":
        (generation / "manifest.json").write_text("[]")
    elif damage == "no-fingerprint":
        del manifest["fingerprint"]
        (generation / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "pointer-bytes":
        (index / "CURRENT").write_bytes(b"\xff\xfe\x00gen")
    else:
        segment = generation / manifest["segments"][0]
        faiss.write_index(faiss.IndexFlatL2(manifest["dim"]), str(segment / "vectors.faiss"))
    argv = [command, "--index", str(index)] + ([] if command == "sources" else ["leave"])
    code, out, err = run_cli(capsys, *argv)
    if command == "sources" and damage == "faiss":
        assert code == 0  # listing sources reads the manifest alone
        return
    assert code == 1 and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1 and "build it again" in err, err
