"""Evaluation datasets: four formats read into one `EvalItem` list, and what they cover.

- ragkit JSONL: `{"id", "question", "answer" | "answers", "sources", "answerable",
  "must_contain"?}`, sources being paths relative to the ingest root, optionally
  `path#page=N` (1-based).
- BEIR folder: `corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`; retrieval only.
- SQuAD JSON, v1.1 and v2.0 (`is_impossible` questions are unanswerable). The corpus is the
  paragraphs: `write_squad_corpus` writes them as a BEIR `corpus.jsonl` to ingest, each
  paragraph's id derived from its text.
- contoso ground truth JSONL: `{"question", "truth"}` with `[file.pdf#page=N]` citations.

This module is the entry point: `load_dataset` tells the format (or takes it as given) and
hands the path to its reader, in `ragkit.eval.formats` (ragkit, contoso, BEIR) or
`ragkit.eval.squad`; the records they produce are in `ragkit.eval.items`. Malformed lines or
entries are skipped and reported as `Problem`s naming the line number (or JSON path). How gold
sources match indexed chunks depends on the format (`MatchMode`): a path relative to the
ingest root, a bare file name, or a record id after `#`. The coverage warnings below say,
before a long run, when gold documents are missing from the index or hidden from the asker.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ragkit.errors import UsageError
from ragkit.eval.formats import json_lines, read_beir, read_contoso, read_ragkit
from ragkit.eval.items import EvalDataset, doc_matches
from ragkit.eval.squad import read_squad
from ragkit.index.records import Chunk

FORMATS = ("ragkit", "beir", "squad", "contoso")


def load_dataset(path: Path | str, format: str = "auto") -> EvalDataset:
    """Read a dataset file or folder; malformed entries land in `.problems`, not in `.items`."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such dataset: {path}")
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise UsageError(f"unknown dataset format '{format}': use auto, {', '.join(FORMATS)}")
    reader = {
        "ragkit": read_ragkit,
        "beir": read_beir,
        "squad": read_squad,
        "contoso": read_contoso,
    }
    dataset = reader[fmt](path)
    if not dataset.items:
        shown = "; ".join(map(str, dataset.problems[:5]))
        raise UsageError(f"{path}: no usable questions" + (f" ({shown})" if shown else ""))
    return dataset


def detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "queries.jsonl").is_file():
            return "beir"
        raise UsageError(f"{path} is a folder but not a BEIR dataset (no queries.jsonl)")
    if path.suffix.lower() == ".json":
        return "squad"
    for _, record in json_lines(path, []):
        return "contoso" if isinstance(record, dict) and "truth" in record else "ragkit"
    return "ragkit"


# ---------------------------------------------------------------------------- gold coverage


def gold_coverage(dataset: EvalDataset, sources: Iterable[str]) -> tuple[set[str], set[str]]:
    """(gold documents found in the index, gold documents matching no indexed source)."""
    sources = set(sources)
    found = {
        doc for doc in dataset.gold_docs if any(doc_matches(doc, s, dataset.match) for s in sources)
    }
    return found, dataset.gold_docs - found


def coverage_warnings(
    dataset: EvalDataset, sources: Iterable[str], index_name: str = "the index"
) -> list[str]:
    sources = sorted(set(sources))
    found, missing = gold_coverage(dataset, sources)
    if not missing:
        return []
    examples = ", ".join(repr(d) for d in sorted(missing)[:3])
    if found:
        return [
            f"{len(missing)} of {len(dataset.gold_docs)} gold sources match nothing in "
            f"{index_name} (e.g. {examples}): those questions cannot score on retrieval"
        ]
    indexed = ", ".join(repr(s) for s in sources[:3]) or "nothing"
    message = (
        f"NONE of the {len(missing)} gold sources in {dataset.path} match a document in "
        f"{index_name}: gold names e.g. {examples}; the index holds e.g. {indexed}. This nearly "
        "always means a path mismatch: ingest the folder the dataset's paths are relative to"
    )
    if dataset.format == "squad":
        message += (
            f". SQuAD paragraphs are the corpus: `ragkit eval {dataset.path} --write-corpus "
            "squad-corpus/corpus.jsonl`, then `ragkit ingest squad-corpus --index DIR`"
        )
    elif dataset.format == "beir":
        message += (
            f". Ingest {dataset.path / 'corpus.jsonl'} (sources look like corpus.jsonl#<_id>)"
        )
    return [message]


def access_warnings(
    dataset: EvalDataset, chunks: Iterable[Chunk], groups: Iterable[str]
) -> list[str]:
    """A warning naming the questions whose gold the asker's groups cannot read at all."""
    asker = frozenset(groups)
    readers: dict[str, set[bool]] = {}  # gold doc -> {readable?} over its chunks
    needed: set[str] = set()
    for chunk in chunks:
        for doc in dataset.gold_docs:
            if doc_matches(doc, chunk.source, dataset.match):
                readable = not chunk.groups or bool(asker.intersection(chunk.groups))
                readers.setdefault(doc, set()).add(readable)
                if not readable:
                    needed.update(chunk.groups)
    hidden = {doc for doc, seen in readers.items() if True not in seen}
    ids = [i.id for i in dataset.items if i.gold and all(g.doc in hidden for g in i.gold)]
    if not ids:
        return []
    shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
    return [
        f"{len(ids)} question(s) ({shown}) have gold documents readable only by groups "
        f"{', '.join(sorted(needed))}; asked as groups {', '.join(sorted(asker)) or 'none'}, "
        f"they cannot be answered: pass --groups {','.join(sorted(needed))} to evaluate them "
        "as such a reader"
    ]
