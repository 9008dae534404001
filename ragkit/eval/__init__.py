"""Evaluation harness: retrieval, answer, abstention and grounding metrics over a dataset.

    from ragkit.eval import EvalOptions, evaluate
    summary = evaluate("sample_corpus/eval.jsonl", "eval-out", EvalOptions(
        conditions="grounded,ungrounded"), index_dir=".index")

Modules: `datasets` (four formats -> `EvalItem`), `metrics` (pure functions), `bootstrap`
(paired CIs), `runner` (conditions, resumable results.jsonl), `report` (summary.json,
report.md, report.html), `judge` (optional LLM judge). Importing this package loads no model.
"""

from ragkit.eval.datasets import EvalDataset, EvalItem, Gold, load_dataset, write_squad_corpus
from ragkit.eval.runner import Condition, EvalOptions, evaluate, parse_conditions

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
