"""Train the answer selector shipped as ragkit/reader/selector.json (CPU, deterministic).

    nice -n 10 python scripts/train_reader.py [--out ragkit/reader/selector.json]

Data (../shared/data or $RAGKIT_SHARED_DATA, plus files in this repository), each split so
that what the README and tests/bench/bench_reader.py report is never trained or tuned on:

- squad2-cs224n-dev: articles sorted by title, even positions train (the bench's
  "calibration half"), odd positions held out. Train keeps whole paragraphs with all their
  questions, answerable and unanswerable, up to SQUAD_QUESTIONS.
- xquad-multi es/de: articles whose title is a held-out squad2 article, or whose crc32 is
  odd, are held out; the others train (XQUAD_QUESTIONS per language).
- faquad (Portuguese): data/train.json trains, data/dev.json is held out.
- HR-style pairs, split by document (`HR_HELD_OUT`): training/reader/hr_pairs.jsonl (written
  for this model: indirect questions and near misses), sample_corpus/eval.jsonl (its
  unanswerable questions, which have no document, split by id), and contoso's published
  questions (Northwind Standard trains, Northwind Health Plus is held out). These are asked
  against real indexes of sample_corpus and the contoso PDFs (`ragkit ingest`, k=5), so the
  candidates and their ranks are what `ragkit ask` sees.
- Handbook pairs (training/reader/handbook_pairs.jsonl: employee-style questions over the
  Sourcegraph and 18F handbooks, and Portuguese ones over mozilla-legal-docs-pt/pt-BR and
  contributor-covenant-pt), split by document (`handbook_split`: crc32 of the document path
  % 10): 0-4 train, 5-6 validation, 7-9 test. Train pairs train the stages and the
  answerability model; validation pairs choose the refusal threshold (and were used to choose
  MAX_PASSAGES, MAX_CANDIDATES, HR_WEIGHT and the features); test pairs are only reported
  (tests/bench/bench_reader.py). Each is asked end to end (retrieve k=5) of an index of its
  corpus.

A unit is a positive when it contains a gold answer (SQuAD-normalised), or for contoso, when
it is on the cited page and most of its words are in the published answer.

Model: stage 1, logistic regression on the cheap features of every unit; stage 2, logistic
regression on cheap + dense features (`--dense`, default the unit's cosine and cosine x word
share) of the units stage 1 ranks in its top MAX_CANDIDATES (each question weighs the same,
an HR-style one HR_WEIGHT times a public one). The answerability model (question level,
`ragkit.reader.selector.ANSWERABILITY_NAMES`) is fitted on out-of-fold stage-2 scores of all
training questions (grouped 4-fold by document).

The cross-encoder (`ragkit.reader.cross`; `--support-cross`, or `--dense` naming "cross"):
trained by scripts/train_cross.py (its own data and docstring: LoRA on the bundled MiniLM and
a linear head, a listwise loss over each training question's units with a "no answer"
logit), written to ragkit/reader/cross.safetensors (kept with --reuse-cross when it records
train_cross's version), then scored by the numpy forward pass as at run time. With
`--support-cross` (writes selector-cross.json, reader="cross") the answerability model reads
its logit of the chosen unit in place of the best cosine. When stage 2 reads it, stage 2 and
the answerability model are fitted on every HR-style training question (their cross-encoder
scores are in-sample) and STAGE2_PUBLIC public ones it did not train on.

The support threshold for the embedding model is the highest that refuses at most
MAX_FALSE_REFUSAL of the answerable handbook validation questions, scored end to end with
the final stages. Embeddings are cached in .cache/reader/ (by text), so a rerun without
the cross-encoder takes a few minutes; training the cross-encoder (scripts/train_cross.py,
one torch thread, seeded) adds about 30 minutes on a shared 2-core machine under load, and
scoring with it 2-3 minutes. selector-cross.json: `--support-cross --reuse-cross`.

Answer-type evidence (`--answer-type`, `ragkit.reader.answertype`): P(the answer holds a
number), a logistic model over hashed question words fitted on the answerable training
questions (label: a gold string holds a number, digits or words read by text2num; out of
fold inside the answerability folds), read by the answerability model with "the chosen unit
holds no number". Its two weights are fitted on the HR-style training questions with the
base answerability model's logit as offset (`with_answer_type`). The shipped selector.json
keeps its ranking stages and base answerability model (version 7's: refitting them lowered
validation gold / support AUC) and adds these, about 30 s:
`--stages-from ragkit/reader/selector.json --keep-answerability --answer-type
--max-false-refusal 0.06` (the cap that gave the shipped selector its validation false
refusal, 6 of 108). `--features-out` writes the answerability features for measurement.

The chosen unit without its headings (`--unit-alone`, version 11,
`ragkit.reader.selector.UNIT_ALONE_NAMES`): the answerability model also reads the chosen
unit's cosine with the question from its own text minus its cosine under its title and
headings (stage 2's encoder: the unit encoder with `--unit-encoder`), fitted with the other
base features. Only for a stage 2 that reads cosines (not the cross-encoder's logits).

The artefact's provenance records the command that wrote it (`command`): rerun that to
refit it after its inputs change.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import random
import re
import string
import subprocess
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit.index.records import Chunk, chunk_id_for  # noqa: E402
from ragkit.reader.candidates import build_candidates, passages_text  # noqa: E402
from ragkit.reader.features import (  # noqa: E402
    COSINE_ONLY,
    DENSE_NAMES,
    N_CHEAP,
    N_CROSS,
    cheap_features,
    dense_features,
    stem,
    tokens,
)
from ragkit.types import Hit  # noqa: E402

SCRIPT_VERSION = "11"
CACHE = REPO / ".cache" / "reader"
SQUAD_QUESTIONS = 1500
XQUAD_QUESTIONS = 300
FAQUAD_QUESTIONS = 400
MAX_PASSAGES = 5
MAX_CANDIDATES = 3  # units the cross-encoder scores per question (warm-latency bound)
# the dense features stage 2 reads (`ragkit.reader.features.DENSE_NAMES`; --dense)
DENSE: tuple[str, ...] = COSINE_ONLY
# --support-cross: the answerability model reads the cross-encoder's logit of the chosen unit
# (one pair a question), whatever stage 2 reads
SUPPORT_CROSS = False
# --unit-alone: the answerability model reads the chosen unit's cosine alone minus under its
# headings (`ragkit.reader.selector.UNIT_ALONE_NAMES`)
UNIT_ALONE = False
# Stage 2 and the answerability model are fitted on the cross-encoder's scores of every
# HR-style training question and of STAGE2_PUBLIC public ones it was not trained on (the
# numpy forward pass takes ~0.25 s a question here: all 3,500 would take 15 minutes).
STAGE2_PUBLIC = 1000
RETRIEVE_K = 5
C_STAGE = 0.5  # inverse L2 strength of both stages
# Cross features enter the fit at this value (their weights are scaled back when saved): below
# 1 puts a stronger L2 on the question-opening crosses than on the dense features (0.5 was
# measured: validation 0.46 against 0.51 at 1).
CROSS_VALUE = 1.0
HR_WEIGHT = 3.0  # an HR-style question weighs this many public ones (validation: 0.54 vs 0.52 at 1)
HR_SOURCES = frozenset({"hr_pairs", "sample_eval", "contoso", "handbook", "cross"})
HR_HELD_OUT = frozenset(
    {
        "sample_corpus/people/remote-work.md",
        "sample_corpus/it/equipment-faq.txt",
        "sample_corpus/leave/annual-leave.md",
        "sample_corpus/leave/public-holidays.md",
        "sample_corpus/managers/salary-bands.md",
        "sample_corpus/money/travel.pdf",
        "sample_corpus/leave/parental-leave.docx",
        "contoso/Northwind_Health_Plus_Benefits_Details.pdf",
    }
)


def shared_data() -> Path:
    import os

    env = os.environ.get("RAGKIT_SHARED_DATA")
    for path in (
        Path(env) if env else None,
        REPO.parent / "shared" / "data",
        Path("/work/shared/data"),
    ):
        if path is not None and path.is_dir():
            return path
    raise SystemExit("no shared data: set RAGKIT_SHARED_DATA to the shared/data folder")


# --- examples ---------------------------------------------------------------------------


@dataclass
class Example:
    question: str
    hits: list[Hit]
    golds: list[str]  # answer strings; empty for unanswerable
    answerable: bool
    source: str  # dataset name
    group: str  # document / article: the unit of splitting
    held_out: bool
    lang: str = "en"
    truth: str = ""  # contoso: the published answer
    gold_page: tuple[str, int] | None = None
    kind: str = ""  # hr: answerable / near-miss / off-topic
    extra: dict[str, Any] = field(default_factory=dict)
    split: str = ""  # handbook pairs: train / validation / test (`handbook_split`)
    require_all: bool = False  # handbook pairs: every gold string must be in the answer


def normalise(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def contains(text: str, golds: Sequence[str]) -> bool:
    t = f" {normalise(text)} "
    return any(f" {normalise(g)} " in t for g in golds if normalise(g))


def paragraph_hit(title: str, text: str) -> Hit:
    chunk = Chunk(
        chunk_id_for(title, text), title, title.replace("_", " "), text, 0, len(text), None, (), ""
    )
    return Hit(chunk, 1.0, 1)


def squad_examples(path: Path, source: str, lang: str, held: set[str] | None) -> list[Example]:
    """Examples of a SQuAD-format file; `held` = titles held out (None: split by crc32)."""
    out = []
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        title = article["title"]
        is_held = zlib.crc32(title.encode()) % 2 == 1 if held is None else title in held
        for p in article["paragraphs"]:
            hit = paragraph_hit(title, p["context"])
            for qa in p["qas"]:
                golds = [a["text"] for a in qa.get("answers", [])]
                answerable = not qa.get("is_impossible", False) and bool(golds)
                out.append(
                    Example(
                        qa["question"],
                        [hit],
                        golds,
                        answerable,
                        source,
                        f"{source}:{title}",
                        is_held,
                        lang,
                    )
                )
    return out


def squad_split(data: Path) -> tuple[list[Example], set[str]]:
    path = data / "squad2-cs224n-dev" / "data" / "dev-v2.0.json"
    titles = sorted(a["title"] for a in json.loads(path.read_text(encoding="utf-8"))["data"])
    held = {t for n, t in enumerate(titles) if n % 2 == 1}
    return squad_examples(path, "squad2", "en", held), held


def sample_by_paragraph(examples: list[Example], n: int, seed: int = 0) -> list[Example]:
    """Whole paragraphs (all their questions) in a seeded order until n questions."""
    by_paragraph: dict[str, list[Example]] = {}
    for e in examples:
        by_paragraph.setdefault(e.hits[0].chunk.chunk_id, []).append(e)
    keys = sorted(by_paragraph)
    random.Random(seed).shuffle(keys)
    kept: list[Example] = []
    for key in keys:
        if len(kept) >= n:
            break
        kept.extend(by_paragraph[key])
    return kept


# The code whose output an index holds: loaders and chunking (ingest/), front matter and
# JSON parsing (ragkit/strict.py), embedding, chunk records and BM25 segments (ragkit/index/),
# text analysis and stopword data (ragkit/text/). Library versions (pypdf, markdown-it-py...)
# are not in the key.
INDEX_CODE = ("ingest", "ragkit/strict.py", "ragkit/index", "ragkit/text")


@functools.cache
def index_code_digest(repo: Path = REPO) -> str:
    """SHA-256 of the files of `INDEX_CODE` in `repo` (relative paths and contents; compiled
    files aside)."""
    h = hashlib.sha256()
    for name in INDEX_CODE:
        top = repo / name
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                h.update(path.relative_to(repo).as_posix().encode() + b"\0")
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def index_path(corpus: Path, name: str, repo: Path = REPO) -> Path:
    """The cached index of `corpus`: .cache/reader/index-<name>-<key>, the key a digest of the
    corpus folder's resolved path and of the indexing code (`index_code_digest`). A sync
    re-reads only changed files, so an index built by other loaders or chunking code would
    keep their chunks of unchanged files: with the code in the key such an index is not
    reused but built afresh, and an index copied from another checkout (whose own
    sample_corpus is another folder, which a sync refuses to mix in) is never picked up.
    Indexes under other keys are left in place (another checkout may be using them)."""
    key = hashlib.sha256(f"{corpus.resolve()}\0{index_code_digest(repo)}".encode()).hexdigest()[:12]
    return CACHE / f"index-{name}-{key}"


def ingest(corpus: Path, name: str) -> Path:
    """An index of `corpus` at `index_path(corpus, name)`, synced (`ragkit ingest` embeds only
    what changed: a rerun over an unchanged corpus takes a fraction of a second)."""
    index = index_path(corpus, name)
    code = "from ragkit.cli import main; raise SystemExit(main())"
    subprocess.run(
        [sys.executable, "-c", code, "ingest", str(corpus), "--index", str(index), "--no-progress"],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    return index


def hr_examples(data: Path) -> list[Example]:
    from ragkit.assistant import Assistant

    out: list[Example] = []
    sample = Assistant.from_index(ingest(REPO / "sample_corpus", "sample"))
    contoso_dir = data / "contoso-hr-pdfs"
    contoso = Assistant.from_index(ingest(contoso_dir / "data", "contoso"))
    for line in (REPO / "training" / "reader" / "hr_pairs.jsonl").read_text().splitlines():
        r = json.loads(line)
        kind = "answerable" if r["answerable"] else "near-miss"
        out.append(
            Example(
                r["question"],
                sample.retrieve(r["question"], k=RETRIEVE_K),
                r["must_contain"],
                r["answerable"],
                "hr_pairs",
                r["doc"],
                r["doc"] in HR_HELD_OUT,
                kind=kind,
            )
        )
    for line in (REPO / "sample_corpus" / "eval.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["sources"]:
            doc = "sample_corpus/" + r["sources"][0].split("#")[0]
            held = doc in HR_HELD_OUT
        else:
            doc, held = f"sample_corpus/unanswerable/{r['id']}", int(r["id"][1:]) % 2 == 1
        out.append(
            Example(
                r["question"],
                sample.retrieve(r["question"], k=RETRIEVE_K),
                r.get("must_contain") or [],
                r["answerable"],
                "sample_eval",
                doc,
                held,
                kind="answerable" if r["answerable"] else "off-topic",
            )
        )
    for line in (contoso_dir / "evals" / "ground_truth.jsonl").read_text().splitlines():
        r = json.loads(line)
        cite = re.search(r"\[([^#\]]+)#page=(\d+)\]", r["truth"])
        if not cite:
            continue
        doc = f"contoso/{cite.group(1)}"
        out.append(
            Example(
                r["question"],
                contoso.retrieve(r["question"], k=RETRIEVE_K),
                [],
                True,
                "contoso",
                doc,
                doc in HR_HELD_OUT,
                truth=r["truth"][: cite.start()],
                gold_page=(cite.group(1), int(cite.group(2))),
                kind="answerable",
            )
        )
    return out


HANDBOOK_PAIRS = REPO / "training" / "reader" / "handbook_pairs.jsonl"


def handbook_split(doc: str) -> str:
    """The split of a handbook pair, by its document: crc32(doc path) % 10 in 0-4 is "train",
    5-6 "validation" (choosing settings and the refusal threshold), 7-9 "test" (reported
    only). Every pair of one document lands in the same split."""
    bucket = zlib.crc32(doc.encode("utf-8")) % 10
    return "train" if bucket < 5 else "validation" if bucket < 7 else "test"


def corpus_root(doc: str) -> str:
    """The folder under shared/data indexed for a pair's document: its top folder, or the
    language folder of a corpus that holds translations side by side (mozilla-legal-docs-pt
    has pt-BR/ and en/: a Portuguese question is asked of the Portuguese documents)."""
    parts = doc.split("/")
    return "/".join(parts[:2]) if parts[0] == "mozilla-legal-docs-pt" else parts[0]


def handbook_examples(data: Path, splits: Sequence[str]) -> list[Example]:
    """The pairs of training/reader/handbook_pairs.jsonl in `splits`, each asked end to end
    (retrieve k=RETRIEVE_K, as `ragkit ask`) of an index of its corpus root (cached at
    `index_path`)."""
    from ragkit.assistant import Assistant

    if not HANDBOOK_PAIRS.exists():
        return []
    records = [json.loads(line) for line in HANDBOOK_PAIRS.read_text().splitlines() if line]
    records = [r for r in records if handbook_split(r["doc"]) in splits]
    assistants: dict[str, Any] = {}
    out = []
    for r in records:
        root = corpus_root(r["doc"])
        if root not in assistants:
            index = ingest(data / root, root.replace("/", "-"))
            assistants[root] = Assistant.from_index(index)
        split = handbook_split(r["doc"])
        out.append(
            Example(
                r["question"],
                assistants[root].retrieve(r["question"], k=RETRIEVE_K),
                r["must_contain"] if r["answerable"] else [],
                r["answerable"],
                "handbook",
                r["doc"],
                split != "train",
                r.get("lang", "en"),
                kind=r["kind"],
                split=split,
                require_all=True,
                extra={"id": r["id"]},
            )
        )
    return out


def cross_corpus_negatives(
    answerable: Sequence[Example], data: Path | None = None
) -> list[Example]:
    """Off-topic questions for free: each answerable question asked of the other corpus
    (sample_corpus questions against the contoso PDFs and the reverse)."""
    from ragkit.assistant import Assistant

    data = data or shared_data()
    sample = Assistant.from_index(ingest(REPO / "sample_corpus", "sample"))
    contoso = Assistant.from_index(ingest(data / "contoso-hr-pdfs" / "data", "contoso"))
    out = []
    for e in answerable:
        other = sample if e.source == "contoso" else contoso
        hits = other.retrieve(e.question, k=RETRIEVE_K)
        out.append(Example(e.question, hits, [], False, "cross", e.group, e.held_out, kind="cross"))
    return out


def off_corpus_negatives(public: Sequence[Example], every: int = 3) -> list[Example]:
    """Every `every`-th answerable public question against the paragraph of another article
    (same dataset) that shares the most word stems with it: a near-topic passage that does
    not hold the answer, as when the corpus lacks it."""
    paragraphs: dict[str, list[tuple[str, Hit, set[str]]]] = {}
    for e in public:
        options = paragraphs.setdefault(e.source, [])
        if not options or options[-1][1].chunk.chunk_id != e.hits[0].chunk.chunk_id:
            words = {stem(w) for w in tokens(e.hits[0].chunk.text)}
            options.append((e.group, e.hits[0], words))
    out = []
    answerable = [e for e in public if e.answerable]
    for e in answerable[::every]:
        q = {stem(w) for w in tokens(e.question)}
        _, hit, _ = max(
            (o for o in paragraphs[e.source] if o[0] != e.group), key=lambda o: len(q & o[2])
        )
        out.append(
            Example(
                e.question,
                [hit],
                [],
                False,
                e.source,
                e.group,
                e.held_out,
                e.lang,
                kind="off-corpus",
            )
        )
    return out


def contoso_positive(unit_text: str, hit: Hit, e: Example) -> bool:
    assert e.gold_page is not None
    if hit.chunk.source != e.gold_page[0] or hit.chunk.page != e.gold_page[1]:
        return False
    words = [w for w in tokens(unit_text) if len(w) > 3]
    truth = set(tokens(e.truth))
    return len(words) >= 3 and sum(w in truth for w in words) / len(words) >= 0.6


# --- features -----------------------------------------------------------------------------


class VectorStore:
    """Embeddings by text, cached on disk (.cache/reader/vectors-<model>.npz)."""

    def __init__(self, model: str) -> None:
        from ragkit.index.embedding import load_embedder

        self.embedder = load_embedder(model)
        self.path = CACHE / f"vectors-{re.sub(r'[^A-Za-z0-9]+', '-', model)}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as z:
                keys = json.loads(str(z["keys"]))
                self.vectors = dict(zip(keys, z["vectors"], strict=True))

    def need(self, texts: Sequence[str]) -> None:
        todo = sorted({t for t in texts if t not in self.vectors})
        for start in range(0, len(todo), 64):
            batch = todo[start : start + 64]
            for t, v in zip(batch, self.embedder.embed(batch), strict=True):
                self.vectors[t] = np.asarray(v, dtype=np.float32)
            if start % 640 == 0:
                print(f"  embedded {start + len(batch)}/{len(todo)}", flush=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.need(texts)
        return np.stack([self.vectors[t] for t in texts])

    def save(self) -> None:
        keys = list(self.vectors)
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=json.dumps(keys), vectors=np.stack([self.vectors[k] for k in keys]))
        tmp.replace(self.path)


class UnitVectorStore(VectorStore):
    """The unit encoder's vectors (`ragkit.reader.unit_encoder`, the artefact at `artefact`)
    by text, cached on disk by the artefact's SHA-256; bulk encoding runs the merged model
    through torch (the generator runs the same weights in numpy)."""

    def __init__(self, artefact: Path, model: str) -> None:
        from ragkit.index.bert_numpy import TorchOps
        from ragkit.index.embedding import resolve_model_path
        from ragkit.reader.unit_encoder import UnitEncoder

        base = resolve_model_path(model)
        assert base is not None, f"{model} is not a local model folder"
        self.digest = hashlib.sha256(artefact.read_bytes()).hexdigest()
        encoder = UnitEncoder(base, artefact, TorchOps("float32", "cpu"))

        class Bulk:
            def embed(self, texts: Sequence[str]) -> np.ndarray:
                import torch

                with torch.inference_mode():
                    return encoder.embed(texts, max_batch=64)

        self.encoder = encoder
        self.embedder = Bulk()  # type: ignore[assignment]
        self.path = CACHE / f"vectors-unit-{self.digest[:16]}.npz"
        self.vectors = {}
        if self.path.exists():
            with np.load(self.path) as z:
                keys = json.loads(str(z["keys"]))
                self.vectors = dict(zip(keys, z["vectors"], strict=True))


@dataclass
class Rows:
    """Per-unit rows of one example: features, crosses, labels, embedding texts."""

    cheap: np.ndarray
    crosses: list[list[int]]
    labels: np.ndarray
    texts: list[str]
    units: list[str]  # each unit's own text (`Candidate.text`), as the generator's `Scored.text`
    hit_of: np.ndarray  # (n_units,) index into the example's hits of each unit's passage


def example_rows(e: Example) -> Rows:
    units, candidates = build_candidates(e.hits, MAX_PASSAGES)
    cheap, crosses = cheap_features(e.question, candidates, passages_text(e.hits))
    if e.source == "contoso":
        labels = [
            contoso_positive(c.text, e.hits[u.hit], e)
            for u, c in zip(units, candidates, strict=True)
        ]
    else:
        labels = [e.answerable and contains(c.text, e.golds) for c in candidates]
    return Rows(
        cheap,
        crosses,
        np.asarray(labels, dtype=bool),
        [f"{c.context}\n{c.text}" for c in candidates],
        [c.text for c in candidates],
        np.asarray([u.hit for u in units], dtype=np.int64),
    )


def sparse_matrix(dense: np.ndarray, crosses: Sequence[Sequence[int]]) -> Any:
    from scipy import sparse

    rows = [i for i, c in enumerate(crosses) for _ in c]
    cols = [dense.shape[1] + j for c in crosses for j in c]
    x_cross = sparse.csr_matrix(
        (np.full(len(rows), CROSS_VALUE), (rows, cols)),
        shape=(dense.shape[0], dense.shape[1] + N_CROSS),
    )
    return (sparse.csr_matrix(np.pad(dense, ((0, 0), (0, N_CROSS)))) + x_cross).tocsr()


def fit(
    dense: np.ndarray, crosses: list[list[int]], y: np.ndarray, weight: np.ndarray | None = None
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = dense.mean(axis=0)
    scale = dense.std(axis=0)
    scale[scale < 1e-6] = 1.0
    x = sparse_matrix((dense - mean) / scale, crosses)
    model = LogisticRegression(C=C_STAGE, max_iter=2000, solver="lbfgs")
    model.fit(x, y, sample_weight=weight)
    coef = model.coef_[0]
    d = dense.shape[1]
    return {
        "weights": [round(float(w), 6) for w in coef[:d]],
        "mean": [round(float(m), 6) for m in mean],
        "scale": [round(float(s), 6) for s in scale],
        "bias": round(float(model.intercept_[0]), 6),
        "cross": [
            [int(j), round(float(w) * CROSS_VALUE, 5)]
            for j, w in enumerate(coef[d:])
            if abs(w * CROSS_VALUE) > 1e-4
        ],
    }


def stage1_keep(r: Rows, stage1: Any, n: int | None = None) -> np.ndarray:
    """Indices of the `n` (default MAX_CANDIDATES, as --max-candidates sets it: read at call
    time) units stage 1 ranks first (as the generator keeps them)."""
    n = MAX_CANDIDATES if n is None else n
    return np.argsort(-stage1.logits(r.cheap, r.crosses), kind="stable")[:n]


class MemoScorer:
    """A cross-encoder scorer that remembers its answers: the HR questions are scored for
    stage 2 and again for the HashingEmbedder threshold."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.memo: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        key = (question, tuple(texts))
        if key not in self.memo:
            self.memo[key] = self.scorer.logits(question, texts)
        return self.memo[key]


def cross_scores(
    examples: Sequence[Example], rows: Sequence[Rows], stage1: Any, scorer: Any
) -> list[np.ndarray]:
    """Per example, the cross-encoder logits of its stage-1 top MAX_CANDIDATES units."""
    out = []
    for n, (e, r) in enumerate(zip(examples, rows, strict=True)):
        keep = stage1_keep(r, stage1) if len(r.labels) else np.zeros(0, dtype=np.int64)
        out.append(scorer.logits(e.question, [r.texts[i] for i in keep]))
        if n % 500 == 0:
            print(f"  cross-encoder scored {n}/{len(examples)} questions", flush=True)
    return out


def stage2_rows(
    rows: Sequence[Rows], stage1: Any, dense: Sequence[np.ndarray]
) -> tuple[np.ndarray, list[list[int]], np.ndarray, list[int], np.ndarray]:
    """The top MAX_CANDIDATES units of each example by stage 1, with their dense features
    (`dense`: per example, the (n_keep, len(DENSE)) block of those units); the last array is
    each row's passage (index into its example's hits)."""
    xs, cs, ys, owner, hit_of = [], [], [], [], []
    for n, (r, block) in enumerate(zip(rows, dense, strict=True)):
        if not len(r.labels):
            continue
        keep = stage1_keep(r, stage1)
        xs.append(np.hstack([r.cheap[keep], block]))
        cs.extend(r.crosses[i] for i in keep)
        ys.append(r.labels[keep])
        owner.extend([n] * len(keep))
        hit_of.append(r.hit_of[keep])
    return np.vstack(xs), cs, np.concatenate(ys), owner, np.concatenate(hit_of)


# inverse L2 strength of the answer-type models (`fit_answer_type`)
ANSWER_TYPE_C = 1.0
MAX_FALSE_REFUSAL = 0.10  # the product's bar for refusing answerable questions
# HashingEmbedder is a weightless stand-in for tests and dry runs whose cosines carry little
# signal: its threshold leans further towards answering, so a test about layout or access
# groups is not decided by a refusal.
HASH_MAX_FALSE_REFUSAL = 0.05


def capped_threshold(answerable: np.ndarray, cap: float = MAX_FALSE_REFUSAL) -> float:
    """The highest threshold that refuses at most `cap` of the answerable questions: an HR
    reader that refuses what the handbook answers is not used, so false refusals are the
    constraint and correct refusals what is left to maximise."""
    values = np.sort(np.asarray(answerable, dtype=np.float64))
    k = int(np.floor(cap * len(values)))  # this many may fall below
    return float(values[k] - 1e-6) if len(values) else 0.5


def stored_threshold(threshold: float) -> float:
    """`threshold` to 4 decimals, rounded down: rounding to nearest could lift it above the
    support of the answerable question the cap put just over it (thresholds sit 1e-6 below
    one), and refuse it."""
    return math.floor(threshold * 10_000) / 10_000


def choose_threshold(answerable: Sequence[float], *unanswerable: Sequence[float]) -> float:
    from ragkit.generators.abstention import choose_threshold as best

    return best(answerable, *unanswerable)


def question_features(
    probabilities: Sequence[float],
    best_dense: float,
    best_hit: int,
    e: Example,
    embed: Any,
    unit: str = "",
    answer_type: Any = None,
    unit_alone_gap: float | None = None,
) -> list[float]:
    """Answerability features of an example (`probabilities`: its stage-2 candidates', best
    first; `best_hit`: the best unit's passage; `unit`: the best unit's text, read by an
    `answer_type` model; `unit_alone_gap`: with --unit-alone, `unit_alone_gap`'s value);
    `embed(texts)` gives unit vectors."""
    from ragkit.reader.candidates import passage_cosine, passage_texts_to_embed
    from ragkit.reader.selector import answerability_features

    missing = passage_texts_to_embed(e.hits, MAX_PASSAGES)
    vectors = embed([e.question, *(t for _, t in missing)])
    computed = {i: float(v @ vectors[0]) for (i, _), v in zip(missing, vectors[1:], strict=True)}
    passage = passage_cosine(e.hits, MAX_PASSAGES, computed)
    return answerability_features(
        probabilities,
        best_dense,
        passage,
        e.question,
        e.hits,
        best_hit,
        None,
        unit,
        answer_type,
        unit_alone_gap,
    )


def unit_alone_gap(question: str, unit: str, with_headings: float, embed: Any) -> float | None:
    """With --unit-alone: the question's cosine with the chosen `unit`'s own text minus
    `with_headings` (its cosine under its title and headings, as stage 2 read it), both by
    `embed` (texts -> unit vectors: stage 2's encoder), as the generator computes it
    (`ExtractiveGenerator._unit_alone_gap`); None without --unit-alone."""
    if not UNIT_ALONE:
        return None
    if not unit:
        return 0.0
    vectors = embed([question, unit])
    return float(vectors[1] @ vectors[0]) - with_headings


def fit_answerability(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit(
        (x - mean) / scale, y, sample_weight=weight
    )
    return {
        "weights": [round(float(w), 6) for w in model.coef_[0]],
        "mean": [round(float(m), 6) for m in mean],
        "scale": [round(float(v), 6) for v in scale],
        "bias": round(float(model.intercept_[0]), 6),
    }


def fit_answer_type(examples: Sequence[Example], weight: np.ndarray) -> dict[str, Any]:
    """`ragkit.reader.answertype.AnswerType` as JSON: a logistic model over hashed question
    words of whether the gold answer holds a number (`answertype.gold_has_number`), fitted
    on the answerable `examples` with gold strings (`weight`: one per example; L2 at
    C=ANSWER_TYPE_C)."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    from ragkit.reader.answertype import N_FEATURES, gold_has_number, question_buckets

    kept = [n for n, e in enumerate(examples) if e.answerable and e.golds]
    active = [question_buckets(examples[n].question) for n in kept]
    x = sparse.csr_matrix(
        (
            np.ones(sum(len(a) for a in active)),
            ([i for i, a in enumerate(active) for _ in a], [j for a in active for j in a]),
        ),
        shape=(len(kept), N_FEATURES),
    )
    labels = np.array(
        [gold_has_number(examples[n].golds, examples[n].lang) for n in kept], dtype=bool
    )
    model = LogisticRegression(C=ANSWER_TYPE_C, max_iter=2000, solver="lbfgs")
    model.fit(x, labels, sample_weight=weight[kept])
    return {
        "bias": round(float(model.intercept_[0]), 6),
        "weights": [
            [int(j), round(float(w), 5)] for j, w in enumerate(model.coef_[0]) if abs(w) > 1e-4
        ],
        "positives": int(labels.sum()),
        "questions": len(kept),
    }


def with_answer_type(
    base: dict[str, Any], x: np.ndarray, y: np.ndarray, answer_type: dict[str, Any]
) -> dict[str, Any]:
    """`base` (an answerability model over ANSWERABILITY_NAMES, as JSON) extended with
    weights for the ANSWER_TYPE_NAMES columns of `x` (after the base's): a logistic
    regression with the base's logit as offset, L2 at C=ANSWER_TYPE_C on the new weights,
    the bias refitted (L-BFGS, deterministic)."""
    from scipy.optimize import minimize

    width = len(base["weights"])
    mean, scale = np.asarray(base["mean"]), np.asarray(base["scale"])
    z0 = ((x[:, :width] - mean) / scale) @ np.asarray(base["weights"]) + base["bias"]
    f, target = x[:, width:], y.astype(np.float64)

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        z = z0 + f @ p[:-1] + p[-1]
        g = 1.0 / (1.0 + np.exp(-z)) - target
        value = float((np.logaddexp(0.0, z) - target * z).sum())
        value += 0.5 / ANSWER_TYPE_C * float(p[:-1] @ p[:-1])
        return value, np.append(f.T @ g + p[:-1] / ANSWER_TYPE_C, g.sum())

    p = minimize(loss, np.zeros(f.shape[1] + 1), jac=True, method="L-BFGS-B").x
    return {
        "weights": [*base["weights"], *(round(float(w), 6) for w in p[:-1])],
        "mean": [*base["mean"], *([0.0] * f.shape[1])],
        "scale": [*base["scale"], *([1.0] * f.shape[1])],
        "bias": round(float(base["bias"] + p[-1]), 6),
        "answer_type": answer_type,
        "base": base,  # what --keep-answerability refits the answer-type weights on
    }


def answer_type_model(data: dict[str, Any]) -> Any:
    from ragkit.reader.answertype import AnswerType

    return AnswerType.from_json(data)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(a random positive scores above a random negative), ties counting half
    (scikit-learn's `roc_auc_score`); nan when one class is absent."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def dense_block(
    e: Example, r: Rows, keep: np.ndarray, embed: Any, scorer: Any
) -> tuple[np.ndarray, float]:
    """The DENSE features of the kept units as the generator computes them (`embed`: texts
    -> unit vectors, for cosines; `scorer`: the cross-encoder, or None), and the best
    unit's `best_dense` answerability feature (cross-encoder logit, else cosine)."""
    texts = [r.texts[i] for i in keep]
    cosine = cross = None
    if any(n.startswith("cosine") for n in DENSE):
        vectors = embed([e.question, *texts])
        cosine = vectors[1:] @ vectors[0]
    if any(n.startswith("cross") for n in DENSE):
        cross = scorer.logits(e.question, texts)
    best = cross if cross is not None else cosine
    assert best is not None
    return dense_features(DENSE, r.cheap[keep], cosine, cross), float(best.max())


def end_to_end_features(
    examples: Sequence[Example],
    stage1: Any,
    stage2: Any,
    embed: Any,
    scorer: Any,
    answer_type: Any = None,
    unit_embed: Any = None,
) -> np.ndarray:
    """(n, len(ANSWERABILITY_NAMES)) question features of `examples` as the generator computes
    them with these stages: stage 1 keeps MAX_CANDIDATES units, `scorer` (the cross-encoder)
    scores them, stage 2 gives their probabilities; `embed` (texts -> unit vectors) gives the
    question's cosine with passages the retriever did not score densely; `unit_embed` (default
    `embed`) the units' cosines (the unit encoder's, `--unit-encoder`)."""
    rows_q = []
    for e in examples:
        r = example_rows(e)
        if not len(r.labels):
            gap = unit_alone_gap(e.question, "", 0.0, unit_embed or embed)
            rows_q.append(question_features([], 0.0, 0, e, embed, "", answer_type, gap))
            continue
        keep = stage1_keep(r, stage1)
        block, best = dense_block(e, r, keep, unit_embed or embed, scorer)
        x = np.hstack([r.cheap[keep], block])
        z = stage2.logits(x, [r.crosses[i] for i in keep])
        order = np.argsort(-z, kind="stable")
        probabilities = [float(1 / (1 + np.exp(-z[i]))) for i in order]
        best_hit = int(r.hit_of[keep[order[0]]])
        if SUPPORT_CROSS:
            best = float(scorer.logits(e.question, [r.texts[keep[order[0]]]])[0])
        unit = r.units[keep[order[0]]]
        gap = None
        if UNIT_ALONE:  # the chosen unit's cosine under its headings: stage 2's "cosine"
            with_headings = float(block[order[0], DENSE.index("cosine")])
            gap = unit_alone_gap(e.question, unit, with_headings, unit_embed or embed)
        rows_q.append(
            question_features(probabilities, best, best_hit, e, embed, unit, answer_type, gap)
        )
    return np.array(rows_q)


def hash_embedder_threshold(
    stage1: Any, stage2_json: dict[str, Any], answerability: Any, hr: list[Example], scorer: Any
) -> float:
    """The threshold for `HashingEmbedder` (tests, dry runs): its cosines run lower than a
    trained model's, so the same selector needs its own cut, capped on HR training questions."""
    from ragkit.index.embedding import HashingEmbedder
    from ragkit.reader.selector import LogisticStage

    embedder = HashingEmbedder(dim=2048)
    stage2 = LogisticStage.from_json(stage2_json, N_CHEAP + len(DENSE))
    features = end_to_end_features(
        hr, stage1, stage2, embedder.embed, scorer, answerability.answer_type
    )
    support = answerability.probability(features)
    return capped_threshold(support[[e.answerable for e in hr]], HASH_MAX_FALSE_REFUSAL)


def handbook_documents(data: Path) -> list[Path]:
    """Every file of the corpora the handbook pairs are asked of (their index's content)."""
    if not HANDBOOK_PAIRS.exists():
        return []
    lines = HANDBOOK_PAIRS.read_text().splitlines()
    roots = sorted({corpus_root(json.loads(line)["doc"]) for line in lines if line})
    return [f for root in roots for f in sorted((data / root).rglob("*")) if f.is_file()]


def data_hash(data: Path) -> str:
    h = hashlib.sha256()
    files = [
        data / "squad2-cs224n-dev" / "data" / "dev-v2.0.json",
        data / "xquad-multi" / "xquad.es.json",
        data / "xquad-multi" / "xquad.de.json",
        data / "faquad" / "data" / "train.json",
        data / "contoso-hr-pdfs" / "evals" / "ground_truth.jsonl",
        REPO / "training" / "reader" / "hr_pairs.jsonl",
        *([HANDBOOK_PAIRS] if HANDBOOK_PAIRS.exists() else []),
        REPO / "sample_corpus" / "eval.jsonl",
        *sorted((REPO / "sample_corpus").rglob("*.*")),
        *sorted((data / "contoso-hr-pdfs" / "data").glob("*.pdf")),
        *handbook_documents(data),
    ]
    for f in files:
        h.update(f.relative_to(f.parents[1]).as_posix().encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def training_examples(data: Path) -> list[Example]:
    squad, held_titles = squad_split(data)
    train = sample_by_paragraph([e for e in squad if not e.held_out], SQUAD_QUESTIONS)
    for lang in ("es", "de"):
        path = data / "xquad-multi" / f"xquad.{lang}.json"
        en_titles = [
            a["title"]
            for a in json.loads((data / "xquad-en" / "xquad.en.json").read_text())["data"]
        ]
        items = squad_examples(path, f"xquad-{lang}", lang, None)
        # the same ids, same order as xquad-en: take the held-out flag from the English title
        titles = [a["title"] for a in json.loads(path.read_text(encoding="utf-8"))["data"]]
        held = {
            t
            for t, en in zip(titles, en_titles, strict=True)
            if en in held_titles or zlib.crc32(en.encode()) % 2 == 1
        }
        items = [e for e in items if e.group.split(":", 1)[1] not in held]
        train += sample_by_paragraph(items, XQUAD_QUESTIONS)
    faquad = squad_examples(data / "faquad" / "data" / "train.json", "faquad", "pt", set())
    train += sample_by_paragraph(faquad, FAQUAD_QUESTIONS)
    return train


def cross_encoder(args: Any, examples: Sequence[Example]) -> tuple[Any, dict[str, Any], set[int]]:
    """The cross-encoder at `args.cross_out`: kept when --reuse-cross and it records
    train_cross's SCRIPT_VERSION, else trained by `train_cross` (its own data: listwise groups
    of training questions' units, see scripts/train_cross.py). Returns its (memoised) scorer,
    its provenance, and the indices of `examples` whose question it trained on."""
    import train_cross

    from ragkit.index.embedding import resolve_model_path
    from ragkit.reader.cross import CrossScorer, safetensors_metadata

    base = resolve_model_path(args.model)
    assert base is not None, f"{args.model} is not a local model folder"
    old = safetensors_metadata(args.cross_out) if args.cross_out.exists() else {}
    if not (args.reuse_cross and old.get("script_version") == train_cross.SCRIPT_VERSION):
        train_cross.main(["--out", str(args.cross_out), "--model", args.model])
        old = safetensors_metadata(args.cross_out)
    trained = {
        k: old[k]
        for k in ("script", "script_version", "training_data_sha256", "groups", "pairs", "steps")
    }
    print(f"cross-encoder: {trained}", flush=True)
    questions = set(train_cross.trained_questions(shared_data()))
    used = {n for n, e in enumerate(examples) if e.question in questions}
    return MemoScorer(CrossScorer(base, args.cross_out)), trained, used


def relative(arg: str) -> str:
    """A command-line argument with this repository's absolute path made relative to it."""
    prefix = f"{REPO}/"
    return arg[len(prefix) :] if arg.startswith(prefix) else arg


def main(argv: Sequence[str] | None = None) -> int:
    global MAX_PASSAGES, MAX_CANDIDATES, DENSE, SUPPORT_CROSS, UNIT_ALONE  # one run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: ragkit/reader/selector.json, or selector-cross.json with --support-cross",
    )
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--max-passages", type=int, default=MAX_PASSAGES)
    parser.add_argument("--max-candidates", type=int, default=MAX_CANDIDATES)
    parser.add_argument(
        "--cross-out", type=Path, default=REPO / "ragkit" / "reader" / "cross.safetensors"
    )
    parser.add_argument("--stage2-public", type=int, default=STAGE2_PUBLIC)
    parser.add_argument(
        "--dense", default=",".join(DENSE), help=f"stage 2's dense features, of {DENSE_NAMES}"
    )
    parser.add_argument("--support-cross", action="store_true")
    parser.add_argument(
        "--max-false-refusal",
        type=float,
        default=MAX_FALSE_REFUSAL,
        help="the share of answerable validation questions (English and Portuguese) the "
        "threshold may refuse",
    )
    parser.add_argument(
        "--stages-from",
        type=Path,
        default=None,
        help="a selector JSON whose stage 1 and stage 2 are kept (not refitted): only the "
        "answerability model and the threshold are fitted",
    )
    parser.add_argument(
        "--stage1-from",
        type=Path,
        default=None,
        help="a selector JSON whose stage 1 is kept; stage 2, the answerability model and "
        "the threshold are fitted",
    )
    parser.add_argument(
        "--answer-type",
        action="store_true",
        help="the answerability model also reads answer-type evidence (`ragkit.reader.answertype`)",
    )
    parser.add_argument(
        "--unit-alone",
        action="store_true",
        help="the answerability model also reads the chosen unit's cosine without its "
        "headings minus with them (`ragkit.reader.selector.UNIT_ALONE_NAMES`)",
    )
    parser.add_argument(
        "--keep-answerability",
        action="store_true",
        help="with --stages-from: keep its answerability model too (with --answer-type, "
        "only the answer-type weights are fitted on top of it)",
    )
    parser.add_argument(
        "--features-out",
        type=Path,
        default=None,
        help="also write the answerability features of the training (out of fold) and "
        "calibration questions to this .npz (for measurement)",
    )
    parser.add_argument(
        "--unit-encoder",
        type=Path,
        default=None,
        help="the units' cosines from this unit-encoder artefact (scripts/train_unit_encoder.py,"
        " e.g. ragkit/reader/unit_encoder.safetensors), not the embedding model",
    )
    parser.add_argument(
        "--reuse-cross",
        action="store_true",
        help="keep the cross-encoder at --cross-out if it records train_cross's version",
    )
    argv_used = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    MAX_PASSAGES, MAX_CANDIDATES = args.max_passages, args.max_candidates
    DENSE = tuple(args.dense.split(","))
    SUPPORT_CROSS = args.support_cross
    UNIT_ALONE = args.unit_alone
    if UNIT_ALONE:
        assert "cosine" in DENSE and not SUPPORT_CROSS, "--unit-alone: stage 2 reads cosines"
        assert not any(n.startswith("cross") for n in DENSE), "--unit-alone: not with cross"
        assert not args.keep_answerability, "--unit-alone refits the answerability model"
    if args.out is None:
        name = "selector-cross.json" if SUPPORT_CROSS else "selector.json"
        args.out = REPO / "ragkit" / "reader" / name
    assert not set(DENSE) - set(DENSE_NAMES), f"--dense: not among {DENSE_NAMES}"
    began = time.time()
    data = shared_data()
    CACHE.mkdir(parents=True, exist_ok=True)
    public = training_examples(data)
    hr = hr_examples(data)
    hr_train = [e for e in hr if not e.held_out]
    hr_train += cross_corpus_negatives([e for e in hr_train if e.answerable], data)
    handbook = handbook_examples(data, ("train", "validation"))
    validation = [e for e in handbook if e.split == "validation"]
    hr_train += [e for e in handbook if e.split == "train"]
    public += off_corpus_negatives(public)
    examples = public + hr_train
    print(
        f"training examples: {len(public)} public, {len(hr_train)} HR "
        f"({sum(e.source == 'handbook' for e in hr_train)} handbook); "
        f"{sum(e.held_out for e in hr)} sample/contoso HR held out, "
        f"{len(validation)} handbook validation",
        flush=True,
    )
    rows = [example_rows(e) for e in examples]
    store = VectorStore(args.model)
    from ragkit.reader.candidates import passage_texts_to_embed

    store.need(
        [e.question for e in examples]
        + [t for e in examples for _, t in passage_texts_to_embed(e.hits, MAX_PASSAGES)]
    )
    store.save()
    from ragkit.reader.selector import LogisticStage

    cheap = np.vstack([r.cheap for r in rows if len(r.labels)])
    crosses = [c for r in rows for c in r.crosses]
    labels = np.concatenate([r.labels for r in rows])
    # each question weighs the same whatever its number of units; HR-style ones (the
    # documents the product reads) HR_WEIGHT times a public one
    per_example = np.array([HR_WEIGHT if e.source in HR_SOURCES else 1.0 for e in examples])
    w1 = np.concatenate(
        [np.full(len(r.labels), per_example[n] / max(1, len(r.labels))) for n, r in enumerate(rows)]
    )
    w1 *= len(w1) / w1.sum()
    kept_stages: dict[str, Any] | None = None
    if args.stages_from:
        kept_stages = json.loads(args.stages_from.read_text(encoding="utf-8"))
        assert tuple(kept_stages.get("dense", COSINE_ONLY)) == DENSE, "--stages-from: dense"
    if kept_stages:
        stage1_json = kept_stages["stage1"]
    elif args.stage1_from:  # stage 1 kept, stage 2 and the answerability model fitted
        stage1_json = json.loads(args.stage1_from.read_text(encoding="utf-8"))["stage1"]
    else:
        stage1_json = fit(cheap, crosses, labels, w1)
    stage1 = LogisticStage.from_json(stage1_json, N_CHEAP)
    data_sha = data_hash(data)
    scorer: Any = None
    trained: dict[str, Any] = {}
    if SUPPORT_CROSS or any(n.startswith("cross") for n in DENSE):
        # the cross-encoder, trained on stage 1's candidates, then scoring them as the
        # generator does (the numpy forward pass over the written artefact)
        scorer, trained, used = cross_encoder(args, examples)
    if any(n.startswith("cross") for n in DENSE):
        # stage 2 reads the cross-encoder: fit it on every HR-style question, and public
        # ones the cross-encoder did not see (their scores are what unseen questions get)
        unseen = [n for n, e in enumerate(examples) if e.source not in HR_SOURCES and n not in used]
        kept = [n for n, e in enumerate(examples) if e.source in HR_SOURCES]
        kept += unseen[: args.stage2_public]
        examples, rows, per_example = (
            [examples[n] for n in kept],
            [rows[n] for n in kept],
            per_example[kept],
        )
    unit_store: VectorStore = store
    unit_info: dict[str, Any] | None = None
    if args.unit_encoder:
        # the units' cosines from the unit encoder; its training questions' cosines are
        # in-sample (better than a new question's): stage 2 and the answerability model are
        # fitted on the HR-style questions and the public ones it did not see
        from ragkit.reader.cross import safetensors_metadata

        unit_store = UnitVectorStore(args.unit_encoder, args.model)
        meta = safetensors_metadata(args.unit_encoder)
        unit_info = {
            "file": args.unit_encoder.name,
            "sha256": unit_store.digest,
            **{k: meta[k] for k in ("script_version", "training_data_sha256") if k in meta},
        }
        import train_unit_encoder

        seen = set(train_unit_encoder.trained_questions(data))
        kept = [
            n for n, e in enumerate(examples) if e.source in HR_SOURCES or e.question not in seen
        ]
        left = len(examples) - len(kept)
        print(f"  unit encoder: {left} public questions it trained on left out")
        examples, rows, per_example = (
            [examples[n] for n in kept],
            [rows[n] for n in kept],
            per_example[kept],
        )
    if any(n.startswith("cosine") for n in DENSE):
        unit_store.need([e.question for e in examples] + [t for r in rows for t in r.texts])
        unit_store.save()
    blocks = []
    for n, (e, r) in enumerate(zip(examples, rows, strict=True)):
        if len(r.labels):
            keep = stage1_keep(r, stage1)
            blocks.append(dense_block(e, r, keep, unit_store.embed, scorer)[0])
        if n % 500 == 0:
            print(f"  dense features of {n}/{len(examples)} questions", flush=True)
    x2, c2, y2, owner, hit_of = stage2_rows([r for r in rows if len(r.labels)], stage1, blocks)
    # stage2_rows numbers the examples with units; map back to `examples`
    with_units = [n for n, r in enumerate(rows) if len(r.labels)]
    owner = [with_units[o] for o in owner]
    owner_arr = np.asarray(owner)
    counts = np.bincount(owner_arr, minlength=len(examples))
    w2 = per_example[owner_arr] / counts[owner_arr]
    w2 *= len(w2) / w2.sum()
    stage2_json = kept_stages["stage2"] if kept_stages else fit(x2, c2, y2, w2)

    # out-of-fold stage-2 scores of the HR training questions (folds grouped by document),
    # turned into question-level answerability features, as the generator computes them
    hr_ids = {id(e) for e in hr_train}
    hr_index = [n for n, e in enumerate(examples) if id(e) in hr_ids]
    all_index = list(range(len(examples)))
    docs = sorted({e.group for e in examples})
    fold_of = {d: k % 4 for k, d in enumerate(docs)}
    question_rows: dict[int, list[float]] = {}
    # the answerability model's `best_dense`: the cross-encoder's logit, else the cosine
    best_column = N_CHEAP + DENSE.index("cross" if "cross" in DENSE else "cosine")
    owner_arr = np.asarray(owner)
    # HR questions and public ones weigh the same in total, whatever their counts
    is_hr = np.array([id(e) in hr_ids for e in examples])
    weight = np.where(is_hr, 1.0 / is_hr.sum(), 1.0 / (~is_hr).sum()) * len(examples)
    for fold in range(4):
        test = {n for n in all_index if fold_of[examples[n].group] == fold}
        train_mask = ~np.isin(owner_arr, list(test))
        # the answer-type model of the other folds' questions: out of fold, as for new ones
        fold_type = (
            answer_type_model(
                fit_answer_type(
                    [e for n, e in enumerate(examples) if n not in test],
                    weight[[n not in test for n in all_index]],
                )
            )
            if args.answer_type
            else None
        )
        part = (
            stage2_json  # kept stages: their own training scores (in-sample), as shipped
            if kept_stages
            else fit(
                x2[train_mask],
                [c for c, m in zip(c2, train_mask, strict=True) if m],
                y2[train_mask],
                w2[train_mask],
            )
        )
        model = LogisticStage.from_json(part, x2.shape[1])
        for n in test:
            rows_n = np.flatnonzero(owner_arr == n)
            e = examples[n]
            probabilities: list[float] = []
            best_dense, best_hit, unit, with_headings = 0.0, 0, "", 0.0
            if len(rows_n):
                z = model.logits(x2[rows_n], [c2[i] for i in rows_n])
                order = np.argsort(-z, kind="stable")
                probabilities = [float(1 / (1 + np.exp(-z[i]))) for i in order]
                best_dense = float(x2[rows_n, best_column].max())
                best_hit = int(hit_of[rows_n[order[0]]])
                chosen = stage1_keep(rows[n], stage1)[order[0]]
                unit = rows[n].units[chosen]
                if UNIT_ALONE:  # the chosen unit's cosine under its headings, as stage 2 read it
                    with_headings = float(x2[rows_n[order[0]], N_CHEAP + DENSE.index("cosine")])
                if SUPPORT_CROSS:  # the cross-encoder's logit of the chosen unit only
                    best_dense = float(scorer.logits(e.question, [rows[n].texts[chosen]])[0])
            gap = unit_alone_gap(e.question, unit, with_headings, unit_store.embed)
            question_rows[n] = question_features(
                probabilities, best_dense, best_hit, e, store.embed, unit, fold_type, gap
            )
    kinds = sorted({examples[n].kind for n in hr_index if not examples[n].answerable})
    qx = np.array([question_rows[n] for n in all_index])
    qy = np.array([e.answerable for e in examples])
    from ragkit.reader.selector import ANSWERABILITY_NAMES, UNIT_ALONE_NAMES

    width = len(ANSWERABILITY_NAMES) + UNIT_ALONE * len(UNIT_ALONE_NAMES)
    if args.keep_answerability:
        assert kept_stages, "--keep-answerability needs --stages-from"
        # a selector with answer-type weights keeps the base model they were fitted on
        kept_answerability = kept_stages["answerability"]
        answerability_json = kept_answerability.get("base", kept_answerability)
    else:
        answerability_json = fit_answerability(qx[:, :width], qy, weight)
        if UNIT_ALONE:
            answerability_json["unit_alone"] = True
    if args.answer_type:
        # the answer-type weights, fitted on the HR-style training questions on top of the
        # base model's logit (the near misses it is for are theirs; the public sets'
        # unanswerable questions are of another kind)
        answerability_json = with_answer_type(
            answerability_json, qx[is_hr], qy[is_hr], fit_answer_type(examples, weight)
        )
        if UNIT_ALONE:
            answerability_json["unit_alone"] = True
    from ragkit.reader.selector import Answerability

    answerability = Answerability.from_json(answerability_json)
    stage2 = LogisticStage.from_json(stage2_json, N_CHEAP + len(DENSE))
    if validation:
        # the handbook validation documents, end to end with the final stages: never trained on
        threshold_source = "handbook validation split, end to end"
        calibration = validation
        unit_store.need([e.question for e in validation])
        calibration_x = end_to_end_features(
            validation,
            stage1,
            stage2,
            store.embed,
            scorer,
            answerability.answer_type,
            unit_store.embed,
        )
        support = answerability.probability(calibration_x)
        qy = np.array([e.answerable for e in validation])
    else:
        threshold_source = "HR training questions, out-of-fold stage-2 scores"
        calibration = [examples[n] for n in hr_index]
        calibration_x = qx[is_hr]
        support = answerability.probability(calibration_x)
        qy = qy[is_hr]
    store.save()
    unit_store.save()
    if args.features_out:
        # for measurement: the answerability features of the training questions (out of
        # fold) and of the calibration questions (end to end), with labels and sources
        np.savez(
            args.features_out,
            train_x=np.array([question_rows[n] for n in all_index]),
            train_y=np.array([e.answerable for e in examples]),
            train_hr=is_hr,
            train_source=np.array([e.source for e in examples]),
            train_kind=np.array([e.kind for e in examples]),
            train_group=np.array([e.group for e in examples]),
            train_question=np.array([e.question for e in examples]),
            train_weight=weight,
            calibration_x=calibration_x,
            calibration_y=qy,
            calibration_lang=np.array([e.lang for e in calibration]),
            calibration_kind=np.array([e.kind for e in calibration]),
        )
    kinds = sorted({e.kind for e in calibration if not e.answerable})
    groups = [support[qy]] + [
        support[[not e.answerable and e.kind == k for e in calibration]] for k in kinds
    ]
    threshold = capped_threshold(groups[0], args.max_false_refusal)
    balanced = choose_threshold(*groups)
    for name, t in (("capped", threshold), ("balanced", balanced)):
        refused = support < t
        print(
            f"{name} threshold {t:.4f}: false refusal {refused[qy].mean():.3f}, correct "
            f"refusal {refused[~qy].mean() if (~qy).any() else float('nan'):.3f}"
        )
    print(f"support ROC AUC {roc_auc(qy, support):.4f} ({threshold_source})")
    if kept_stages and validation:
        # the answerability model and threshold of --stages-from, on the same questions
        old = Answerability.from_json(kept_stages["answerability"])
        old_support = old.probability(
            end_to_end_features(
                validation, stage1, stage2, store.embed, scorer, old.answer_type, unit_store.embed
            )
        )
        old_t = float(kept_stages["thresholds"]["default"])
        refused = old_support < old_t
        print(
            f"--stages-from answerability at its threshold {old_t:.4f}: false refusal "
            f"{refused[qy].mean():.3f}, correct refusal {refused[~qy].mean():.3f}, support ROC "
            f"AUC {roc_auc(qy, old_support):.4f}"
        )
    print(
        f"threshold {threshold:.4f} from {int(qy.sum())} answerable and "
        f"{int((~qy).sum())} unanswerable questions ({', '.join(kinds)}): {threshold_source}"
    )
    hash_threshold = hash_embedder_threshold(
        stage1, stage2_json, answerability, [examples[n] for n in hr_index], scorer
    )
    artefact = {
        "format": 2,  # 2: names the dense features stage 2 reads
        "dense": list(DENSE),
        "provenance": {
            "script": "scripts/train_reader.py",
            "script_version": SCRIPT_VERSION,
            # what wrote this file: rerun it to refit (after a new unit encoder, new data)
            "command": " ".join(["python", "scripts/train_reader.py", *map(relative, argv_used)]),
            "training_data_sha256": data_sha,
            "cross_encoder": {"file": args.cross_out.name, **trained} if trained else None,
            "unit_encoder": unit_info,
            "embedding_model": args.model,
            "examples": {
                s: sum(e.source == s for e in examples)
                for s in sorted({e.source for e in examples})
            },
            "units": int(len(labels)),
            "positives": int(labels.sum()),
            "held_out_hr_documents": sorted(HR_HELD_OUT),
            "handbook_split": "crc32(doc path) % 10: 0-4 train, 5-6 validation, 7-9 test",
            "handbook_pairs": {
                split: sum(e.split == split for e in handbook) for split in ("train", "validation")
            },
            "threshold_from": threshold_source,
            "max_false_refusal": args.max_false_refusal,
            "answerability_kept": bool(args.keep_answerability),
            "stages_from": (
                kept_stages["provenance"].get("stages_from")
                or {
                    "script_version": kept_stages["provenance"]["script_version"],
                    "training_data_sha256": kept_stages["provenance"]["training_data_sha256"],
                }
            )
            if kept_stages
            else None,
            "stage1_from": (
                json.loads(args.stage1_from.read_text(encoding="utf-8"))["provenance"].get(
                    "stages_from"
                )
                if args.stage1_from
                else None
            ),
        },
        "stage1": stage1_json,
        "stage2": stage2_json,
        "answerability": answerability_json,
        "settings": {
            "max_passages": MAX_PASSAGES,
            "max_candidates": MAX_CANDIDATES,
            "support_cross": int(SUPPORT_CROSS),
            "unit_encoder": int(unit_info is not None),
        },
        "thresholds": {
            args.model: stored_threshold(threshold),
            "default": stored_threshold(threshold),
            "hash": stored_threshold(hash_threshold),
        },
    }
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(artefact, sort_keys=True, separators=(",", ":")) + "\n")
    tmp.replace(args.out)
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB) in {time.time() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
