"""An optional LLM judge: faithfulness and answer relevance, with verdicts cached on disk.

    faithfulness  is every claim of the answer supported by the passages it was given?
    relevance     does the answer address the question that was asked?

Each is a score in [0, 1] from any LangChain chat model (`--judge PROVIDER:MODEL`). Verdicts
are cached by a digest of (judge model, criterion, question, answer, passages) in a JSONL
file, so a resumed or repeated run never asks twice. The offline metrics never depend on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragkit.types import Hit

CRITERIA = {
    "faithfulness": (
        "Judge FAITHFULNESS: is every claim in the ANSWER supported by the PASSAGES? "
        "1 = fully supported, 0 = unsupported or contradicted; partial support in between."
    ),
    "relevance": (
        "Judge ANSWER RELEVANCE: does the ANSWER address the QUESTION that was asked? "
        "1 = directly answers it, 0 = off topic; partial answers in between."
    ),
}
_SYSTEM = (
    "You grade answers of a document question-answering system. Reply with one JSON object "
    'and nothing else: {"score": <number from 0 to 1>, "reason": "<one sentence>"}'
)
_JSON = re.compile(r"\{.*\}", re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.])(?:0(?:\.\d+)?|1(?:\.0+)?)(?![\w.])")


def parse_verdict(text: str) -> dict[str, Any] | None:
    """{"score", "reason"} from a judge's reply, or None when no score in [0, 1] is there."""
    match = _JSON.search(text)
    if match:
        try:
            record = json.loads(match.group())
            score = float(record["score"])
            if 0.0 <= score <= 1.0:
                return {"score": score, "reason": str(record.get("reason", ""))}
        except (ValueError, KeyError, TypeError):
            pass
    number = _NUMBER.search(text)
    return {"score": float(number.group()), "reason": text.strip()[:200]} if number else None


class Judge:
    """Scores answers with a chat model; `model` may be given directly (tests pass a fake)."""

    def __init__(self, spec: str, cache_path: Path | str, model: Any = None) -> None:
        self.spec = spec
        self.cache_path = Path(cache_path)
        self._model = model
        self.calls = 0
        self._cache: dict[str, dict[str, Any]] = {}
        if self.cache_path.exists():
            for line in self.cache_path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    self._cache[record["key"]] = record
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a killed run

    @property
    def model(self) -> Any:
        if self._model is None:
            from ragkit.generators.chat import init_chat

            self._model = init_chat(self.spec)
        return self._model

    def assess(
        self, question: str, answer: str, passages: Sequence[Hit]
    ) -> dict[str, float | None]:
        texts = [hit.chunk.text for hit in passages]
        return {name: self._verdict(name, question, answer, texts) for name in CRITERIA}

    def _verdict(
        self, criterion: str, question: str, answer: str, texts: list[str]
    ) -> float | None:
        payload = json.dumps([self.spec, criterion, question, answer, texts], ensure_ascii=False)
        key = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        if key in self._cache:
            return self._cache[key]["score"]
        passages = "\n\n".join(f"[{i}] {t}" for i, t in enumerate(texts, start=1)) or "(none)"
        prompt = (
            f"{CRITERIA[criterion]}\n\nQUESTION: {question}\n\nANSWER: {answer}\n\n"
            f"PASSAGES:\n{passages}"
        )
        self.calls += 1
        reply = self.model.invoke([("system", _SYSTEM), ("human", prompt)])
        content = getattr(reply, "content", reply)
        verdict = parse_verdict(content if isinstance(content, str) else str(content))
        if verdict is None:
            return None  # not cached: a later run may get a readable verdict
        record = {"key": key, "criterion": criterion, "judge": self.spec, **verdict}
        self._cache[key] = record
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with self.cache_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return verdict["score"]
