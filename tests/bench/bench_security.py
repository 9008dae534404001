"""Benchmark: attacks on access groups, ingestion and serving, and what got through (issue 13).

    python tests/bench/bench_security.py [--section NAME ...] [--root OTHER_CHECKOUT]

Each section is one function that builds its own inputs in a scratch folder, runs the real
`ragkit` command (a fresh process, as an attacker or a careless admin would) or the Python
API, and returns its figures: `attacks` tried, `leaks` (restricted or outside text that came
back to someone not allowed to read it, or a run that hung/aborted), and any measurements
(peak RSS, failures). The totals line sums attacks and leaks over the sections run.

Sections are registered with `@section`; the ingestion side and the serving side each add
theirs here, so one command prints every figure the issue asks for.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = _HERE = Path(__file__).resolve().parents[2]
Figures = dict[str, Any]
SECTIONS: dict[str, Callable[[Path], Figures]] = {}
_CLI = "import sys; from ragkit.cli import main; sys.exit(main(sys.argv[1:]))"


def section(fn: Callable[[Path], Figures]) -> Callable[[Path], Figures]:
    SECTIONS[fn.__name__] = fn
    return fn


def ragkit(
    *args: str, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process with this checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    if ROOT != _HERE and "--allow-widen" in args:
        # A baseline checkout predates the option (and never refuses to widen): drop it.
        args = tuple(arg for arg in args if arg != "--allow-widen")
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd or ROOT,  # `python -c` imports from its cwd first
    )


def public_texts(index: Path) -> str:
    """Every chunk text a caller with no groups could read from `index` (one string)."""
    from ragkit.index.records import readable_by
    from ragkit.index.store import load_index

    snapshot = load_index(index)
    return "\n".join(c.text for c in snapshot.chunks if readable_by(c.groups, frozenset()))


# --- ingestion side -----------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@section
def ingest_links_and_special_files(work: Path) -> Figures:
    """Symlinks around access rules and out of the root; /dev/zero and FIFO inputs."""
    outside = _write(work / "outside" / "keys.md", "SECRET-OUTSIDE api key 1234\n")
    docs = work / "docs"
    _write(docs / "restricted" / ".ragkit-access.yaml", "groups: [managers]\n")
    _write(docs / "restricted" / "salaries.md", "SECRET-SALARY the CEO earns a lot\n")
    _write(docs / "public" / "welcome.md", "Welcome to the company handbook.\n")
    links = {
        "link to a restricted file": (docs / "public" / "pay.md", docs / "restricted/salaries.md"),
        "link outside the root": (docs / "public" / "keys.md", outside),
        "link to /etc/passwd": (docs / "public" / "passwd.txt", Path("/etc/passwd")),
    }
    for link, target in links.values():
        link.symlink_to(target)
    (docs / "public" / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(docs / "public" / "fifo.txt")
    index = work / "index"
    attacks = len(links) + 2
    leaks = 0
    try:
        run = ragkit("ingest", str(docs), "--index", str(index), "--no-progress", timeout=60)
    except subprocess.TimeoutExpired:
        return {"attacks": attacks, "leaks": attacks, "note": "ingest hung"}
    if "Traceback" in run.stderr or not (index / "CURRENT").exists():
        return {
            "attacks": attacks,
            "leaks": attacks,
            "note": run.stderr[-300:],
        }
    public = public_texts(index)
    leaks += "SECRET-SALARY" in public
    leaks += "SECRET-OUTSIDE" in public
    leaks += "root:x:0" in public
    return {"attacks": attacks, "leaks": int(leaks), "exit": run.returncode}


@section
def ingest_access_rules(work: Path) -> Figures:
    """Careless-admin mistakes around access rules; a leak is restricted text readable by an
    asker with no groups after the run (or a run that crashed). Run-level groups are tested
    in one folder (case 15); every other mistake in a second folder ingested without them,
    so nothing but the mistake decides the outcome."""
    secret = "SECRET-{}: the board approved twelve redundancies.\n"
    leaked: list[str] = []
    tried = 0

    def check(name: str, index: Path, marker: str, run: Any) -> None:
        nonlocal tried
        tried += 1
        if "Traceback" in run.stderr or marker in public_texts(index):
            leaked.append(name)

    # Case 15: first run with --groups hr, then the same command without it / with ''.
    docs, index = work / "docs", work / "index"
    _write(docs / "plan.md", secret.format("PLAN"))
    case15 = ("ingest", str(docs), "--index", str(index), "--model", "hash:64", "--no-progress")
    ragkit(*case15, "--groups", "hr")
    check("rerun without --groups", index, "SECRET-PLAN", ragkit(*case15))
    check("rerun with --groups ''", index, "SECRET-PLAN", ragkit(*case15, "--groups", ""))

    other, other_index = work / "other", work / "other-index"
    plain = ("ingest", str(other), "--index", str(other_index), "--model", "hash:64")
    plain = (*plain, "--no-progress")
    _write(other / "welcome.md", "# Welcome\n\nThe canteen opens at noon.\n")
    _write(other / "later.md", secret.format("LATE"))  # public until restricted, below
    _write(other / "open" / "memo.txt", secret.format("MEMO"))
    ragkit(*plain)
    mistakes = {
        "near-miss front matter key Access:": ("a.md", "---\nAccess: [hr]\n---\n", "AK"),
        "near-miss key acces:": ("b.md", "---\nacces: [hr]\n---\n", "AC"),
        "blank line before front matter": ("c.md", "\n---\naccess: [hr]\n---\n", "BL"),
        "TOML front matter": ("d.md", "+++\naccess = ['hr']\n+++\n", "TO"),
        "duplicate front matter key": ("e.md", "---\naccess: [hr]\naccess: []\n---\n", "DK"),
    }
    for name, (file, head, tag) in mistakes.items():
        _write(other / file, head + secret.format(tag))
        check(name, other_index, f"SECRET-{tag}", ragkit(*plain))
    _write(other / "sub" / ".ragkit-access.yml", "groups: [hr]\n")
    _write(other / "sub" / "x.md", secret.format("YML"))
    check("rule file named .ragkit-access.yml", other_index, "SECRET-YML", ragkit(*plain))
    _write(other / "dup" / ".ragkit-access.yaml", "groups: [hr]\ngroups: []\n")
    _write(other / "dup" / "y.md", secret.format("DUP"))
    check("duplicate keys in a rule file", other_index, "SECRET-DUP", ragkit(*plain))
    # Fail closed: a public file restricted together with a YAML mistake; a text file whose
    # folder is restricted while its new version fails to load.
    _write(other / "later.md", "---\ntitle: [x\naccess: [hr]\n---\n" + secret.format("LATE"))
    check("access added together with a YAML mistake", other_index, "SECRET-LATE", ragkit(*plain))
    _write(other / "open" / ".ragkit-access.yaml", "groups: [hr]\n")
    (other / "open" / "memo.txt").write_bytes(b"\x00\x01" * 200)
    check("restricted file whose new version fails", other_index, "SECRET-MEMO", ragkit(*plain))
    return {"attacks": tried, "leaks": len(leaked), "leaked": "; ".join(leaked) or "none"}


_MEASURED_CLI = (
    "import json, resource, sys\n"
    "from ragkit.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print('PEAK_KB', peak, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


@section
def ingest_large_files(work: Path) -> Figures:
    """A 50 MB single-line text file and a 50 MB one-word file, each beside a normal file:
    each must get a per-file outcome, the run must go on, and peak RSS stay under 2 GB.

    Sizes from $BENCH_LARGE_MB (default 50); the model from $BENCH_MODEL (default: bundled)."""
    size_mb = float(os.environ.get("BENCH_LARGE_MB", "50"))
    model = os.environ.get("BENCH_MODEL", "all-MiniLM-L6-v2")
    n = int(size_mb * 2**20)
    words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do " * (n // 60 + 1))[:n]
    cases = {"single-line": words.replace(" amet ", " amet. ", 1), "one-word": "x" * n}
    figures: Figures = {"attacks": len(cases), "leaks": 0, "model": model, "size_mb": size_mb}
    for name, body in cases.items():
        docs = work / name
        _write(docs / "big.txt", body)
        _write(docs / "normal.md", "# Leave\n\nStaff get 25 days of annual leave.\n")
        index = work / f"index-{name}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", _MEASURED_CLI, "ingest", str(docs), "--index", str(index)]
            + ["--no-progress", "--json", "--model", model, "--max-file-mb", str(size_mb * 2)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,  # `python -c` imports from its cwd first
            timeout=3600,
        )
        seconds = time.perf_counter() - started
        peak_kb = next(
            (
                int(line.split()[1])
                for line in run.stderr.splitlines()
                if line.startswith("PEAK_KB")
            ),
            0,
        )
        try:
            report = json.loads(run.stdout)
            outcomes = {f["source"]: f["status"] for f in report["files"]}
        except ValueError:
            outcomes = {}
        ok = outcomes.get("normal.md") == "added" and "big.txt" in outcomes and peak_kb < 2**21
        figures["leaks"] += 0 if ok else 1  # a crash, a lost run or > 2 GB counts against us
        figures[f"{name}_outcome"] = outcomes.get("big.txt", f"none (exit {run.returncode})")
        figures[f"{name}_peak_rss_mb"] = round(peak_kb / 1024)
        figures[f"{name}_seconds"] = round(seconds, 1)
        if outcomes.get("big.txt") == "added":
            figures[f"{name}_chunks"] = next(
                f["chunks"] for f in report["files"] if f["source"] == "big.txt"
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", action="append", choices=sorted(SECTIONS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--root",
        type=Path,
        help="run the `ragkit` processes from this checkout instead (e.g. a worktree of the "
        "commit before issue 13, as the baseline)",
    )
    args = parser.parse_args()
    if args.root:
        global ROOT
        ROOT = args.root.resolve()
    names = args.section or list(SECTIONS)
    results: dict[str, Figures] = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"bench-sec-{name}-") as scratch:
            started = time.perf_counter()
            figures = SECTIONS[name](Path(scratch))
            figures["seconds"] = round(time.perf_counter() - started, 1)
        results[name] = figures
        if not args.json:
            print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    attacks = sum(int(f.get("attacks", 0)) for f in results.values())
    leaks = sum(int(f.get("leaks", 0)) for f in results.values())
    if args.json:
        print(json.dumps({"sections": results, "attacks": attacks, "leaks": leaks}, indent=1))
    else:
        print(f"TOTAL attacks tried {attacks}, leaks {leaks}")


if __name__ == "__main__":
    main()
