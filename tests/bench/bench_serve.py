"""Benchmark: `ragkit serve` throughput and latency at 1, 8 and 32 concurrent clients.

    python tests/bench/bench_serve.py [--quick] [--model hash:256] [--requests 200] [--seconds 30]

Indexes the sample corpus (or, without it, a three-document corpus written here) with the
weightless `hash:256` embedder unless --model says otherwise, starts `ragkit serve` in a child
process on 127.0.0.1 (extractive generator, one API key), and at each level runs client
threads (httpx, one connection each) that send non-streaming `/v1/chat/completions` requests
with the corpus's evaluation questions until `--requests` are done or `--seconds` pass: the
run is bounded and stops by itself. Then it prints a table.

Baselines measured in the same run, so figures read as ratios on a noisy shared machine:
- `/healthz` at the same concurrency: the HTTP stack's own ceiling (no retrieval, no answer);
- `assistant.ask` called directly in this process, one thread: the cost of an answer alone.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_corpus"
KEY = "bench-key-000000000000000000"
LEVELS = (1, 8, 32)
FALLBACK_QUESTIONS = [
    "How many days of annual leave do I get?",
    "Can I carry over unused leave?",
    "Are taxi fares refunded?",
    "How many days a week can I work remotely?",
    "Who approves my leave?",
]


def write_fallback_corpus(root: Path) -> Path:
    (root / "leave").mkdir(parents=True)
    (root / "leave" / "annual-leave.md").write_text(
        "# Annual leave\n\nEvery full-time employee receives 25 days of paid annual leave per "
        "year. Up to 5 days may be carried over. Your line manager approves leave.\n"
    )
    (root / "leave" / "remote.md").write_text(
        "# Remote work\n\nEmployees may work remotely up to three days per week.\n"
    )
    (root / "money.md").write_text("# Taxis\n\nTaxi fares are refunded after 22:00.\n")
    return root


def questions(corpus: Path) -> list[str]:
    eval_file = corpus / "eval.jsonl"
    if not eval_file.exists():
        return FALLBACK_QUESTIONS
    rows = [json.loads(line) for line in eval_file.read_text().splitlines() if line.strip()]
    return [row["question"] for row in rows]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(index: Path, keys_file: Path, port: int, max_concurrent: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-c",
        "import sys; from ragkit.cli import main; sys.exit(main(sys.argv[1:]))",
        "serve", "--index", str(index), "--keys", str(keys_file), "--port", str(port),
        "--max-concurrent", str(max_concurrent), "--max-waiting", "256",
        "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not start within 120 s")


def load(
    url: str, path: str, clients: int, total: int, seconds: float, make_body
) -> dict[str, float]:
    """`clients` threads share a budget of `total` requests and a deadline; returns figures."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    issued = 0
    deadline = time.monotonic() + seconds

    def client(worker: int) -> None:
        nonlocal issued
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while time.monotonic() < deadline:
                with lock:
                    if issued >= total:
                        return
                    n = issued
                    issued += 1
                started = time.perf_counter()
                if make_body is None:
                    response = http.get(path)
                else:
                    response = http.post(path, json=make_body(n))
                elapsed = time.perf_counter() - started
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    ok = len(latencies)
    return {
        "ok": ok,
        "failed": sum(statuses.values()) - ok,
        "rps": ok / wall if wall else 0.0,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p95": latencies[min(ok - 1, int(0.95 * ok))] * 1000 if latencies else float("nan"),
    }


def in_process(index: Path, qs: list[str], total: int, seconds: float) -> float:
    """Direct `assistant.ask` answers per second, one thread: the cost of answering alone."""
    from ragkit.assistant import Assistant

    assistant = Assistant.from_index(index)
    assistant.ask(qs[0])  # warm up
    done, started = 0, time.perf_counter()
    while done < total and time.perf_counter() - started < seconds:
        assistant.ask(qs[done % len(qs)])
        done += 1
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 requests, 10 s per level")
    parser.add_argument("--model", default="hash:256", help="embedding model for the index")
    parser.add_argument("--requests", type=int, default=200, help="requests per level (200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per level (30)")
    parser.add_argument("--max-concurrent", type=int, default=4, help="server generation slots")
    args = parser.parse_args()
    total, seconds = (60, 10.0) if args.quick else (args.requests, args.seconds)

    from ingest.pipeline import IngestOptions, ingest

    with tempfile.TemporaryDirectory(prefix="ragkit-bench-serve-") as tmp:
        tmp_dir = Path(tmp)
        corpus = SAMPLE if SAMPLE.is_dir() else write_fallback_corpus(tmp_dir / "corpus")
        index = tmp_dir / "index"
        report = ingest([corpus], index, IngestOptions(model=args.model, progress=False))
        qs = questions(corpus)
        keys_file = tmp_dir / "keys.json"
        keys_file.write_text(json.dumps({"keys": [{"name": "bench", "key": KEY, "groups": []}]}))
        print(
            f"corpus {corpus} ({report.chunks_total} chunks, model {args.model}); "
            f"{len(qs)} questions; {total} requests or {seconds:.0f} s per level; "
            f"server: {args.max_concurrent} generation slots; {os.cpu_count()} CPUs"
        )
        direct = in_process(index, qs, total, seconds)
        port = free_port()
        server = start_server(index, keys_file, port, args.max_concurrent)
        url = f"http://127.0.0.1:{port}"

        def chat(n: int) -> dict:
            return {"model": "ragkit", "messages": [{"role": "user", "content": qs[n % len(qs)]}]}

        rows = []
        try:
            load(url, "/v1/chat/completions", 1, 5, seconds, chat)  # warm up
            for clients in LEVELS:
                health = load(url, "/healthz", clients, total, seconds, None)
                answers = load(url, "/v1/chat/completions", clients, total, seconds, chat)
                rows.append((clients, answers, health))
        finally:
            server.terminate()
            server.wait(timeout=30)

    print()
    print(
        f"{'clients':>7}  {'requests':>8}  {'failed':>6}  {'answers/s':>9}  {'p50 ms':>8}  "
        f"{'p95 ms':>8}  {'healthz/s':>9}  {'vs direct':>9}"
    )
    for clients, answers, health in rows:
        print(
            f"{clients:>7}  {answers['ok']:>8}  {answers['failed']:>6}  {answers['rps']:>9.1f}  "
            f"{answers['p50']:>8.1f}  {answers['p95']:>8.1f}  {health['rps']:>9.1f}  "
            f"{answers['rps'] / direct:>8.2f}x"
        )
    print(
        f"\nbaseline, same run: assistant.ask in-process, one thread: {direct:.1f} answers/s "
        f"({1000 / direct:.1f} ms each). 'vs direct' = served answers/s over that figure; "
        "'healthz/s' = the HTTP stack alone at the same concurrency."
    )


if __name__ == "__main__":
    main()
