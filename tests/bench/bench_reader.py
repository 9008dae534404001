"""The trained readers beside the heuristic one they replaced, on held-out data only.

    nice -n 10 python tests/bench/bench_reader.py [--limit N] [--json out.json]

The readers are `ExtractiveGenerator`s over the same passages with the same embedder:
`reader="unit"` (the default: `ragkit/reader/selector-unit.json` over the unit encoder's
cosines, `unit_encoder.safetensors`), `reader="trained"` (`selector.json` over the embedder's
own cosines, the default before the unit encoder), `reader="cross"` (its support also reads
the cross-encoder `cross.safetensors`) and `reader="heuristic"` (hand-set weights, English cue
lists, SQuAD-calibrated threshold). `--baseline REF` adds the "trained" reader as it was at a
git commit (the default reader up to a85204a; its code and artefact, `git archive` into a
temporary folder, run there in a subprocess over the same sets and caches, scored by this
file's code): the reader being replaced, in the same run.
Every set is the held-out split of `scripts/train_reader.py`, which never trains or tunes
on it:

- hr: HR-style questions over documents held out by document (`HR_HELD_OUT`), asked end to
  end against an index of sample_corpus (retrieve k=5, then read): training/reader's pairs
  (answerable and near-miss unanswerable) and sample_corpus/eval.jsonl (answerable, and its
  off-topic unanswerable questions with odd ids).
- contoso: the published questions about Northwind Health Plus (k=5 over the six contoso
  PDFs). They have long free-text answers, not short facts, so "supported" here means the
  answer quotes a unit from the cited page most of whose words are in the published answer.
- handbook, handbook-pt: training/reader/handbook_pairs.jsonl (employee-style questions over
  the Sourcegraph and 18F handbooks; handbook-pt: Portuguese ones over mozilla-legal-docs-pt
  pt-BR and contributor-covenant-pt), the documents of the TEST split only (`--split`;
  `train_reader.handbook_split`: crc32 of the document path % 10 in 7-9; "validation", 5-6,
  is where settings and the refusal threshold are chosen), asked end to end: retrieve k=5 from
  an index of the document's corpus (the default MiniLM embedder, cached in .cache/reader),
  then read. "gold" = the answer holds every must_contain string (one per item for a list),
  "any" = at least one of them (`train_reader.contains`: case, articles and punctuation
  ignored; typographic quotes and dashes straightened first).
- squad2 (held-out half by article), xquad en/es/de (held-out articles; English items whose
  paragraph is in squad2's training half dropped), faquad dev (pt): the gold paragraph as the
  only passage.

Columns: answer contains a gold answer (share of answerable), false refusal (share of
answerable refused), correct refusal (share of unanswerable refused), words (mean length of
the answers given: a longer answer contains a gold span more easily, so read it beside gold).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import train_reader as tr  # noqa: E402

from ragkit.generators.extractive import ExtractiveGenerator  # noqa: E402
from ragkit.index.embedding import DEFAULT_MODEL, load_embedder  # noqa: E402


def held_out_sets(
    data: Path, limit: int | None, split: str = "test", only: Sequence[str] = ()
) -> dict[str, list[tr.Example]]:
    sets: dict[str, list[tr.Example]] = {}
    handbook = tr.handbook_examples(data, (split,))
    sets["handbook"] = [e for e in handbook if e.lang != "pt"]
    sets["handbook-pt"] = [e for e in handbook if e.lang == "pt"]
    if only and not set(only) - {"handbook", "handbook-pt"}:
        return {k: v for k, v in sets.items() if k in only}
    hr = [e for e in tr.hr_examples(data) if e.held_out]
    sets["hr"] = [e for e in hr if e.source != "contoso"]
    sets["contoso"] = [e for e in hr if e.source == "contoso"]
    squad, held_titles = tr.squad_split(data)
    train_contexts = {e.hits[0].chunk.text for e in squad if not e.held_out}
    sets["squad2"] = tr.sample_by_paragraph([e for e in squad if e.held_out], limit or 10**9, 1)
    en_path = data / "xquad-en" / "xquad.en.json"
    en_titles = [a["title"] for a in json.loads(en_path.read_text(encoding="utf-8"))["data"]]
    for lang in ("en", "es", "de"):
        path = en_path if lang == "en" else data / "xquad-multi" / f"xquad.{lang}.json"
        items = tr.squad_examples(path, f"xquad-{lang}", lang, set())
        titles = [a["title"] for a in json.loads(path.read_text(encoding="utf-8"))["data"]]
        held = {
            t
            for t, en in zip(titles, en_titles, strict=True)
            if en in held_titles or zlib.crc32(en.encode()) % 2 == 1
        }
        items = [e for e in items if e.group.split(":", 1)[1] in held]
        if lang == "en":
            items = [e for e in items if e.hits[0].chunk.text not in train_contexts]
        sets[f"xquad-{lang}"] = tr.sample_by_paragraph(items, limit or 10**9, 1)
    faquad = tr.squad_examples(data / "faquad" / "data" / "dev.json", "faquad", "pt", None)
    sets["faquad-pt"] = tr.sample_by_paragraph(faquad, limit or 10**9, 1)
    return {k: v for k, v in sets.items() if not only or k in only}


# typographic quotes and dashes straightened before `tr.contains` (which drops ASCII
# punctuation only): "when you’ll be back" in a handbook page holds the gold "when you'll
# be back". On answers and golds alike; the selector's training labels are unchanged.
_TYPOGRAPHIC = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def contains(text: str, golds: Sequence[str]) -> bool:
    """`train_reader.contains` with typographic quotes and dashes straightened."""
    return tr.contains(text.translate(_TYPOGRAPHIC), [g.translate(_TYPOGRAPHIC) for g in golds])


def correct(e: tr.Example, answer: Any) -> bool:
    if e.source == "contoso":
        return any(
            tr.contoso_positive(c.quote, h, e)
            for c in answer.citations
            for h in e.hits
            if h.chunk.chunk_id == c.chunk_id
        )
    if e.require_all:
        return all(contains(answer.text, [g]) for g in e.golds)
    return contains(answer.text, e.golds)


def evaluate(generator: ExtractiveGenerator, examples: Sequence[tr.Example]) -> dict[str, Any]:
    good, refused_ans, refused_un, n_un, kinds, ms = 0, 0, 0, 0, {}, []
    any_of, lengths = 0, []
    n_ans = sum(e.answerable for e in examples)
    for e in examples:
        began = time.perf_counter()
        answer = generator.generate(e.question, e.hits)
        ms.append(1000 * (time.perf_counter() - began))
        if not answer.abstained:
            lengths.append(len(answer.text.split()))
        if e.answerable:
            refused_ans += answer.abstained
            good += (not answer.abstained) and correct(e, answer)
            any_of += (not answer.abstained) and contains(answer.text, e.golds)
        else:
            n_un += 1
            refused_un += answer.abstained
            k = kinds.setdefault(e.kind or "unanswerable", [0, 0])
            k[0] += answer.abstained
            k[1] += 1
    return {
        "answerable": n_ans,
        "unanswerable": n_un,
        "contains_gold": good / n_ans if n_ans else None,
        "contains_any": any_of / n_ans if n_ans else None,
        "false_refusal": refused_ans / n_ans if n_ans else None,
        "correct_refusal": refused_un / n_un if n_un else None,
        "by_kind": {k: v[0] / v[1] for k, v in kinds.items()},
        "p95_ms": float(np.percentile(ms, 95)) if ms else None,
        "words": float(np.mean(lengths)) if lengths else None,  # per answer, refusals aside
    }


def baseline_results(ref: str, argv: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The results of this benchmark for the reader as committed at `ref` (its ragkit/ and
    scripts/ with their artefacts; this file's scoring), run with the same arguments; its
    `.cache` is this checkout's (the same indexes)."""
    import shutil
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-reader-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        # this benchmark's own code scores both (the same sets, the same containment): only
        # the reader (ragkit/ and scripts/train_reader.py with its artefacts) is the commit's
        shutil.copy(Path(__file__), Path(tmp) / "tests" / "bench" / "bench_reader.py")
        # the same indexes, linked, but for the one of the repository's own sample_corpus:
        # an index is bound to its folder, so that one is built afresh for the archive's copy
        # (train_reader.index_path keys it by the folder; a commit whose indexing code differs
        # finds none of these under its keys and builds its own)
        cache = Path(tmp) / ".cache" / "reader"
        cache.mkdir(parents=True)
        for entry in (REPO / ".cache" / "reader").iterdir():
            if entry.name.startswith("index-") and not entry.name.startswith("index-sample"):
                (cache / entry.name).symlink_to(entry)
        out = Path(tmp) / "results.json"
        env = {**os.environ, "PYTHONPATH": tmp}
        subprocess.run(
            # only its "trained" reader: the readers named here may not exist at `ref`
            [sys.executable, f"{tmp}/tests/bench/bench_reader.py", *argv, "--readers", "trained"]
            + ["--json", str(out)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())


def fmt(x: float | None) -> str:
    return "   -" if x is None else f"{x:.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=300, help="questions per public set")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--split",
        default="test",
        choices=("test", "validation"),
        help="handbook documents: test (reported) or validation (for choosing settings)",
    )
    parser.add_argument("--only", nargs="*", default=(), help="set names, e.g. handbook")
    parser.add_argument(
        "--baseline", default=None, help="a git commit: its trained reader beside this one"
    )
    parser.add_argument(
        "--readers",
        nargs="*",
        default=("heuristic", "unit", "trained", "cross"),
        choices=("heuristic", "unit", "trained", "cross"),
        help="which of this checkout's readers to run (default: all four)",
    )
    args = parser.parse_args(argv)
    baseline: dict[str, dict[str, Any]] = {}
    if args.baseline:
        passed = ["--limit", str(args.limit), "--split", args.split]
        passed += ["--only", *args.only] if args.only else []
        print(f"running the reader at {args.baseline} first ...", flush=True)
        baseline = baseline_results(args.baseline, passed)
    data = tr.shared_data()
    sets = held_out_sets(data, args.limit, args.split, args.only)
    embedder = load_embedder(DEFAULT_MODEL)
    readers = {name: ExtractiveGenerator(embedder, reader=name) for name in args.readers}
    results: dict[str, dict[str, Any]] = {}
    print(f"handbook split: {args.split}")
    print(
        f"{'set':11} {'n ans/un':>9}  {'reader':9} {'gold':>5} {'any':>5} {'false ref':>9} "
        f"{'correct ref':>11} {'words':>5}"
    )
    for name, examples in sets.items():
        rows = [(reader, evaluate(generator, examples)) for reader, generator in readers.items()]
        if f"{name}/trained" in baseline:
            rows.append((f"@{args.baseline[:9]}", baseline[f"{name}/trained"]))
        for reader, r in rows:
            results[f"{name}/{reader}"] = r
            print(
                f"{name:11} {r['answerable']:>4}/{r['unanswerable']:<4}  {reader:9} "
                f"{fmt(r['contains_gold']):>5} {fmt(r['contains_any']):>5} "
                f"{fmt(r['false_refusal']):>9} "
                f"{fmt(r['correct_refusal']):>11} {r['words'] or 0:>5.1f}  {r['by_kind'] or ''}",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
