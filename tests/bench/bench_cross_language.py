"""Cross-language questions: asked in one language over documents in another, in one run.

    python tests/bench/bench_cross_language.py [--limit N]

Data: XQuAD (../shared/data: `xquad-en`, `xquad-multi`): the same 240 paragraphs and 1,190
questions in English, Spanish and German (professional translations, aligned by question id).
Each language's paragraphs are one index (BEIR records through ragkit's pipeline with the
bundled all-MiniLM-L6-v2; shared with bench_multilingual.py's cache in .bench/multilingual/).
A question is asked against an index in its own language (the reference) and in another
(the cross-language condition); the gold paragraph and the gold answer are the index
language's twins of the question's own. Nothing is tuned here: every question is held out.

Rows: questions -> documents. Columns: retrieval hit@1 / hit@5 (dense alone, BM25 alone,
hybrid: ragkit's default), then end to end with the default reader (retrieve k=5, read):
answer contains a gold answer (in the documents' language), and answerable questions refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "bench")]

from bench_multilingual import (  # noqa: E402
    PrecomputedEmbedder,
    Question,
    build_index,
    metrics,
    question_vectors,
    rank_of_gold,
    shared_data,
    squad_paragraphs,
)

from ragkit.assistant import Assistant  # noqa: E402
from ragkit.generators.extractive import ExtractiveGenerator  # noqa: E402
from ragkit.index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402
from ragkit.index.store import load_index  # noqa: E402
from ragkit.retrieval import HybridRetriever, RetrieverSettings  # noqa: E402

PAIRS = [("en", "en"), ("es", "en"), ("de", "en"), ("en", "es"), ("en", "de")]


def load(data: Path, language: str) -> tuple[list[dict[str, str]], list[tuple]]:
    """Records (`{language}-{n}` ids, as bench_multilingual.py makes them) and, per question in
    XQuAD order, (question id, paragraph record id, answers, question)."""
    path = (
        data / "xquad-en" / "xquad.en.json"
        if language == "en"
        else data / "xquad-multi" / f"xquad.{language}.json"
    )
    records, qas = squad_paragraphs(language, [path])
    questions = [
        (qa["id"], pid, [a["text"] for a in qa["answers"]], qa["question"]) for pid, qa in qas
    ]
    return records, questions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300, help="questions per row")
    args = parser.parse_args(argv)
    data = shared_data()
    if data is None or not (data / "xquad-multi").is_dir():
        print("skipped: ../shared/data/xquad-en and xquad-multi not found")
        return 0
    embedder = load_embedder(DEFAULT_MODEL)
    loaded = {lang: load(data, lang) for lang in ("en", "es", "de")}
    indexes = {lang: build_index(lang, loaded[lang][0], embedder) for lang in loaded}
    print(f"{'questions -> docs':18} {'n':>4}  {'dense h@1/h@5':>13} {'BM25 h@1/h@5':>13} "
          f"{'hybrid h@1/h@5':>14}  {'answer holds gold':>17} {'refused':>8}")  # fmt: skip
    for asked, docs in PAIRS:
        by_id = {qid: (pid, answers) for qid, pid, answers, _ in loaded[docs][1]}
        every = [(qid, text) for qid, _, _, text in loaded[asked][1] if qid in by_id]
        chosen = every[:: max(1, len(every) // args.limit)][: args.limit]
        questions = [Question(text, f"corpus.jsonl#{by_id[qid][0]}", asked) for qid, text in chosen]
        vectors = question_vectors(asked, questions, embedder)
        fast = PrecomputedEmbedder(embedder, vectors)
        snapshot = load_index(indexes[docs])
        cells = []
        for mode in ("dense", "sparse", "hybrid"):
            retriever = HybridRetriever(snapshot, fast, RetrieverSettings(mode=mode))
            hit1, hit5, _ = metrics([rank_of_gold(retriever, q) for q in questions])
            cells.append(f"{hit1:.2f} / {hit5:.2f}")
        assistant = Assistant(HybridRetriever(snapshot, fast), ExtractiveGenerator(fast))
        holds = refused = 0
        for qid, text in chosen:
            answer = assistant.ask(text)
            refused += answer.abstained
            gold = by_id[qid][1]
            holds += not answer.abstained and any(g.lower() in answer.text.lower() for g in gold)
        n = len(questions)
        print(f"{asked + ' -> ' + docs:18} {n:>4}  {cells[0]:>13} {cells[1]:>13} {cells[2]:>14}  "
              f"{holds / n:>17.2f} {refused / n:>8.2f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
