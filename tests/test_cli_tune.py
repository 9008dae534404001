"""`ragkit tune` then `ragkit ask --llm hf:BASE --adapter DIR`, through the CLI, end to end."""

from __future__ import annotations

import json

from tiny_models import save_tiny_model

from ragkit.cli import main


def test_tune_then_ask_through_the_adapter(capsys, tiny_index, tmp_path):
    base = save_tiny_model("llama", tmp_path / "base")
    data = tmp_path / "train.jsonl"
    rows = [
        {
            "id": "a",
            "question": "How many days of annual leave?",
            "answer": "25 days of paid leave.",
            "sources": ["leave.md"],
            "answerable": True,
        },
        {
            "id": "b",
            "question": "How much are meals reimbursed?",
            "answer": "Up to 40 EUR per day.",
            "sources": ["expenses.md"],
            "answerable": True,
        },
        {
            "id": "c",
            "question": "Can I bring my dog?",
            "answer": "",
            "sources": [],
            "answerable": False,
        },
    ]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "adapter"
    code = main(
        [
            "tune",
            "--base",
            str(base),
            "--data",
            str(data),
            "--index",
            str(tiny_index),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--virtual-tokens",
            "4",
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["train_losses"]
    assert {p.name for p in out.iterdir()} >= {
        "adapter_config.json",
        "adapter_model.safetensors",
        "ragkit_adapter.json",
    }

    code = main(
        [
            "ask",
            "How many days of annual leave?",
            "--index",
            str(tiny_index),
            "--llm",
            f"hf:{base}",
            "--adapter",
            str(out),
            "--json",
        ]
    )
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and set(answer) == {"answer", "abstained", "citations", "passages"}
    assert answer["passages"]  # retrieval ran; the tiny model's text itself is noise

    other = save_tiny_model("gpt2", tmp_path / "other")
    code = main(
        [
            "ask",
            "How many days?",
            "--index",
            str(tiny_index),
            "--llm",
            f"hf:{other}",
            "--adapter",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code != 0 and "trained on" in err and len(err.strip().splitlines()) == 1
