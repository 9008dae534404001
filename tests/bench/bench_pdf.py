"""PDF layout benchmark: page hit@5 on Contoso and the share of chunks holding running
header/footer text, for the loader in this checkout beside the loader before the layout work.

    python tests/bench/bench_pdf.py [--before]

1. Contoso HR PDFs (../shared/data/contoso-hr-pdfs, all 50 published questions of
   `evals/ground_truth.jsonl`, gold `[file.pdf#page=N]`; no training or tuning was done on
   them): page hit@5 (a retrieved chunk counts when its file matches and its pages
   `page..page_end` include N) and document hit@5, with ragkit's default retriever (hybrid)
   and the bundled all-MiniLM-L6-v2.
2. Header/footer share: chunks whose text holds a running header or footer line, on Contoso,
   the four Mozilla legal PDFs (en and pt-BR), and case 08 (tests/fixtures/cases). A line is a
   running header/footer by a reference rule independent of the loader: among the first or
   last two lines of pypdf's plain text of a page, and, digits aside, on at least half the
   pages (two or more), or a page label such as "Page 2 of 3".

"Before" is the loader of the commit before the layout work (the parent of the commit whose
message starts with LAYOUT_COMMIT, or `--before REV`): the script
checks that commit out into a temporary `git worktree` and runs itself there (`--json`, with
that checkout's code first on the path), in the same run, then measures this checkout. Both
ingest into temporary folders with the same embedding model and retriever settings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The code measured: this checkout, or the BEFORE_COMMIT worktree the script runs itself in.
CODE = Path(os.environ.get("BENCH_PDF_CODE", REPO))
sys.path.insert(0, str(CODE))

from ingest.pipeline import IngestOptions, ingest  # noqa: E402
from ragkit.index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402
from ragkit.index.records import Chunk  # noqa: E402
from ragkit.index.store import load_index  # noqa: E402
from ragkit.retrieval import HybridRetriever  # noqa: E402

# The parent of the layout commit, found by its message (rebases change its hash).
LAYOUT_COMMIT = "PDF layout: running headers/footers dropped"
_CITATION = re.compile(r"\[([^\]#]+?\.pdf)#page=(\d+)\]")
_PAGE_LABEL = re.compile(r"(?:page|p\.|pág\.?|página)?\s*\d{1,4}(?:\s*(?:of|/|de)\s*\d{1,4})?")


def stored_chunks(index: Path) -> list:
    """Every live chunk of an index, in either store format (the old checkout reads format 1)."""
    snapshot = load_index(index)
    live = getattr(snapshot, "live_chunks", None)
    return list(live() if live is not None else snapshot.chunks)


def shared_data() -> Path | None:
    path = Path(os.environ.get("RAGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


def build(paths: Sequence[Path], index: Path, model: str) -> list[Chunk]:
    started = time.perf_counter()
    report = ingest(paths, index, IngestOptions(model=model, progress=False))
    failed = [o.source for o in report.outcomes if o.status == "failed"]
    print(f"  {index.name}: {report.chunks_total} chunks in {time.perf_counter() - started:.0f} s")
    if failed:
        print(f"  failed: {failed}")
    return stored_chunks(index)


def contoso_hits(data: Path, index: Path) -> dict[str, float]:
    folder = data / "contoso-hr-pdfs"
    build([folder / "data"], index, DEFAULT_MODEL)
    snapshot = load_index(index)
    retriever = HybridRetriever.from_snapshot(snapshot, load_embedder(DEFAULT_MODEL))
    groups = snapshot.group_names()
    rows = [json.loads(line) for line in (folder / "evals/ground_truth.jsonl").open()]
    page_hits = doc_hits = asked = 0
    for row in rows:
        gold = {(name, int(page)) for name, page in _CITATION.findall(row["truth"])}
        if not gold:
            continue
        asked += 1
        hits = retriever.retrieve(row["question"], k=5, groups=groups)
        names = {name for name, _ in gold}
        doc_hits += any(Path(h.chunk.source).name in names for h in hits)
        page_hits += any(
            Path(h.chunk.source).name == name
            and h.chunk.page is not None
            and h.chunk.page <= page <= (h.chunk.page_end or h.chunk.page)
            for h in hits
            for name, page in gold
        )
    print(f"  Contoso: {asked} questions with a page citation")
    return {"contoso page hit@5": page_hits / asked, "contoso doc hit@5": doc_hits / asked}


def running_lines(pdf: Path) -> set[str]:
    """The reference rule of the module docstring, on pypdf's plain text."""
    from pypdf import PdfReader

    pages = [
        [" ".join(line.split()) for line in (page.extract_text() or "").split("\n")]
        for page in PdfReader(pdf).pages
    ]
    pages = [[line for line in lines if line] for lines in pages]
    seen: dict[str, set[int]] = {}
    texts: dict[str, set[str]] = {}
    found: set[str] = set()
    for number, lines in enumerate(pages):
        for line in lines[:2] + lines[-2:]:
            if _PAGE_LABEL.fullmatch(line.lower()) and not line.isdigit():
                found.add(line)
            if sum(c.isalpha() for c in line) < 3:
                continue  # a bullet or a stray number is no header
            key = re.sub(r"\d+", "#", line.lower())
            seen.setdefault(key, set()).add(number)
            texts.setdefault(key, set()).add(line)
    needed = max(2, (len(pages) + 1) // 2)
    for key, numbers in seen.items():
        if len(numbers) >= needed:
            found |= texts[key]
    return found


def header_footer_share(chunks: Sequence[Chunk], root: Path) -> tuple[int, int]:
    """(chunks holding a running line of their PDF, chunks of PDFs)."""
    lines_by_source: dict[str, set[str]] = {}
    holding = total = 0
    for chunk in chunks:
        if not chunk.source.lower().endswith(".pdf"):
            continue
        if chunk.source not in lines_by_source:
            lines_by_source[chunk.source] = running_lines(root / chunk.source)
        total += 1
        text = " ".join(chunk.text.split())
        holding += any(line in text for line in lines_by_source[chunk.source])
    return holding, total


def measure(data: Path | None, work: Path) -> dict[str, float]:
    figures: dict[str, float] = {}
    case = REPO / "tests" / "fixtures" / "cases" / "08-pdf-page-break"
    chunks = build([case], work / "case08", "hash:256")
    holding, total = header_footer_share(chunks, case)
    figures["case 08 header/footer share"] = holding / total
    if data is None:
        print("no shared data (../shared/data or $RAGKIT_SHARED_DATA): Contoso skipped")
        return figures
    figures |= contoso_hits(data, work / "contoso")
    contoso = data / "contoso-hr-pdfs" / "data"
    holding, total = header_footer_share(stored_chunks(work / "contoso"), contoso)
    figures["contoso header/footer share"] = holding / total
    holding = total = 0
    for lang in ("en", "pt-BR"):
        folder = data / "mozilla-legal-docs-pt" / lang / "pdf"
        got = header_footer_share(build([folder], work / f"legal-{lang}", "hash:256"), folder)
        holding, total = holding + got[0], total + got[1]
    figures["mozilla legal PDFs header/footer share"] = holding / total if total else 0.0
    return figures


def before_layout() -> str:
    found = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%H", f"--grep=^{LAYOUT_COMMIT}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not found:
        raise SystemExit(f"no commit '{LAYOUT_COMMIT}...' in this history: pass --before REV")
    return f"{found[:12]}^"


def before(commit: str, work: Path) -> dict[str, float]:
    """This script's figures for the code at `commit`, run in a temporary worktree."""
    tree = work / "before"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), commit],
        check=True,
        capture_output=True,
    )
    try:
        env = {**os.environ, "BENCH_PDF_CODE": str(tree), "PYTHONPATH": str(tree)}
        env.setdefault("RAGKIT_SHARED_DATA", str(REPO.parent / "shared" / "data"))
        done = subprocess.run(
            [sys.executable, __file__, "--json"], env=env, capture_output=True, text=True
        )
        print(done.stdout.rsplit("\n{", 1)[0], file=sys.stderr)
        if done.returncode:
            raise SystemExit(f"the run at {commit} failed:\n{done.stderr[-2000:]}")
        return json.loads("{" + done.stdout.rsplit("\n{", 1)[1])
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
            capture_output=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="only this code's figures, as JSON")
    parser.add_argument("--before", help="the commit to compare with (default: see module)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory(prefix="bench_pdf_") as work:
        if args.json:
            print(json.dumps(measure(shared_data(), Path(work)), indent=1))
            return 0
        commit = args.before or before_layout()
        print(f"before: the code at {commit}")
        then = before(commit, Path(work))
        print("now: this checkout")
        now = measure(shared_data(), Path(work))
    print(f"\n{'figure':42s} {'before':>8s} {'now':>8s} {'now/before':>11s}")
    for name, value in now.items():
        old = then.get(name)
        ratio = f"{value / old:.2f}" if old else "-"
        shown = f"{old:.3f}" if old is not None else "-"
        print(f"{name:42s} {shown:>8s} {value:8.3f} {ratio:>11s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
