"""Benchmark: prefix-tuning training throughput and peak memory on CPU, beside baselines.

    python tests/bench/bench_tune.py [--quick] [--threads N] [--json]

Models are built from config with random weights (nothing downloads): a tiny Llama, GPT-2
small (124M parameters) and a Llama of about 100M. For each model and mode a fresh Python
process builds the model, runs one warm-up step and then timed steps on random token batches,
and reports tokens per second and peak resident memory (ru_maxrss, imports included; "build"
is the resident memory once the model exists, so peak - build is what the steps cost).

Modes, measured in the same run so they compare as ratios:
- prefix:  one ragkit prefix-tuning step (peft PrefixTuning, P virtual tokens, AdamW on the
           prefix only; `ragkit.tune.train.batch_loss`, the loop's own loss);
- full:    full fine-tuning of every weight with AdamW: the baseline the adapter replaces;
- forward: a forward pass without gradients: the ceiling for any training step.
The machine is shared and noisy: compare the ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODES = ("prefix", "full", "forward")


def build(name: str):
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    if name == "tiny-llama":
        config = LlamaConfig(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=512, max_position_embeddings=1024,
        )  # fmt: skip
    elif name == "gpt2-124m":
        config = GPT2Config()  # n_embd 768, 12 layers, 12 heads, vocab 50257: GPT-2 small
    elif name == "llama-100m":
        config = LlamaConfig(
            hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
            num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048,
            tie_word_embeddings=True,
        )  # fmt: skip
    else:
        raise SystemExit(f"unknown model {name}")
    return AutoModelForCausalLM.from_config(config)


def child(name: str, mode: str, batch: int, seq: int, steps: int, virtual: int, threads: int):
    import torch

    from ragkit.tune.adapter import new_prefix_model
    from ragkit.tune.train import batch_loss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build(name)
    params = sum(p.numel() for p in model.parameters())
    if mode == "prefix":
        model = new_prefix_model(model, virtual, init="zero")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=1e-4) if mode != "forward" else None
    build_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, seq))
    data = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}

    def step() -> None:
        if optimiser is None:
            with torch.no_grad():
                batch_loss(model, data)
            return
        model.train()
        loss, n = batch_loss(model, data)
        optimiser.zero_grad(set_to_none=True)
        (loss / n).backward()
        optimiser.step()

    step()  # warm-up: allocator, kernels, optimiser state
    started = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = time.perf_counter() - started
    return {
        "model": name,
        "mode": mode,
        "params_m": params / 1e6,
        "trainable_m": sum(p.numel() for p in trainable) / 1e6 if optimiser else 0.0,
        "tokens_per_s": batch * seq * steps / seconds,
        "build_rss_mib": build_rss,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "batch": batch,
        "seq": seq,
        "steps": steps,
        "threads": threads,
    }


def run_child(name: str, mode: str, args: argparse.Namespace, batch: int, seq: int, steps: int):
    command = [
        sys.executable, __file__, "--child", name, mode, "--batch", str(batch), "--seq", str(seq),
        "--steps", str(steps), "--virtual", str(args.virtual), "--threads", str(args.threads),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"model": name, "mode": mode, "error": tail[0]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    head = (
        f"{'model':<11} {'params':>7} {'mode':<8} {'trainable':>10} {'tokens/s':>9} "
        f"{'x full':>7} {'build MiB':>9} {'peak MiB':>9} {'B x T':>8}"
    )
    lines = [head, "-" * len(head)]
    full = {r["model"]: r.get("tokens_per_s") for r in rows if r["mode"] == "full"}
    for r in rows:
        if "error" in r:
            lines.append(f"{r['model']:<11} {'':>7} {r['mode']:<8} error: {r['error']}")
            continue
        ratio = r["tokens_per_s"] / full[r["model"]] if full.get(r["model"]) else float("nan")
        lines.append(
            f"{r['model']:<11} {r['params_m']:>6.1f}M {r['mode']:<8} {r['trainable_m']:>9.3f}M "
            f"{r['tokens_per_s']:>9.0f} {ratio:>7.2f} {r['build_rss_mib']:>9.0f} "
            f"{r['peak_rss_mib']:>9.0f} {r['batch']:>3} x {r['seq']:<4}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short sequences, one timed step")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--virtual", type=int, default=20, help="prefix length P")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--seq", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        row = child(*args.child, args.batch, args.seq, args.steps, args.virtual, args.threads)
        print(json.dumps(row))
        return
    plans = {  # model: (batch, seq, timed steps)
        "tiny-llama": (8, 256, 20) if not args.quick else (4, 128, 5),
        "gpt2-124m": (4, 256, 3) if not args.quick else (2, 64, 1),
        "llama-100m": (4, 256, 3) if not args.quick else (2, 64, 1),
    }
    rows = []
    for name, (batch, seq, steps) in plans.items():
        for mode in MODES:
            rows.append(run_child(name, mode, args, batch, seq, steps))
            print(f"  measured {name} {mode}", file=sys.stderr, flush=True)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    print(
        f"\nP={args.virtual} virtual tokens; {args.threads} torch thread(s) per process; "
        "'x full' = tokens/s relative to full fine-tuning of the same model, same run."
    )


if __name__ == "__main__":
    main()
