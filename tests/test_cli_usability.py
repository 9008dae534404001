"""The CLI as a new user meets it: typo suggestions, each command's own usage, help with
defaults, a busy port, a documents folder passed as --index, and the sources listing."""

from __future__ import annotations

import argparse
import socket

import pytest

from ragkit.cli import build_parser, main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_mistyped_command_gets_a_suggestion(capsys):
    code, _, err = run_cli(capsys, "aks", "How many days?")
    assert code == 2 and "did you mean 'ask'?" in err


def test_a_mistyped_option_is_reported_by_its_own_command(capsys, tiny_index):
    code, _, err = run_cli(capsys, "ask", "leave?", "--index", str(tiny_index), "--jsn")
    assert code == 2
    assert err.startswith("usage: ragkit ask ")  # the subcommand's usage, not the top level's
    assert "unrecognized arguments: --jsn (did you mean '--json'?)" in err


def test_an_unknown_option_far_from_any_gets_no_wild_guess(capsys, tiny_index):
    _, _, err = run_cli(capsys, "search", "leave", "--index", str(tiny_index), "--zzzzzz")
    assert "unrecognized arguments: --zzzzzz" in err and "did you mean" not in err


def test_every_command_has_a_description_and_options_show_their_defaults():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        assert sub.description, f"ragkit {name} --help has no description"
        text = sub.format_help()
        for action in sub._actions:
            shown = action.option_strings and action.help is not argparse.SUPPRESS
            if not shown or action.default in (None, False, argparse.SUPPRESS):
                continue
            assert "default" in (action.help or "").lower() or (
                f"(default: {action.default})" in " ".join(text.split())
            ), f"ragkit {name} {action.option_strings[0]} hides its default"


def test_a_busy_port_is_a_clear_error_with_a_port_hint(capsys, tiny_index):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        code, out, err = run_cli(
            capsys, "serve", "--index", str(tiny_index), "--no-auth", "--port", str(port)
        )
    finally:
        busy.close()
    assert code == 3
    assert f"port {port} on 127.0.0.1 is already in use" in err
    assert f"--port {port + 1}" in err
    assert "serving" not in err + out and "Traceback" not in err


def test_a_documents_folder_as_index_suggests_ingesting_it_elsewhere(capsys, tmp_path):
    docs = tmp_path / "policies"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\n25 days.\n")
    code, _, err = run_cli(capsys, "ask", "leave?", "--index", str(docs))
    assert code == 1
    assert "is a folder of documents, not an index" in err
    assert f"ragkit ingest {docs} --index .index" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("groups", "header"),
    [((), "readable without a group"), (("managers",), "readable by groups managers")],
)
def test_sources_says_whose_view_it_lists(capsys, tiny_index, groups, header):
    argv = ["sources", "--index", str(tiny_index)]
    if groups:
        argv += ["--groups", ",".join(groups)]
    code, out, _ = run_cli(capsys, *argv)
    first = out.splitlines()[0]
    assert code == 0 and first.endswith(header)
    count = int(first.split()[0])
    assert first.startswith(f"{count} document{'s' if count != 1 else ''} ")
    assert "1 chunks" not in out and "1 pages" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_ladder_records_without_passages_name_the_builder(capsys, tmp_path):
    # A plain eval set (no stored passages) given to --ladder: one line saying how to build them.
    records = tmp_path / "test.jsonl"
    records.write_text('{"id": "1", "question": "q?", "answer": "a"}\n', encoding="utf-8")
    (tmp_path / "adapters").mkdir()
    code, out, err = run_cli(
        capsys,
        "eval",
        str(records),
        "--ladder",
        str(tmp_path / "adapters"),
        "--out",
        str(tmp_path / "out"),
    )
    assert code != 0 and out == ""
    line = err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "'passages'" in line and "python tests/bench/ladder_data.py OUT" in line


@pytest.mark.parametrize("command", ["ask", "search"])
def test_an_unknown_store_scheme_names_the_value_and_the_accepted_forms(capsys, command):
    code, _, err = run_cli(capsys, command, "hi", "--store", "foo://bar")
    assert code == 2 and err.count("\n") == 1
    assert "'foo://bar'" in err and "foo:/bar" not in err
    assert "milvus:PATH.db" in err and "milvus://HOST:PORT" in err and "ragkit ingest" not in err


def test_a_file_as_index_says_it_is_a_file(capsys, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Hello\n")
    code, _, err = run_cli(capsys, "ask", "hi", "--index", str(readme))
    assert code == 1 and err.count("\n") == 1
    assert f"{readme} is a file, not an index" in err and f"--index {readme}" not in err
    lite = tmp_path / "trial.db"
    lite.write_bytes(b"")
    _, _, err = run_cli(capsys, "search", "hi", "--index", str(lite))
    assert f"pass --index milvus:{lite}" in err


def test_tune_summary_says_no_dev_set_rather_than_none():
    from types import SimpleNamespace

    from ragkit.cli.tune_cmd import _dev_summary

    without = SimpleNamespace(initial_dev_loss=None, dev_losses=())
    assert _dev_summary(without) == "no dev set"  # type: ignore[arg-type]
    with_dev = SimpleNamespace(initial_dev_loss=2.5, dev_losses=(2.0, 1.75))
    assert _dev_summary(with_dev) == "dev loss 2.500 -> 1.750"  # type: ignore[arg-type]
