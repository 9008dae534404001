"""Benchmark scripts say plainly what they cannot measure instead of printing empty figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingest.pipeline import IngestOptions, ingest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "bench"))

import bench_scale  # noqa: E402


def test_ivf_probe_on_an_index_without_a_compressed_segment_says_so(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Leave\n\nEmployees receive 25 days of annual leave.\n")
    index = tmp_path / "index"
    ingest([corpus], index, IngestOptions(model="hash:64", progress=False))
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "bench" / "bench_ivf_probe.py"), str(index)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stdout + done.stderr[-800:]
    assert "no segment is compressed" in lines[0] and "200,000 rows" in lines[0]


def test_scale_table_has_no_baseline_rows_without_a_baseline(capsys):
    rows = [
        {"size": 10, "chunks": 10.0, "warm_p95_ms": 2.0},
        {"size": 100, "chunks": 100.0, "warm_p95_ms": 3.0},
    ]
    bench_scale.print_table(rows)
    out = capsys.readouterr().out
    assert "baseline" not in out and "nan" not in out.replace("(ratios", "")
    assert "warm p95 ms" in out and "3.0 (1.50x)" in out
    rows[1]["base_warm_p95_ms"] = 4.0
    bench_scale.print_table(rows)
    assert "baseline warm p95 ms" in capsys.readouterr().out
