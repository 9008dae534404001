"""Long-lived readers follow re-ingests: one generation per answer, never a failure mid-swap.

The HTTP server, the chat loop and an app's LangChain chain hold an `Assistant` for hours
while `ragkit ingest` rewrites the index. These tests restrict and delete a document under a
running assistant and check that answers, citations and /v1/sources all move to the new
generation together, and that asking in a loop while ingest rewrites the index in a loop
never fails (issue 13, item 3; the 500-ask figure is in tests/bench/bench_security.py).
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from ingest.pipeline import IngestOptions, ingest
from ragkit.assistant import Assistant
from ragkit.chain import load_chain
from ragkit.serve import create_app

BONUS = "---\ntitle: Bonus\n---\n# Bonus\n\nThe Kestrel bonus pays 7,700 EUR in December.\n"
BONUS_RESTRICTED = BONUS.replace("title: Bonus\n", "title: Bonus\naccess: [managers]\n")
LEAVE = "# Leave\n\nEvery employee receives 25 days of paid annual leave per year.\n"
QUESTION = "How much does the Kestrel bonus pay?"


def build(root: Path, index: Path, bonus: str | None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "leave.md").write_text(LEAVE)
    if bonus is None:
        (root / "bonus.md").unlink(missing_ok=True)
    else:
        (root / "bonus.md").write_text(bonus)
    # the loop makes bonus.md public again on purpose: --allow-widen
    options = IngestOptions(model="hash:256", progress=False, allow_widen=True)
    report = ingest([root], index, options)
    assert report.ok


def quoted(answer: dict) -> str:
    return " ".join([answer["answer"], *(c["quote"] for c in answer["citations"])])


def test_the_server_follows_a_restriction_and_a_deletion(tmp_path):
    root, index = tmp_path / "docs", tmp_path / "index"
    build(root, index, BONUS)
    client = TestClient(create_app(Assistant.from_index(index), index, no_auth=True))

    def state() -> tuple[str, list[str]]:
        answer = client.post("/v1/ask", json={"question": QUESTION}).json()
        sources = [row["source"] for row in client.get("/v1/sources").json()["data"]]
        return quoted(answer), sources

    text, sources = state()
    assert "7,700" in text and "bonus.md" in sources

    build(root, index, BONUS_RESTRICTED)  # ingest while the server runs
    text, sources = state()
    assert "7,700" not in text and "Kestrel" not in text and sources == ["leave.md"]

    build(root, index, BONUS)
    build(root, index, None)  # deleted
    text, sources = state()
    assert "7,700" not in text and sources == ["leave.md"]


def test_the_python_chain_follows_a_re_ingest(tmp_path):
    root, index = tmp_path / "docs", tmp_path / "index"
    build(root, index, BONUS)
    chain = load_chain(index)
    assert "7,700" in quoted(chain.invoke(QUESTION))
    build(root, index, BONUS_RESTRICTED)
    answer = chain.invoke(QUESTION)
    assert "7,700" not in quoted(answer)
    assert all("Kestrel" not in p["text"] for p in answer["passages"])
    managers = chain.invoke({"question": QUESTION, "groups": ["managers"]})
    assert "7,700" in quoted(managers)


def test_asking_while_ingest_rewrites_the_index_never_fails(tmp_path):
    root, index = tmp_path / "docs", tmp_path / "index"
    build(root, index, BONUS)
    assistant = Assistant.from_index(index)
    stop = threading.Event()
    runs = [0]

    def ingest_loop() -> None:
        while not stop.is_set():
            runs[0] += 1
            build(root, index, BONUS if runs[0] % 2 else BONUS_RESTRICTED)

    thread = threading.Thread(target=ingest_loop)
    thread.start()
    failures, asks = [], 0
    try:
        while asks < 60 or runs[0] < 6:
            asks += 1
            try:
                answer = assistant.ask(QUESTION)
                # one generation per answer: every citation quotes one of its own passages
                texts = [hit.chunk.text for hit in answer.passages]
                assert all(any(c.quote in t for t in texts) for c in answer.citations)
            except Exception as exc:  # noqa: BLE001 - any failure counts
                failures.append(f"{type(exc).__name__}: {exc}")
            if asks > 2000:
                break
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert assistant.retriever.reloads >= 3  # it really switched generations under load
