"""The evaluation runner with a fake assistant: conditions, resume, reports, warnings, judge."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ragkit.cli import main
from ragkit.errors import UsageError
from ragkit.eval import EvalItem, EvalOptions, Gold, evaluate, load_dataset, parse_conditions
from ragkit.eval.judge import Judge, parse_verdict
from ragkit.eval.options import RunSettings
from ragkit.eval.resume import read_results
from ragkit.eval.runner import oracle_hits, run_conditions
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.types import REFUSAL, Answer, Citation, Hit

TEXTS = {
    "leave/annual-leave.md": "Every employee receives 25 days of paid annual leave. Book it early.",
    "leave/sick-leave.md": "Tell your manager by 10:00 on the first day of sickness.",
    "money/expenses.pdf": "Dinner while travelling is limited to 55 EUR.",
}
CHUNKS = [
    Chunk(chunk_id_for(s, t), s, s, t, 0, len(t), 2 if s.endswith(".pdf") else None, (), "h")
    for s, t in TEXTS.items()
]
DATASET = [
    {"id": "q1", "question": "How many days of annual leave?", "answer": "25 days",
     "sources": ["leave/annual-leave.md"], "answerable": True, "must_contain": ["25 days"]},
    {"id": "q2", "question": "When must I tell my manager about sickness?", "answer": "By 10:00.",
     "sources": ["leave/sick-leave.md"], "answerable": True, "must_contain": ["10:00"]},
    {"id": "q3", "question": "What is the dinner limit when travelling?", "answers": ["55 EUR"],
     "sources": ["money/expenses.pdf#page=2"], "answerable": True},
    {"id": "q4", "question": "Is there a company gym?", "answer": "Not covered.",
     "sources": [], "answerable": False},
]  # fmt: skip


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower())) - {"the", "a", "of", "is", "there", "when"}


@dataclass
class FakeGenerator:
    """Quotes the first sentence of the best passage; abstains when nothing overlaps."""

    name: str = "fake"
    calls: int = 0

    def generate(self, question: str, hits) -> Answer:
        self.calls += 1
        hits = tuple(hits)
        useful = [h for h in hits if _words(question) & _words(h.chunk.text)]
        if not useful:
            return Answer(REFUSAL, True, (), hits)
        chunk = useful[0].chunk
        quote = chunk.text.split(". ")[0].rstrip(".") + "."
        citation = Citation(chunk.source, chunk.page, "", quote, chunk.chunk_id)
        return Answer(quote, False, (citation,), hits)


@dataclass
class FakeRetriever:
    chunks: list[Chunk] = field(default_factory=lambda: list(CHUNKS))

    def retrieve(self, question: str, k: int, groups=frozenset()) -> list[Hit]:
        scored = [(len(_words(question) & _words(c.text)), i, c) for i, c in enumerate(self.chunks)]
        scored.sort(key=lambda t: (-t[0], t[1]))
        return [Hit(c, float(s), r) for r, (s, _, c) in enumerate(scored[:k], start=1)]


@dataclass
class FakeAssistant:
    retriever: FakeRetriever = field(default_factory=FakeRetriever)
    generator: FakeGenerator = field(default_factory=FakeGenerator)
    asked: int = 0
    ungrounded_calls: int = 0
    fail_after: int | None = None  # raise KeyboardInterrupt on this ask, to simulate a kill

    def retrieve(self, question, *, k=None, groups=None):
        return self.retriever.retrieve(question, k=k or 5)

    def ask(self, question, *, k=None, groups=None):
        if self.fail_after is not None and self.asked >= self.fail_after:
            raise KeyboardInterrupt
        self.asked += 1
        return self.generator.generate(question, self.retrieve(question, k=k))

    def ungrounded(self, question):
        self.ungrounded_calls += 1
        return self.generator.generate(question, [])


@pytest.fixture
def dataset_path(tmp_path) -> Path:
    path = tmp_path / "eval.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in DATASET) + "\n", encoding="utf-8")
    return path


def _evaluate(dataset_path, out, assistant=None, warnings=None, **options):
    assistants = {"": assistant or FakeAssistant()}
    if "adapter" in options:
        assistants["adapter"] = FakeAssistant()
    opts = EvalOptions(progress=False, resamples=300, **options)
    sink = warnings if warnings is not None else []
    return evaluate(dataset_path, out, opts, assistants=assistants, warn=sink.append)


def test_conditions_metrics_and_report_files(dataset_path, tmp_path):
    out = tmp_path / "out"
    summary = _evaluate(dataset_path, out, conditions="grounded,ungrounded,oracle")
    records = read_results(out / "results.jsonl")
    assert len(records) == 12  # 4 questions x 3 conditions
    grounded = summary["conditions"]["grounded"]["metrics"]
    assert grounded["answer.correct"] == {"value": 1.0, "n": 4}
    assert grounded["retrieval.doc.hit@5"] == {"value": 1.0, "n": 3}
    assert grounded["retrieval.page.mrr@10"]["n"] == 1  # only q3 names a page
    assert grounded["grounding.citation_validity"] == {"value": 1.0, "n": 3}
    assert grounded["grounding.groundedness"]["value"] > 0.9
    assert grounded["abstention.correct_refusal"] == {"value": 1.0, "n": 1}
    assert grounded["abstention.false_refusal"] == {"value": 0.0, "n": 3}
    ungrounded = summary["conditions"]["ungrounded"]["metrics"]
    assert ungrounded["abstention.rate"]["value"] == 1.0
    assert ungrounded["answer.correct"] == {"value": 0.25, "n": 4}  # only the unanswerable one
    oracle = summary["conditions"]["oracle"]
    assert oracle["skipped"] == 1 and oracle["n"] == 3  # q4 has no gold
    assert summary["per_question"]["q1"] == {"grounded": True, "ungrounded": False, "oracle": True}
    [helped] = [
        d for d in summary["disagreements"] if d["b"] == "ungrounded" and d["a"] == "grounded"
    ]
    assert helped["a_only"] == ["q1", "q2", "q3"] and helped["b_only"] == []
    [delta] = [d for d in summary["deltas"] if (d["a"], d["b"], d["metric"]) ==
               ("grounded", "ungrounded", "correct")]  # fmt: skip
    assert delta["delta"] == pytest.approx(0.75) and delta["n"] == 4
    assert delta["low"] <= 0.75 <= delta["high"]
    assert any("expected" in note for note in summary["notes"])  # the extractive ungrounded note
    assert summary["conditions"]["grounded"]["gold_rank"]["1"] == 3
    assert "numpy" in summary["versions"]

    for name in ("results.jsonl", "summary.json", "report.md", "report.html", "config.json"):
        assert (out / name).is_file()
    assert json.loads((out / "summary.json").read_text())["config"]["k"] == 5
    page = (out / "report.html").read_text(encoding="utf-8")
    # higher-is-better, lower-is-better and context metrics each get a chart; then gold rank
    assert page.count("<svg") == 4
    assert page.index("higher is better") < page.index("lower is better")
    lower = page[page.index("lower is better") : page.index("context (neither")]
    assert "abstention.false_refusal" in lower and "answer.correct" not in lower
    assert not re.search(r"https?://", page)  # nothing to fetch: opens offline
    assert not re.search(r"(src|href)\s*=", page)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| grounded | 3 | q1, q2, q3 |" in markdown
    # the report leads with its answer: did retrieval help, by how much, how sure
    result = markdown.split("## Result", 1)[1].split("##", 1)[0]
    assert markdown.index("## Result") < markdown.index("## Metrics")
    assert result.strip().startswith("**Retrieval helped: 100% of answers correct with grounded")
    assert (
        f"({delta['delta']:+.3f}, 95% CI [{delta['low']:+.3f}, {delta['high']:+.3f}], n=4)"
        in result
    )
    # per-question rows show the question and what each condition answered
    q1 = summary["questions"]["q1"]
    assert q1["question"] == DATASET[0]["question"] and q1["answers"]["ungrounded"] == "(refused)"
    assert f"| q1 | {DATASET[0]['question']} | ✓ " in markdown
    assert 'id="q-filter"' in page and "<script>" in page  # the filter works offline


def test_an_interrupted_run_resumes_without_redoing_finished_questions(dataset_path, tmp_path):
    out = tmp_path / "out"
    first = FakeAssistant(fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        _evaluate(dataset_path, out, first, conditions="grounded,ungrounded")
    assert first.asked == 2
    done = read_results(out / "results.jsonl")
    assert [(r["id"], r["condition"]) for r in done] == [
        ("q1", "grounded"), ("q1", "ungrounded"), ("q2", "grounded"), ("q2", "ungrounded")
    ]  # fmt: skip
    # A kill mid-write leaves a partial last line; it is dropped and that pair is redone.
    with (out / "results.jsonl").open("a") as handle:
        handle.write('{"id": "q3", "condition": "grou')
    second = FakeAssistant()
    summary = _evaluate(dataset_path, out, second, conditions="grounded,ungrounded")
    assert second.asked == 2 and second.ungrounded_calls == 2  # q3 and q4 only
    records = read_results(out / "results.jsonl")
    assert len(records) == 8 and len({(r["id"], r["condition"]) for r in records}) == 8
    assert summary["conditions"]["grounded"]["n"] == 4
    third = FakeAssistant()
    _evaluate(dataset_path, out, third, conditions="grounded,ungrounded,oracle")
    assert third.asked == third.ungrounded_calls == 0  # a new condition only runs that condition
    assert third.generator.calls == 3


def test_a_rerun_with_other_settings_is_refused(dataset_path, tmp_path):
    out = tmp_path / "out"
    _evaluate(dataset_path, out, conditions="grounded")
    with pytest.raises(UsageError, match="new --out"):
        _evaluate(dataset_path, out, conditions="grounded", k=3)


def test_gold_matching_nothing_in_the_index_warns(dataset_path, tmp_path):
    warnings: list[str] = []
    elsewhere = [Chunk("x", "handbook/leave.md", "t", "Leave rules.", 0, 12, None, (), "h")]
    assistant = FakeAssistant(retriever=FakeRetriever(elsewhere))
    summary = _evaluate(dataset_path, tmp_path / "out", assistant, warnings, conditions="grounded")
    assert any(
        w.startswith("NONE of the 3 gold sources") and "path mismatch" in w for w in warnings
    )
    assert summary["warnings"] and "path mismatch" in (tmp_path / "out" / "report.md").read_text()


def test_malformed_dataset_lines_are_reported_with_line_numbers(dataset_path, tmp_path):
    with dataset_path.open("a") as handle:
        handle.write('{"id": "q9"}\n{broken\n')
    warnings: list[str] = []
    summary = _evaluate(dataset_path, tmp_path / "out", None, warnings, conditions="grounded")
    assert any("line 5: missing 'question'" in w for w in warnings)
    assert any("line 6: invalid JSON" in w for w in warnings)
    assert summary["dataset"]["malformed"] == 2 and summary["dataset"]["questions"] == 4


def test_condition_parser_composes_adapter():
    names = [
        c.name for c in parse_conditions("grounded, grounded+adapter,ungrounded,oracle+adapter")
    ]
    assert names == ["grounded", "grounded+adapter", "ungrounded", "oracle+adapter"]
    assert parse_conditions("grounded+adapter+adapter")[0].variant == "adapter"
    for bad in ("grounded+lora", "closed-book", "", "retrieval+adapter"):
        with pytest.raises(UsageError):
            parse_conditions(bad)


def test_the_adapter_condition_uses_the_second_assistant(dataset_path, tmp_path):
    plain, tuned = FakeAssistant(), FakeAssistant()
    evaluate(
        dataset_path,
        tmp_path / "out",
        EvalOptions(
            conditions="grounded,grounded+adapter", adapter=Path("adapter"), progress=False
        ),
        assistants={"": plain, "adapter": tuned},
        warn=lambda _: None,
    )
    assert plain.asked == 4 and tuned.asked == 4
    with pytest.raises(UsageError, match="--adapter"):
        _evaluate(dataset_path, tmp_path / "out2", conditions="grounded+adapter")


def test_retrieval_only_condition_scores_the_top_k(dataset_path, tmp_path):
    dataset = load_dataset(dataset_path)
    assistant = FakeAssistant()
    records = run_conditions(
        dataset,
        parse_conditions("retrieval"),
        {"": assistant},
        tmp_path / "results.jsonl",
        RunSettings(k=1, depth=3),
        progress=False,
    )
    assert assistant.asked == 0 and records[3]["skipped"] == "no gold sources"  # q4
    assert all(r["retrieval"]["doc"]["hit@1"] == 1.0 and "answer" not in r for r in records[:3])


def test_errors_are_recorded_and_retried(dataset_path, tmp_path):
    class Flaky(FakeAssistant):
        def ungrounded(self, question):
            if "gym" in question:
                raise RuntimeError("model timed out")
            return super().ungrounded(question)

    summary = _evaluate(dataset_path, tmp_path / "out", Flaky(), conditions="ungrounded")
    assert summary["conditions"]["ungrounded"]["errors"] == 1
    again = FakeAssistant()
    _evaluate(dataset_path, tmp_path / "out", again, conditions="ungrounded")
    assert again.ungrounded_calls == 1  # only the failed question is asked again


class FakeChat:
    def __init__(self, replies):
        self.replies, self.calls = list(replies), 0

    def invoke(self, messages):
        self.calls += 1
        return type("Reply", (), {"content": self.replies.pop(0)})()


def test_judge_verdicts_are_cached(tmp_path):
    hits = [Hit(CHUNKS[0], 1.0, 1)]
    chat = FakeChat(['{"score": 1, "reason": "supported"}', "Score: 0.5 - partly"])
    judge = Judge("fake:judge", tmp_path / "cache.jsonl", model=chat)
    verdict = judge.assess("How many days?", "25 days.", hits)
    assert verdict == {"faithfulness": 1.0, "relevance": 0.5}
    again = Judge("fake:judge", tmp_path / "cache.jsonl", model=FakeChat([]))
    assert again.assess("How many days?", "25 days.", hits) == verdict and again.calls == 0
    assert parse_verdict("no idea") is None


def test_cli_writes_a_squad_corpus(tmp_path, capsys):
    qa = {"id": "x", "question": "Where is Paris?", "answers": [{"text": "France"}]}
    paragraph = {"context": "Paris is in France.", "qas": [qa]}
    squad = {"version": "1.1", "data": [{"title": "T", "paragraphs": [paragraph]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    corpus = tmp_path / "corpus" / "corpus.jsonl"
    assert main(["eval", str(path), "--write-corpus", str(corpus)]) == 0
    assert "wrote 1 paragraphs" in capsys.readouterr().out
    assert json.loads(corpus.read_text())["text"] == "Paris is in France."
    assert main(["eval", str(path), "--index", str(tmp_path / "none")]) == 2  # no --out


def test_oracle_gives_k_gold_chunks_in_the_retrievers_order():
    gold_doc = [
        Chunk(f"g{i}", "leave/a.md", "a", f"part {i}", 0, 6, None, (), "h") for i in range(4)
    ]
    other = Chunk("o", "leave/b.md", "b", "other", 0, 5, None, (), "h")
    hidden = Chunk("s", "leave/a.md", "a", "secret", 0, 6, None, (), "h", ("managers",))
    ranked = [Hit(other, 0.9, 1), Hit(gold_doc[2], 0.8, 2), Hit(hidden, 0.7, 3)]
    item = EvalItem("q", "What?", gold=(Gold("leave/a.md"),))
    hits = oracle_hits(item, [*gold_doc, other, hidden], "path", RunSettings(k=3), ranked)
    assert [h.chunk.chunk_id for h in hits] == ["g2", "g0", "g1"]  # retrieved first; no secret
    assert [h.rank for h in hits] == [1, 2, 3] and hits[0].score > hits[1].score > hits[2].score
    passages_only = EvalItem("q", "What?", gold=(Gold("p1"),), passages=("Paris is in France.",))
    [hit] = oracle_hits(passages_only, [], "doc_id", RunSettings(k=3))
    assert hit.chunk.text == "Paris is in France." and hit.chunk.source == "p1"


@pytest.mark.slow
def test_end_to_end_on_a_real_index(tmp_path):
    """The real chain: ingest one sample policy, evaluate three conditions on four questions."""
    import shutil

    from ingest.pipeline import IngestOptions, ingest

    root = Path(__file__).resolve().parents[1]
    corpus = tmp_path / "corpus" / "leave"
    corpus.mkdir(parents=True)
    shutil.copy(root / "sample_corpus" / "leave" / "annual-leave.md", corpus)
    index = tmp_path / "index"
    ingest([tmp_path / "corpus"], index, IngestOptions(progress=False))
    lines = (root / "sample_corpus" / "eval.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    picked = [r for r in records if r["sources"] == ["leave/annual-leave.md"]][:3]
    picked.append(next(r for r in records if not r["answerable"]))
    dataset = tmp_path / "eval.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in picked) + "\n", encoding="utf-8")
    warnings: list[str] = []
    summary = evaluate(
        dataset,
        tmp_path / "out",
        EvalOptions(conditions="grounded,ungrounded,oracle", progress=False, resamples=200),
        index_dir=index,
        warn=warnings.append,
    )
    assert warnings == []
    grounded = summary["conditions"]["grounded"]["metrics"]
    assert grounded["retrieval.doc.hit@5"] == {"value": 1.0, "n": 3}
    assert grounded.get("grounding.citation_validity", {"value": 1.0})["value"] == 1.0
    assert summary["conditions"]["ungrounded"]["metrics"]["abstention.rate"]["value"] == 1.0
    assert summary["index"]["fingerprint"]["model"]
    assert (tmp_path / "out" / "report.html").is_file()


def test_a_question_the_retriever_rejects_is_recorded_not_fatal(dataset_path, tmp_path):
    class Picky(FakeAssistant):
        def retrieve(self, question, *, k=None, groups=None):
            if "sickness" in question:
                raise UsageError("the question is too long")
            return super().retrieve(question, k=k)

    summary = _evaluate(dataset_path, tmp_path / "out", Picky(), conditions="grounded,ungrounded")
    records = read_results(tmp_path / "out" / "results.jsonl")
    [failed] = [r for r in records if r.get("error")]
    assert (failed["id"], failed["condition"]) == ("q2", "grounded")
    assert "too long" in failed["error"]
    assert summary["conditions"]["grounded"]["errors"] == 1
    assert summary["conditions"]["ungrounded"]["n"] == 4
