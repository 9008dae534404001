"""Evaluation harness: retrieval, answer, abstention and grounding metrics over a dataset.

    from ragkit.eval import EvalOptions, evaluate
    summary = evaluate("sample_corpus/eval.jsonl", "eval-out", EvalOptions(
        conditions="grounded,ungrounded"), index_dir=".index")

Modules: `datasets` (four formats -> `EvalItem`: `items` holds the records and gold
matching, `formats` and `squad` the readers), `metrics` (pure functions), `bootstrap` (paired
CIs), `options` (conditions and settings), `runner` (the loop over questions, `grading` each
answer, `resume` the resumable results.jsonl), `summary` (summary.json), `report` and `charts`
(report.md, report.html), `judge` (optional LLM judge). Importing this package loads no model.
"""

from ragkit.eval.datasets import load_dataset
from ragkit.eval.items import EvalDataset, EvalItem, Gold
from ragkit.eval.options import Condition, EvalOptions, parse_conditions
from ragkit.eval.runner import evaluate
from ragkit.eval.squad import write_squad_corpus

__all__ = [
    "Condition",
    "EvalDataset",
    "EvalItem",
    "EvalOptions",
    "Gold",
    "evaluate",
    "load_dataset",
    "parse_conditions",
    "write_squad_corpus",
]
