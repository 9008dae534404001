"""Request and response shapes: OpenAI chat completions, and ragkit's own `/v1/ask`.

Chat completions follow OpenAI's wire format so the OpenAI SDK, LangChain's `ChatOpenAI`
and chat UIs can use the knowledge base as a model:

- the question is the last `user` message; earlier `user` messages make a follow-up ("And in
  the UK office?") standalone (`ragkit.followup`), and the question searched and answered
  then comes back in an extra top-level `standalone_question` field (streaming: last chunk);
- `model` may be any name and is echoed back;
- the reply's content is the answer, then a readable list of its sources, e.g.
  "...\\n\\nSources:\\n[1] leave/annual-leave.md, p. 2 — “quote”"; the same citations travel
  as structured data in an extra top-level `citations` field (streaming: in the last chunk);
- streaming is Server-Sent Events: `data: {chunk}\\n\\n` lines, then `data: [DONE]\\n\\n`.

Sampling parameters (temperature, top_p, max_tokens, ...) are accepted and ignored: answers
are grounded in the documents, not sampled. `k` (passages to retrieve) is an extension, sent
with the SDK as `extra_body={"k": 8}`. Access groups never come from the request body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ragkit.errors import UsageError
from ragkit.types import Answer

M = TypeVar("M", bound=BaseModel)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_call_id, ... are accepted

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text; content parts of type "text" are joined with newlines."""
        if isinstance(self.content, list):
            return "\n".join(
                str(part.get("text", "")) for part in self.content if part.get("type") == "text"
            )
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # sampling parameters: accepted, ignored

    model: str = "ragkit"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int = 1
    k: int | None = None
    tools: list[Any] | None = None
    response_format: dict[str, Any] | None = None

    def question(self) -> str:
        """The last user message; 400 when there is none, or for options ragkit cannot honour."""
        if self.n != 1:
            raise UsageError(f"n={self.n} is not supported: ragkit returns one answer (n=1)")
        if self.tools:
            raise UsageError("tools are not supported: ragkit answers from documents only")
        if self.response_format and self.response_format.get("type", "text") != "text":
            raise UsageError(
                f"response_format type '{self.response_format.get('type')}' is not supported: "
                "ragkit answers in text"
            )
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text()
        raise UsageError('messages hold no "user" message: the last user message is the question')

    def earlier_questions(self) -> list[str]:
        """The user messages before the last one, oldest first (the conversation's topics)."""
        users = [message.text() for message in self.messages if message.role == "user"]
        return users[:-1]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo ("qestion", "groups") is an error

    question: str
    k: int | None = None
    stream: bool = False
    # The conversation's earlier questions, oldest first, as asked: a follow-up ("And in the
    # UK office?") is made standalone from them (ragkit.followup) before it is searched.
    history: list[str] = Field(default_factory=list, max_length=50)


def parse_request(model: type[M], data: dict[str, Any]) -> M:
    """Validate a JSON body; the first problem becomes a UsageError naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise UsageError(f"bad request field '{where}': {error['msg']}") from None


def citations_json(answer: Answer) -> list[dict[str, Any]]:
    return answer.to_json()["citations"]


def ask_json(answer: Answer) -> dict[str, Any]:
    """`/v1/ask`'s body: `Answer.to_json()` (each citation carries its passage number `n`),
    plus `quoted`: the answer is the documents' own words, which the web page shows as a quote."""
    return {**answer.to_json(), "quoted": answer.quoted}


def sources_text(answer: Answer) -> str:
    """The readable "Sources:" list appended to chat content; empty when nothing is cited."""
    if answer.abstained or not answer.citations:
        return ""
    lines = []
    for number, citation in answer.numbered_citations():
        page = f", {citation.pages}" if citation.pages else ""
        also = "".join(f"; also {', '.join(filter(None, place))}" for place in citation.also)
        lines.append(f"[{number}] {citation.source}{page}{also} — “{citation.quote}”")
    return "\n\nSources:\n" + "\n".join(lines)


def completion(answer: Answer, *, model: str, completion_id: str, created: int) -> dict[str, Any]:
    """A `chat.completion` object, with the extra `citations` field."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text + sources_text(answer)},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "citations": citations_json(answer),
    }


def chunk(
    delta: dict[str, Any],
    *,
    model: str,
    completion_id: str,
    created: int,
    finish_reason: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A `chat.completion.chunk`; `extra` adds top-level fields (the last chunk's citations)."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        **extra,
    }


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class ApiError(Exception):
    """An HTTP-level refusal (401, 413, 503) with its OpenAI error type and code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.code, self.headers = status, type_, code, dict(headers or {})


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object; UsageError (400) says what is wrong with it."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        raise UsageError("the request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"the request body is not valid JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}): send a JSON object"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"the request body is JSON {type(data).__name__}; send a JSON object")
    return data


def sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


SSE_DONE = b"data: [DONE]\n\n"
