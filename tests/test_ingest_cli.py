"""`ragkit ingest` and `ragkit remove` as an admin runs them: access never widens silently,
the index folder is never someone else's, one file added never wipes the rest."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ragkit.cli import main
from ragkit.index.store import read_manifest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
CASE_15 = SHARED_DATA.parent / "cases" / "15-access-groups"  # else an equivalent is written


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ingest(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, "ingest", *argv, "--model", "hash:64", "--no-progress")


@pytest.fixture
def docs2(tmp_path: Path) -> Path:
    """Case 15's docs2 (copied, so the test can edit it), or an equivalent."""
    target = tmp_path / "docs2"
    if (CASE_15 / "docs2").is_dir():
        shutil.copytree(CASE_15 / "docs2", target)
        for path in target.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
    else:
        (target / "confidential").mkdir(parents=True)
        (target / "confidential" / "redundancy-plan.md").write_text(
            "# Restructuring Plan\n\nTwelve warehouse roles in Antwerp will be made redundant "
            "in June.\n"
        )
    return target


QUESTION = "How many roles in Antwerp will be made redundant?"


def test_case_15_a_run_without_the_earlier_groups_keeps_the_file_restricted(
    capsys, tmp_path, docs2
):
    index = str(tmp_path / "index")
    assert ingest(capsys, str(docs2), "--index", index, "--groups", "hr")[0] == 0
    code, out, _ = ingest(capsys, str(docs2), "--index", index)
    assert code == 0 and "using the groups remembered" in out and "hr" in out
    code, out, _ = run_cli(capsys, "search", QUESTION, "--index", index, "--json")
    assert "warehouse roles" not in out  # a public asker sees nothing
    code, out, _ = run_cli(capsys, "search", QUESTION, "--index", index, "--groups", "hr")
    assert "warehouse roles" in out
    # Making it public takes an explicit --groups '' and --allow-widen.
    code, out, err = ingest(capsys, str(docs2), "--index", index, "--groups", "")
    assert code == 2 and "redundancy-plan.md: [hr] -> everyone" in err
    assert "--allow-widen" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "search", QUESTION, "--index", index, "--json")
    assert "warehouse roles" not in out
    code, out, _ = ingest(capsys, str(docs2), "--index", index, "--groups", "", "--allow-widen")
    assert code == 0 and "widened" in out
    _, out, _ = run_cli(capsys, "search", QUESTION, "--index", index)
    assert "warehouse roles" in out


def test_adding_one_file_and_dry_run_and_remove(capsys, tmp_path, docs2):
    index = str(tmp_path / "index")
    ingest(capsys, str(docs2), "--index", index)
    new = tmp_path / "new-policy.md"
    new.write_text("# Bikes\n\nBicycles up to 1,500 EUR.\n")
    code, out, _ = ingest(capsys, str(new), "--index", index, "--dry-run")
    assert code == 0 and "A new-policy.md" in out and "removed        0" in out
    code, out, _ = ingest(capsys, str(new), "--index", index, "--json")
    counts = json.loads(out)["counts"]
    assert code == 0 and counts["added"] == 1 and counts["removed"] == 0
    code, out, _ = run_cli(capsys, "sources", "--index", index, "--json")
    assert "confidential/redundancy-plan.md" in out and "new-policy.md" in out
    code, out, _ = run_cli(capsys, "remove", "new-policy.md", "--index", index)
    assert code == 0 and "Removed new-policy.md" in out
    code, _, err = run_cli(capsys, "remove", "nope.md", "--index", index)
    assert code == 2 and "not in index" in err
    # No PATH: the remembered roots (docs2 and the file) are synced again.
    new.unlink()
    code, out, _ = ingest(capsys, "--index", index)
    assert code == 0 and "unchanged      1" in out


def test_a_plain_re_sync_keeps_the_model_and_chunk_size_the_index_was_built_with(
    capsys, tmp_path, docs2
):
    index = str(tmp_path / "index")
    code, _, _ = run_cli(
        capsys, "ingest", str(docs2), "--index", index, "--model", "hash:64",
        "--chunk-tokens", "64", "--no-progress",
    )  # fmt: skip
    assert code == 0
    (docs2 / "new-policy.md").write_text("# Bikes\n\nBicycles up to 1,500 EUR.\n")
    # As the README shows re-syncs: no --model, no --chunk-tokens.
    code, out, _ = run_cli(capsys, "ingest", "--index", index, "--no-progress", "--json")
    report = json.loads(out)
    assert code == 0 and report["rebuild_reason"] == ""
    assert report["counts"]["added"] == 1 and report["embedded"] >= 1
    fingerprint = read_manifest(Path(index))["fingerprint"]
    assert (fingerprint["model"], fingerprint["chunk_tokens"]) == ("hash:64", 64)
    # Only a value given on the command line and different from the index's rebuilds.
    code, out, _ = run_cli(capsys, "ingest", "--index", index, "--model", "hash:32", "--json")
    assert "model 'hash:64' -> 'hash:32'" in json.loads(out)["rebuild_reason"]
    assert "chunk_tokens" not in json.loads(out)["rebuild_reason"]


def test_index_into_a_folder_that_is_not_an_index_is_refused(capsys, tmp_path, docs2):
    folder = tmp_path / "d"
    (folder / "gen-reports").mkdir(parents=True)
    (folder / "gen-reports" / "q3.xlsx").write_text("numbers")
    code, _, err = ingest(capsys, str(docs2), "--index", str(folder))
    assert code == 1 and "not a ragkit index" in err and "gen-reports" in err
    code, _, err = ingest(capsys, str(docs2), "--index", str(folder), "--dry-run")
    assert code == 1 and "not a ragkit index" in err
    assert (folder / "gen-reports" / "q3.xlsx").read_text() == "numbers"


def test_special_files_and_outside_links_never_abort_or_leak(capsys, tmp_path, docs2):
    secret = tmp_path / "keys.yaml.md"
    secret.write_text("api key SECRET-123\n")
    (docs2 / "keys.md").symlink_to(secret)
    (docs2 / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(docs2 / "pipe.txt")
    index = str(tmp_path / "index")
    code, out, _ = ingest(capsys, str(docs2), "--index", index, "--json")
    report = json.loads(out)
    statuses = {f["source"]: f["status"] for f in report["files"]}
    assert code == 0 and statuses == {
        "confidential/redundancy-plan.md": "added",
        "keys.md": "skipped",
        "pipe.txt": "skipped",
        "zero.txt": "skipped",
    }
    _, out, _ = run_cli(capsys, "search", "api key", "--index", index, "--json")
    assert "SECRET" not in out
