"""Prefix-tuned adapters on tiny GPT-2, Llama and Qwen2 models built from config.

Shows: training lowers the answer loss; text initialisation equals having the init text in
front of the prompt; save then load gives identical logits (inference and resume paths);
training prompts are the inference prompts; the chain answers through an adapter; a
mismatched base and a corrupt adapter directory are refused with clear errors.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from tiny_models import FAMILIES, save_tiny_model

from ragkit.errors import ConfigError
from ragkit.generators.hf import HFGenerator, encode, load_base
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.prompt import PROMPT_VERSION
from ragkit.tune import TuneConfig, TuneResult, load_adapter, read_metadata, train_adapter
from ragkit.tune import adapter as adapters
from ragkit.tune.data import build_examples, cite, encode_example, read_records
from ragkit.tune.train import EarlyStop
from ragkit.types import REFUSAL, Hit

SYSTEM = "Answer from the passages and cite them as [1]."
DOCS = {
    "leave/annual.md": ("Annual leave", "Every full-time employee receives 25 days of leave."),
    "leave/carry.md": ("Carry over", "You may carry up to 5 days into the next year."),
    "money/expenses.md": ("Expenses", "Submit expenses within 30 days with a receipt."),
    "it/laptops.md": ("Laptops", "The IT service desk provides a laptop to every new starter."),
}
RECORDS = [
    ("q1", "How many days of annual leave do I get?", "You get 25 days.", "leave/annual.md"),
    (
        "q2",
        "How much leave can I carry over?",
        "Up to 5 days. Use them by March.",
        "leave/carry.md",
    ),
    ("q3", "When must I submit expenses?", "Within 30 days, with a receipt.", "money/expenses.md"),
    ("q4", "Who gives me a laptop?", "The IT service desk.", "it/laptops.md"),
    ("q5", "Does insurance cover my dog?", "The documents do not cover this.", None),
]


def chunk(source: str) -> Chunk:
    title, text = DOCS[source]
    return Chunk(chunk_id_for(source, text), source, title, text, 0, len(text), None, (title,), "t")


def retrieve(question: str) -> list[Hit]:
    """Rank the four documents by shared words, ties by name: checkable by hand."""
    words = set(question.lower().strip("?").split())
    ranked = sorted(DOCS, key=lambda s: (-len(words & set(DOCS[s][1].lower().split())), s))
    return [Hit(chunk(s), 1.0 / rank, rank) for rank, s in enumerate(ranked, start=1)]


def write_records(path: Path, records=RECORDS) -> Path:
    lines = [
        {"id": i, "question": q, "answer": a, "sources": [s] if s else [], "answerable": bool(s)}
        for i, q, a, s in records
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tune")
    write_records(root / "data.jsonl")
    (root / "system.txt").write_text(SYSTEM, encoding="utf-8")
    for family in FAMILIES:
        save_tiny_model(family, root / family)
    save_tiny_model("llama", root / "llama-seed1", seed=1)
    return root


def tune_config(root: Path, family: str, out: str, **overrides) -> TuneConfig:
    settings = dict(
        base=str(root / family),
        data=str(root / "data.jsonl"),
        dev=str(root / "data.jsonl"),
        out=str(root / out),
        virtual_tokens=6,
        epochs=4,
        lr=0.1,
        refusal_share=0.5,
        system_prompt=str(root / "system.txt"),
    )
    return TuneConfig(**{**settings, **overrides})


@pytest.fixture(scope="module")
def trained(workdir: Path) -> Callable[[str], TuneResult]:
    results: dict[str, TuneResult] = {}

    def train(family: str) -> TuneResult:
        if family not in results:
            config = tune_config(workdir, family, f"adapter-{family}")
            results[family] = train_adapter(config, retrieve=retrieve, progress=False)
        return results[family]

    return train


def logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


# -- configuration and data ------------------------------------------------------------------


def test_config_validates_and_saves_sorted_json(tmp_path):
    config = TuneConfig(base="m", data="d.jsonl", out="o", virtual_tokens=8)
    config.save(tmp_path / "tune.json")
    text = (tmp_path / "tune.json").read_text()
    keys = list(json.loads(text))
    assert keys == sorted(keys)
    assert TuneConfig.load(tmp_path / "tune.json") == config
    assert "virtual tokens" in TuneConfig.help()["virtual_tokens"]
    for bad, message in [
        ({"virtual_tokens": 0}, "virtual_tokens must be a positive integer, got 0"),
        ({"lr": -1.0}, "lr must be positive"),
        ({"refusal_share": 1.5}, "refusal_share must be between 0 and 1"),
        ({"init": "random"}, "random initialisation is known to train badly"),
        ({"base": " "}, "base is required"),
    ]:
        with pytest.raises(ConfigError, match=message):
            TuneConfig(**{"base": "m", "data": "d", "out": "o", **bad})
    with pytest.raises(ConfigError, match="unknown tune settings"):
        TuneConfig.from_dict({"base": "m", "data": "d", "out": "o", "epoch": 3})


def test_cite_puts_markers_where_the_citation_parser_reads_them():
    assert cite("You get 25 days.", [1]) == "You get 25 days [1]."
    assert cite("Up to 5 days. Use them by March!", [2, 3]) == (
        "Up to 5 days [2][3]. Use them by March [2][3]!"
    )
    assert cite("No full stop", [1]) == "No full stop [1]"
    assert cite("Already cited [2].", [1]) == "Already cited [2]."
    assert cite("Uncited.", []) == "Uncited."


def test_examples_pair_questions_with_retrieved_passages_and_teach_refusal(tmp_path):
    records = read_records(write_records(tmp_path / "d.jsonl"))
    missed = {"id": "q6", "question": "x", "answer": "y", "sources": ["nowhere.md"]}
    records.append({**missed, "answerable": True})
    examples, counts = build_examples(records, retrieve, top_k=2, refusal_share=1.0)
    assert counts == {"answer": 4, "refusal": 4, "unanswerable": 1, "skipped": 1}
    first = examples[0]
    assert (first.kind, first.question) == ("answer", "How many days of annual leave do I get?")
    assert [h.chunk.source for h in first.hits] == ["leave/annual.md", "leave/carry.md"]
    assert first.target == "You get 25 days [1]."
    refusal = examples[1]
    assert refusal.kind == "refusal" and refusal.target == REFUSAL
    assert "leave/annual.md" not in [h.chunk.source for h in refusal.hits]
    assert len(refusal.hits) == 2
    assert [e.target for e in examples if e.kind == "unanswerable"] == [REFUSAL]


def test_bad_training_data_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "q1", "question": "q"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.jsonl:1: missing \['answer', 'sources'"):
        read_records(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.jsonl:1: not valid JSON"):
        read_records(path)
    with pytest.raises(ConfigError, match="cannot read training data"):
        read_records(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("family", ["gpt2", "qwen2"])  # plain layout and chat template
def test_training_prompts_are_the_inference_prompts(workdir, family):
    generator = HFGenerator(str(workdir / family), system_prompt=SYSTEM, max_new_tokens=8)
    generator.warm_up()
    tokenizer = generator.tokenizer
    examples, _ = build_examples(read_records(workdir / "data.jsonl"), retrieve, top_k=3)
    for example in examples:
        encoded, cut = encode_example(tokenizer, example, SYSTEM, None)
        (inference,) = generator._encode([example.question], [example.hits])
        prompt = len(inference.ids)
        assert not cut and encoded.input_ids[:prompt] == inference.ids
        assert encoded.labels[:prompt] == [-100] * prompt  # no loss on the prompt
        answer = tokenizer.decode(encoded.labels[prompt:])
        assert answer.strip() == example.target + tokenizer.eos_token
        assert encoded.answer_tokens == len(encoded.input_ids) - prompt


# -- prefix initialisation, training, saving, loading ----------------------------------------


@pytest.mark.parametrize("family", ["gpt2", "llama"])  # absolute positions and RoPE with GQA
def test_text_init_is_exactly_the_init_text_in_front_of_the_prompt(workdir, family):
    base, tokenizer = load_base(str(workdir / family), "cpu")
    text, virtual = "Answer briefly.", 5
    init_ids = (encode(tokenizer, text + " ") * virtual)[:virtual]
    prompt = encode(tokenizer, "How many days of annual leave do I get?")
    expected = logits(base, init_ids + prompt)[:, virtual:]
    model = adapters.new_prefix_model(
        base, virtual, init="text", tokenizer=tokenizer, init_text=text
    )
    assert torch.allclose(logits(model, prompt), expected, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_lowers_the_loss_and_saves_an_adapter(workdir, trained, family):
    result = trained(family)
    assert result.dev_losses[-1] < result.initial_dev_loss
    assert result.best_epoch == len(result.dev_losses) and not result.stopped_early
    assert result.examples["answer"] == 4 and result.examples["unanswerable"] == 1
    assert result.tokens_per_second > 0
    names = {p.name for p in result.adapter_dir.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "ragkit_adapter.json"} <= names
    meta = read_metadata(result.adapter_dir)
    assert meta["base_model"] == str(workdir / family)
    assert meta["prompt_version"] == PROMPT_VERSION and meta["virtual_tokens"] == 6
    assert len(meta["data_sha256"]) == 64 and len(meta["base_config_sha256"]) == 64
    assert meta["metrics"]["dev_losses"] == list(result.dev_losses)
    assert set(meta["versions"]) == {"peft", "ragkit", "torch", "transformers"}
    assert meta["prompt_format"] == ("plain" if family == "gpt2" else "chat_template")


def test_save_then_load_gives_identical_logits(workdir, tmp_path):
    base, tokenizer = load_base(str(workdir / "qwen2"), "cpu")
    model = adapters.new_prefix_model(base, 4, init="text", tokenizer=tokenizer, init_text="Cite.")
    with torch.no_grad():
        model.prompt_encoder["default"].embedding.weight.add_(0.5)  # as if trained
    ids = encode(tokenizer, "Who gives me a laptop?")
    before = logits(model, ids)
    meta = {**adapters.base_identity(base), "prompt_version": PROMPT_VERSION, "virtual_tokens": 4}
    adapters.save_adapter(model, tmp_path / "a", meta)
    fresh, _ = load_base(str(workdir / "qwen2"), "cpu")
    loaded = load_adapter(fresh, tmp_path / "a")
    assert torch.equal(logits(loaded, ids), before)
    again, _ = load_base(str(workdir / "qwen2"), "cpu")
    resumed = load_adapter(again, tmp_path / "a", trainable=True)
    assert torch.equal(logits(resumed, ids), before)
    assert [n for n, p in resumed.named_parameters() if p.requires_grad] == [
        "prompt_encoder.default.embedding.weight"
    ]


def test_resume_continues_from_the_saved_prefix(workdir, trained):
    first = trained("llama")
    config = tune_config(workdir, "llama", "resumed", epochs=1, resume=str(first.adapter_dir))
    second = train_adapter(config, retrieve=retrieve, progress=False)
    assert second.initial_dev_loss == pytest.approx(min(first.dev_losses), rel=1e-5)
    assert read_metadata(second.adapter_dir)["init"] == "resume"
    with pytest.raises(ConfigError, match="has 6 virtual tokens, not 3"):
        train_adapter(
            tune_config(workdir, "llama", "r2", virtual_tokens=3, resume=str(first.adapter_dir)),
            retrieve=retrieve,
            progress=False,
        )


def test_a_mismatched_base_model_is_refused(workdir, trained):
    adapter = trained("llama").adapter_dir
    for other in ("qwen2", "llama-seed1"):  # another config; same config, other weights
        base, _ = load_base(str(workdir / other), "cpu")
        with pytest.raises(
            ConfigError, match=f"adapter {adapter} was trained on base .*llama"
        ) as e:
            load_adapter(base, adapter, base_id=str(workdir / other))
        assert f"not {workdir / other} (config hash" in str(e.value)
    generator = HFGenerator(str(workdir / "qwen2"), adapter=adapter, system_prompt=SYSTEM)
    with pytest.raises(ConfigError, match="was trained on base"):
        generator.generate("q", [])


def test_a_corrupt_adapter_directory_gives_a_clear_error(workdir, trained, tmp_path):
    source = trained("gpt2").adapter_dir
    base, _ = load_base(str(workdir / "gpt2"), "cpu")

    def broken(name: str, damage: Callable[[Path], None]) -> Path:
        target = tmp_path / name
        shutil.copytree(source, target)
        damage(target)
        return target

    cases = {
        "missing metadata": (
            broken("m", lambda d: (d / "ragkit_adapter.json").unlink()),
            "ragkit_adapter.json is missing",
        ),
        "truncated weights": (
            broken("w", lambda d: (d / "adapter_model.safetensors").write_bytes(b"\x08\x00")),
            "adapter_model.safetensors is corrupt",
        ),
        "bad config": (
            broken("c", lambda d: (d / "adapter_config.json").write_text("{")),
            "adapter_config.json is corrupt",
        ),
        "not a directory": (tmp_path / "nothing", "does not exist"),
    }
    for _, (directory, message) in cases.items():
        with pytest.raises(ConfigError, match=message) as info:
            load_adapter(base, directory)
        assert "\n" not in str(info.value)


def test_the_chain_answers_through_the_adapter(workdir, trained, tmp_path):
    from ingest.chunking import ChunkSettings
    from ragkit.chain import load_chain
    from ragkit.index.embedding import load_embedder
    from ragkit.index.store import write_generation, writer_lock

    index = tmp_path / "index"
    embedder = load_embedder("hash:64")
    chunks = [chunk(source) for source in DOCS]
    vectors = embedder.embed([c.embedding_text for c in chunks])
    files = {
        c.source: {"hash": "t", "chunk_ids": [c.chunk_id], "title": c.title, "groups": []}
        for c in chunks
    }
    manifest = {
        "fingerprint": embedder.fingerprint() | ChunkSettings().fingerprint(),
        "files": files,
    }
    with writer_lock(index):
        write_generation(index, manifest, chunks, vectors)

    adapter = trained("llama").adapter_dir
    base = str(workdir / "llama")
    chain = load_chain(
        index, llm=f"hf:{base}", adapter=adapter, k=2, system_prompt=workdir / "system.txt"
    )
    question = "How many days of annual leave do I get?"
    result = chain.invoke(question)
    hits = [
        Hit(chunk(p["source"]), p["score"], rank) for rank, p in enumerate(result["passages"], 1)
    ]
    direct = HFGenerator(base, adapter=adapter, system_prompt=SYSTEM, max_new_tokens=200)
    expected = direct.generate(question, hits)
    assert result["abstained"] == expected.abstained
    assert result["answer"].strip() == expected.text or expected.abstained
    assert expected.metadata["adapter"] == str(adapter)


# -- the loop's pieces -----------------------------------------------------------------------


def test_early_stop_keeps_the_best_epoch_and_waits_patience_epochs():
    stop = EarlyStop(patience=2)
    assert stop.update(0, 3.0) and stop.update(1, 2.0)
    assert not stop.update(2, 2.5) and not stop.stop
    assert not stop.update(3, 2.0) and stop.stop  # equal is not better
    assert (stop.best, stop.best_epoch) == (2.0, 1)


def test_training_refuses_gradient_checkpointing_and_a_missing_retriever(workdir):
    base, _ = load_base(str(workdir / "llama"), "cpu")
    base.gradient_checkpointing_enable()
    with pytest.raises(ConfigError, match="gradient checkpointing"):
        adapters.new_prefix_model(base, 4, init="zero")
    with pytest.raises(ConfigError, match="need a retriever"):
        train_adapter(tune_config(workdir, "llama", "x"))


def test_importing_the_tune_package_loads_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys, ragkit.tune, ragkit.generators.hf; "
        "print([m for m in ('torch', 'transformers', 'peft') if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert done.stdout.strip() == "[]"
