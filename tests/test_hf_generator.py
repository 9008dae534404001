"""HFGenerator on tiny GPT-2, Llama and Qwen2 models built from config (nothing downloads).

Covers: the chat-template and plain prompt paths, batched left-padded generation equal to
one-by-one generation (with and without a prefix adapter), streaming, context budgets for
absolute positions and sliding windows, and clear errors for a missing model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from tiny_models import FAMILIES, save_tiny_model

from ragkit.errors import ConfigError, UsageError
from ragkit.generators.hf import (
    HFGenerator,
    context_budget,
    fit_prompt,
    load_base,
    plain_prompt,
    render_prompt,
    sliding_window,
)
from ragkit.index.records import Chunk, chunk_id_for
from ragkit.prompt import PROMPT_VERSION, build_messages
from ragkit.tune import adapter as adapters
from ragkit.types import Hit

SYSTEM = "Answer from the passages and cite them as [1]."
TEXTS = {
    "leave/annual.md": "Every full-time employee receives 25 days of paid annual leave per year.",
    "money/expenses.md": "Submit expenses within 30 days with a receipt.",
    "it/laptops.md": "The IT service desk provides a laptop and a phone to every new starter.",
}


def make_hits(*sources: str, text: str | None = None) -> list[Hit]:
    hits = []
    for rank, source in enumerate(sources, start=1):
        body = text if text is not None else TEXTS[source]
        chunk = Chunk(chunk_id_for(source, body), source, source, body, 0, len(body), None, (), "t")
        hits.append(Hit(chunk, 1.0 / rank, rank))
    return hits


QUESTIONS = [
    ("How many days of annual leave do I get?", make_hits("leave/annual.md", "it/laptops.md")),
    ("When?", make_hits("money/expenses.md")),
    ("Who gives me a laptop and a phone on my first day?", make_hits(*TEXTS)),
]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf-models")
    return {family: save_tiny_model(family, root / family) for family in FAMILIES}


def make_adapter(base_dir: Path, out: Path, virtual_tokens: int = 6) -> Path:
    """A text-initialised prefix saved with the metadata ragkit checks (no training needed)."""
    base, tokenizer = load_base(str(base_dir), "cpu")
    model = adapters.new_prefix_model(
        base, virtual_tokens, init="text", tokenizer=tokenizer, init_text="Cite the passages."
    )
    metadata = {
        **adapters.base_identity(base, str(base_dir)),
        "prompt_version": PROMPT_VERSION,
        "virtual_tokens": virtual_tokens,
    }
    return adapters.save_adapter(model, out, metadata)


def test_prompt_uses_the_chat_template_when_the_tokenizer_has_one(models):
    messages = build_messages("How many days?", make_hits("leave/annual.md"), SYSTEM)
    _, qwen = load_base(str(models["qwen2"]), "cpu")
    _, gpt2 = load_base(str(models["gpt2"]), "cpu")
    chat = render_prompt(qwen, messages)
    assert chat.startswith("<|im_start|>system\n" + SYSTEM)
    assert chat.endswith("<|im_start|>assistant\n")
    plain = render_prompt(gpt2, messages)
    assert plain == plain_prompt(messages)
    assert plain.startswith("System: " + SYSTEM + "\n\nUser: Passages:")
    assert plain.endswith("How many days?\n\nAssistant:")


def test_a_template_without_a_system_role_gets_it_folded_into_the_user_turn(models):
    _, tokenizer = load_base(str(models["qwen2"]), "cpu")
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "<u>{{ m['content'] }}</u>{% endfor %}<a>"
    )
    text = render_prompt(tokenizer, [("system", "S"), ("user", "U")])
    assert text == "<u>S\n\nU</u><a>"


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_left_padded_generation_equals_one_by_one(models, family, tmp_path):
    plain = HFGenerator(str(models[family]), system_prompt=SYSTEM, max_new_tokens=12)
    tuned = HFGenerator(
        str(models[family]),
        adapter=make_adapter(models[family], tmp_path / "adapter"),
        system_prompt=SYSTEM,
        max_new_tokens=12,
    )
    for generator in (plain, tuned):
        batch = generator.generate_batch([q for q, _ in QUESTIONS], [h for _, h in QUESTIONS])
        single = [generator.generate(q, h) for q, h in QUESTIONS]
        assert [a.text for a in batch] == [a.text for a in single]
        assert [a.abstained for a in batch] == [a.abstained for a in single]
    assert tuned.virtual_tokens == 6 and plain.virtual_tokens == 0
    # The prefix changes what the model computes: the answers are not the base model's.
    question, hits = QUESTIONS[2]
    with torch.no_grad():
        ids = torch.tensor([fit_prompt(plain.tokenizer, question, hits, SYSTEM, None).ids])
        assert not torch.allclose(
            plain.model(input_ids=ids).logits, tuned.model(input_ids=ids).logits
        )


def test_generate_returns_a_grounded_answer_named_after_the_model(models):
    generator = HFGenerator(str(models["llama"]), system_prompt=SYSTEM, max_new_tokens=8)
    assert generator.model is None  # lazy: nothing loads before first use
    question, hits = QUESTIONS[0]
    answer = generator.generate(question, hits)
    assert generator.name == f"hf:{models['llama']}"
    assert answer.metadata["generator"] == generator.name
    assert answer.metadata["adapter"] is None
    assert answer.passages == tuple(hits)
    assert generator.generate_batch([], []) == []
    with pytest.raises(UsageError, match="2 questions but 1 hit lists"):
        generator.generate_batch(["a", "b"], [hits])


def test_stream_pieces_join_to_the_generated_text(models):
    generator = HFGenerator(str(models["qwen2"]), system_prompt=SYSTEM, max_new_tokens=10)
    question, hits = QUESTIONS[0]
    generated = generator.generate(question, hits)
    *pieces, answer = list(generator.stream_answer(question, hits))
    assert all(isinstance(piece, str) for piece in pieces)
    assert answer.text == generated.text
    assert answer.abstained == generated.abstained


def test_gpt2_positions_left_after_the_prefix_cut_passages_not_the_question(tmp_path):
    base = save_tiny_model("gpt2", tmp_path / "gpt2-256", n_positions=256)
    generator = HFGenerator(
        str(base),
        adapter=make_adapter(base, tmp_path / "a", 8),
        system_prompt=SYSTEM,
        max_new_tokens=8,
    )
    question = "How many days of annual leave do I get?"
    hits = make_hits("leave/annual.md", "it/laptops.md", text=" ".join(TEXTS.values()) * 4)
    with pytest.warns(UserWarning, match="passages were cut"):
        answer = generator.generate(question, hits)
    assert answer.metadata["passages_cut"] is True
    assert context_budget(generator.model.config, 8) == 248
    fitted = fit_prompt(generator.tokenizer, question, hits, SYSTEM, 248 - 8)
    assert fitted.cut and len(fitted.ids) <= 240 and fitted.passages == 2
    assert generator.tokenizer.decode(fitted.ids).endswith(f"Question: {question}\n\nAssistant:")


def test_sliding_window_caps_the_context_only_with_a_prefix():
    from transformers import GPT2Config, Qwen2Config

    sliding = Qwen2Config(use_sliding_window=True, sliding_window=64, max_window_layers=0)
    full = Qwen2Config(use_sliding_window=False, sliding_window=64, max_position_embeddings=512)
    assert sliding_window(sliding) == 64 and sliding_window(full) is None
    assert context_budget(sliding, 8) == 56  # prefix + prompt + answer stay inside the window
    assert context_budget(sliding, 0) == sliding.max_position_embeddings
    assert context_budget(full, 8) == 504
    assert context_budget(GPT2Config(n_positions=1024), 20) == 1004


def test_missing_model_path_is_a_one_line_config_error(tmp_path):
    generator = HFGenerator(str(tmp_path / "no-such-model"))
    with pytest.raises(ConfigError, match="does not exist") as info:
        generator.generate("q", [])
    assert "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot load model"):
        load_base(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="max_new_tokens"):
        HFGenerator("x", max_new_tokens=0)


def test_offline_unless_the_user_allows_downloads(monkeypatch):
    from ragkit.generators.hf import offline

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert offline()
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not offline()


def test_adapter_metadata_warns_on_a_different_prompt_version(models, tmp_path):
    out = make_adapter(models["gpt2"], tmp_path / "a")
    meta = adapters.read_metadata(out)
    meta["prompt_version"] = "v0"
    (out / adapters.METADATA_FILE).write_text(__import__("json").dumps(meta))
    base, _ = load_base(str(models["gpt2"]), "cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adapters.load_adapter(base, out)
    assert any("prompt version v0" in str(w.message) for w in caught)


def test_the_plain_layout_keeps_the_bos_token_the_tokenizer_would_add():
    from tiny_models import train_tokenizer
    from tokenizers import processors

    tokenizer = train_tokenizer("llama")
    tokenizer.chat_template = None
    question, hits = QUESTIONS[1]
    assert fit_prompt(tokenizer, question, hits, SYSTEM, None).ids[0] != tokenizer.bos_token_id
    bos = [("<s>", tokenizer.bos_token_id)]
    tokenizer._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=bos
    )
    assert fit_prompt(tokenizer, question, hits, SYSTEM, None).ids[0] == tokenizer.bos_token_id


def test_a_sliding_window_model_keeps_the_prefix_in_view(tmp_path):
    """Within the window sliding attention is full attention; past it, the prefix drops out."""
    window = save_tiny_model(
        "qwen2", tmp_path / "sw", use_sliding_window=True, sliding_window=160, max_window_layers=0
    )
    full = save_tiny_model("qwen2", tmp_path / "full")  # same seed: same weights
    sliding = HFGenerator(
        str(window),
        adapter=make_adapter(window, tmp_path / "a1"),
        system_prompt=SYSTEM,
        max_new_tokens=20,
    )
    reference = HFGenerator(
        str(full),
        adapter=make_adapter(full, tmp_path / "a2"),
        system_prompt=SYSTEM,
        max_new_tokens=20,
    )
    hits = make_hits("leave/annual.md", "it/laptops.md", text=" ".join(TEXTS.values()) * 3)
    with pytest.warns(UserWarning, match="context of 134 prompt tokens"):  # 160 - 6 - 20
        (fitted,) = sliding._encode(["How many days?"], [hits])
    reference.warm_up()
    inside = torch.tensor([fitted.ids])
    outside = torch.tensor([(fitted.ids * 3)[:300]])
    with torch.no_grad():
        assert torch.equal(
            sliding.model(input_ids=inside).logits, reference.model(input_ids=inside).logits
        )
        assert not torch.allclose(
            sliding.model(input_ids=outside).logits, reference.model(input_ids=outside).logits
        )
