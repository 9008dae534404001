"""Multilingual retrieval: each text analysed in its own language, against the English-only
analyser that came before, in one run.

    python tests/bench/bench_multilingual.py [--limit N] [--sets en,es,de,pt,mixed]

Sets, from ../shared/data (or $RAGKIT_SHARED_DATA):
- XQuAD English (`xquad-en`), Spanish and German (`xquad-multi`): 240 paragraphs and 1,190
  questions each (the es/de sets are professional translations of the English one).
- FaQuAD Portuguese (`faquad`, train and dev together): 249 paragraphs of Brazilian
  university regulations, 900 questions.
- mixed: the four corpora in one index (969 paragraphs, four languages), each set's questions
  asked against all of it, gold still the question's own-language paragraph: the question's
  language has to be detected here, and the translated twins of its paragraph compete.

Every paragraph is one BEIR record ingested through ragkit's pipeline with the bundled
all-MiniLM-L6-v2 (language detected per record at ingest); a question counts as found at
rank r when a chunk of its gold paragraph is the r-th distinct paragraph retrieved. Metrics:
hit@1, hit@5, MRR@10. Nothing was tuned on these sets (the analyser is Snowball's, the
fusion weights are the SciFact-train defaults), so every question is held out; the split is
"all of it".

Rows (the same index, the same question vectors):
  dense                    all-MiniLM-L6-v2 alone (English-first model)
  BM25 english (before)    every chunk and question analysed as English
  BM25 per-language        chunk language for texts, detected question language
  hybrid before            English analyser; a candidate missing from one list gets its floor
  hybrid after             per-language analyser; both lists score the union of candidates

Also printed: language detection of the 54 documents of mozilla-legal-docs-pt (27 pt-BR,
27 English) and of each set's questions, and lingua's cost (first call, per document).
Indexes and question vectors are cached under `.bench/multilingual/`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO)]

from ingest.pipeline import IngestOptions, ingest  # noqa: E402
from ragkit.index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402
from ragkit.index.records import sha256_hex  # noqa: E402
from ragkit.index.store import load_index  # noqa: E402
from ragkit.retrieval import HybridRetriever, RetrieverSettings  # noqa: E402

BENCH = REPO / ".bench" / "multilingual"
DEPTH = 10


@dataclass(frozen=True)
class Question:
    text: str
    gold: str  # the source of the gold paragraph's record: "corpus.jsonl#<id>"
    language: str


@dataclass(frozen=True)
class QASet:
    name: str
    language: str
    records: list[dict[str, str]]  # BEIR records: _id, title, text
    questions: list[Question]


def shared_data() -> Path | None:
    path = Path(os.environ.get("RAGKIT_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


def squad_paragraphs(
    name: str, files: Sequence[Path]
) -> tuple[list[dict[str, str]], list[tuple[str, dict[str, Any]]]]:
    """Paragraphs as BEIR records (ids `{name}-{n}`, in file order) and each question as
    (its paragraph's record id, the SQuAD qa object)."""
    records: list[dict[str, str]] = []
    qas: list[tuple[str, dict[str, Any]]] = []
    for file in files:
        for article in json.loads(file.read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                pid = f"{name}-{len(records)}"
                title = article.get("title", "").replace("_", " ")
                records.append({"_id": pid, "title": title, "text": paragraph["context"]})
                qas.extend((pid, qa) for qa in paragraph["qas"])
    return records, qas


def squad_set(name: str, language: str, files: Sequence[Path], limit: int | None) -> QASet:
    """Paragraphs as records (ids prefixed by the set's name), questions with their gold."""
    records, qas = squad_paragraphs(name, files)
    questions = [Question(qa["question"], f"corpus.jsonl#{pid}", language) for pid, qa in qas]
    if limit:
        questions = questions[:: max(1, len(questions) // limit)][:limit]
    return QASet(name, language, records, questions)


def load_sets(data: Path, limit: int | None) -> list[QASet]:
    sets = []
    for name, language, files in [
        ("en", "en", [data / "xquad-en" / "xquad.en.json"]),
        ("es", "es", [data / "xquad-multi" / "xquad.es.json"]),
        ("de", "de", [data / "xquad-multi" / "xquad.de.json"]),
        (
            "pt",
            "pt",
            [data / "faquad" / "data" / "train.json", data / "faquad" / "data" / "dev.json"],
        ),
    ]:
        if all(f.is_file() for f in files):
            sets.append(squad_set(name, language, files, limit))
        else:
            print(f"skipped {name}: {files[0].parent} not found")
    return sets


def build_index(name: str, records: list[dict[str, str]], embedder: Any) -> Path:
    """Ingest the records with ragkit's pipeline (cached: an unchanged corpus is not re-read)."""
    folder = BENCH / name
    corpus = folder / "docs" / "corpus.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if not corpus.is_file() or corpus.read_text(encoding="utf-8") != text:
        corpus.write_text(text, encoding="utf-8")
    report = ingest(
        [corpus.parent], folder / "index", IngestOptions(progress=False), embedder=embedder
    )
    assert report.ok, report.to_json()
    return folder / "index"


class PrecomputedEmbedder:
    """The real embedder, with the questions' vectors computed once in one batch."""

    def __init__(self, embedder: Any, vectors: dict[str, np.ndarray]) -> None:
        self.embedder = embedder
        self.vectors = vectors

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        return self.embedder.embed(texts, batch_size=batch_size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.embedder, name)


def question_vectors(
    name: str, questions: Sequence[Question], embedder: Any
) -> dict[str, np.ndarray]:
    texts = sorted({q.text for q in questions})
    key = sha256_hex(json.dumps([embedder.fingerprint(), texts]))[:16]
    path = BENCH / name / f"questions-{key}.npy"
    if path.is_file():
        matrix = np.load(path)
    else:
        matrix = embedder.embed(texts, batch_size=64)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, matrix)
    return dict(zip(texts, matrix, strict=True))


def rank_of_gold(retriever: HybridRetriever, question: Question) -> int | None:
    """1-based rank of the gold paragraph among the distinct paragraphs retrieved, or None."""
    seen: list[str] = []
    for hit in retriever.retrieve(question.text, k=DEPTH * 3):
        if hit.chunk.source not in seen:
            seen.append(hit.chunk.source)
        if hit.chunk.source == question.gold:
            return len(seen)
        if len(seen) >= DEPTH:
            break
    return None


def metrics(ranks: Sequence[int | None]) -> tuple[float, float, float]:
    n = max(len(ranks), 1)
    hit1 = sum(1 for r in ranks if r == 1) / n
    hit5 = sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr = sum(1 / r for r in ranks if r is not None and r <= DEPTH) / n
    return hit1, hit5, mrr


def _no_union(*_args: Any, **_kwargs: Any) -> None:
    """The fusion before: a candidate missing from one list got that list's floor."""


def variants(chunks: list[Any]) -> dict[str, tuple[list[Any], RetrieverSettings, Callable | None]]:
    english = [replace(c, language=None) for c in chunks]
    return {
        "dense": (chunks, RetrieverSettings(mode="dense"), None),
        "BM25 english (before)": (english, RetrieverSettings(mode="sparse"), None),
        "BM25 per-language": (chunks, RetrieverSettings(mode="sparse"), None),
        "hybrid before": (english, RetrieverSettings(), _no_union),
        "hybrid after": (chunks, RetrieverSettings(), None),
    }


def evaluate(
    index: Path, questions: Sequence[Question], vectors: dict[str, np.ndarray], embedder: Any
) -> dict[str, tuple]:
    import tempfile

    from ragkit.index.store import write_generation

    snapshot = load_index(index)
    stub = PrecomputedEmbedder(embedder, vectors)
    stored = snapshot.live_chunks()
    by_id = snapshot.vectors_for(c.chunk_id for c in stored)
    matrix = np.stack([by_id[c.chunk_id] for c in stored])
    scratch = Path(tempfile.mkdtemp(prefix="bench-multilingual-"))
    results = {}
    for n, (label, (chunks, settings, union)) in enumerate(variants(stored).items()):
        # BM25 is saved with the index: each language variant gets its own index
        folder = scratch / f"v{n}"
        manifest = {"fingerprint": snapshot.fingerprint, "files": snapshot.files}
        write_generation(folder, manifest, chunks, matrix)
        retriever = HybridRetriever.from_index(folder, stub, settings)
        patch = (
            mock.patch("ragkit.retrieval.hybrid._score_union", union) if union else nullcontext()
        )
        with patch:
            results[label] = metrics([rank_of_gold(retriever, q) for q in questions])
    return results


def print_table(name: str, n_paragraphs: int, n_questions: int, results: dict[str, tuple]) -> None:
    print(f"\n{name}: {n_paragraphs} paragraphs, {n_questions} questions")
    print(f"  {'':26} {'hit@1':>7} {'hit@5':>7} {'MRR@10':>7}")
    for label, (hit1, hit5, mrr) in results.items():
        print(f"  {label:26} {hit1:7.3f} {hit5:7.3f} {mrr:7.3f}")
    for after, before in [
        ("BM25 per-language", "BM25 english (before)"),
        ("hybrid after", "hybrid before"),
    ]:
        ratio = [
            a / b if b else float("nan")
            for a, b in zip(results[after], results[before], strict=True)
        ]
        print(
            f"  {'ratio ' + after.split()[0].lower() + ' after/before':26} "
            + " ".join(f"{r:7.3f}" for r in ratio)
        )


def detection(data: Path, sets: Sequence[QASet]) -> None:
    from ragkit.text.language import detect_language

    probe = (
        "import time; t = time.perf_counter(); import ragkit; a = time.perf_counter() - t; "
        "from ragkit.text.language import detect_language as d; t = time.perf_counter(); "
        "d('a first sentence to detect'); print(f'{a:.3f} {time.perf_counter() - t:.3f}')"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.split()
    print(
        f"\nlanguage detection (lingua, low accuracy mode), fresh process: `import ragkit` "
        f"{fresh[0]} s (lingua not imported), first detection {fresh[1]} s"
    )
    legal = data / "mozilla-legal-docs-pt"
    if legal.is_dir():
        from ingest.loaders import load_file

        docs = [  # the documents of the pt-BR/ and en/ folders (not the licence beside them)
            (p, folder)
            for folder in ("pt-BR", "en")
            for p in sorted((legal / folder).rglob("*"))
            if p.suffix in (".md", ".html", ".pdf")
        ]
        correct, chars, seconds = 0, 0, 0.0
        for path, folder in docs:
            text = " ".join(d.text for d in load_file(path, path.name))
            started = time.perf_counter()
            found = detect_language(text)
            seconds += time.perf_counter() - started
            chars += min(len(text), 4000)
            correct += found == folder.split("-")[0].lower()
        n = max(len(docs), 1)
        print(
            f"  mozilla-legal-docs-pt documents: {correct}/{len(docs)} correct (pt-BR and en), "
            f"{1000 * seconds / n:.1f} ms per document ({chars // n} chars sampled)"
        )
        for path, folder in docs:
            text = " ".join(d.text for d in load_file(path, path.name))
            if detect_language(text) != folder.split("-")[0].lower():
                print(f"    wrong: {path.relative_to(legal)} -> {detect_language(text)}")
    for qa in sets:
        found = [detect_language(q.text) for q in qa.questions]
        share = sum(f == qa.language for f in found) / max(len(found), 1)
        unsure = sum(f is None for f in found) / max(len(found), 1)
        print(f"  {qa.name} questions, among all languages: {share:.3f} right, {unsure:.3f} unsure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="questions per set (spread evenly)")
    parser.add_argument("--sets", default="en,es,de,pt,mixed")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        print("../shared/data not found (set RAGKIT_SHARED_DATA): nothing to measure")
        return
    wanted = set(args.sets.split(","))
    sets = [s for s in load_sets(data, args.limit) if s.name in wanted or "mixed" in wanted]
    embedder = load_embedder(DEFAULT_MODEL)
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"commit {commit or '?'}; model {embedder.fingerprint().get('model')}; depth {DEPTH}")
    vectors: dict[str, np.ndarray] = {}
    for qa in sets:
        vectors |= question_vectors(qa.name, qa.questions, embedder)
        if qa.name not in wanted:
            continue
        index = build_index(qa.name, qa.records, embedder)
        results = evaluate(index, qa.questions, vectors, embedder)
        print_table(qa.name, len(qa.records), len(qa.questions), results)
    if "mixed" in wanted and len(sets) > 1:
        records = [r for qa in sets for r in qa.records]
        questions = [q for qa in sets for q in qa.questions]
        index = build_index("mixed", records, embedder)
        results = evaluate(index, questions, vectors, embedder)
        label = "mixed index (" + "+".join(qa.name for qa in sets) + ")"
        print_table(label, len(records), len(questions), results)
    detection(data, sets)


if __name__ == "__main__":
    main()
