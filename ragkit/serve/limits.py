"""What the server refuses, and when: request size, question size, and concurrency.

Generation is synchronous and CPU-bound, so it runs in worker threads, at most
`max_concurrent` at once (`SlotGate`); up to `max_waiting` more requests wait up to
`queue_timeout` seconds for a slot; beyond that the answer is **503 with Retry-After**: the
server is at capacity, whereas 429 would blame the client's own request rate (and the OpenAI
SDK retries 503 itself). Request bodies over `max_body_bytes` get 413 before they are read
in full (`read_json`). Kept out of the routes so the limits, and their messages, live in one
place and the app module is only the endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from fastapi import Request

from ragkit.assistant import MAX_QUESTION_CHARS
from ragkit.errors import ConfigError
from ragkit.serve.openai_compat import ApiError, parse_json_object


@dataclass(frozen=True)
class ServeLimits:
    max_body_bytes: int = 64 * 1024  # a question plus chat history; larger bodies get 413
    max_question_chars: int = MAX_QUESTION_CHARS
    max_k: int = 20  # passages per question a client may ask for
    max_concurrent: int = 4  # generations running at once (worker threads)
    max_waiting: int = 64  # requests queued for a generation slot; more get 503 at once
    queue_timeout: float = 30.0  # seconds a queued request waits before 503
    retry_after: int = 1  # seconds, in the Retry-After header of a 503
    header_timeout: float = 10.0  # seconds for a request line and headers to arrive (guards.py)
    body_timeout: float = 15.0  # seconds for a request body to arrive in full, else 408
    idle_timeout: int = 5  # seconds a keep-alive connection may sit idle between requests

    def __post_init__(self) -> None:
        checks = {
            "max_body_bytes": self.max_body_bytes >= 1024,
            "max_question_chars": 1 <= self.max_question_chars <= MAX_QUESTION_CHARS,
            "max_k": self.max_k >= 1,
            "max_concurrent": self.max_concurrent >= 1,
            "max_waiting": self.max_waiting >= 0,
            "queue_timeout": self.queue_timeout >= 0,
            "retry_after": self.retry_after >= 0,
            "header_timeout": self.header_timeout > 0,
            "body_timeout": self.body_timeout > 0,
            "idle_timeout": self.idle_timeout >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"serve limit {name}={getattr(self, name)} is out of range "
                    f"(max_body_bytes >= 1024, 1 <= max_question_chars <= {MAX_QUESTION_CHARS}, "
                    "max_k, max_concurrent and idle_timeout >= 1, header_timeout and "
                    "body_timeout > 0, the others >= 0)"
                )


class SlotGate:
    """At most `max_concurrent` generations; a bounded, time-limited queue; else 503."""

    def __init__(self, limits: ServeLimits) -> None:
        self.limits = limits
        self.waiting = 0
        self._slots: anyio.Semaphore | None = None

    def _overloaded(self) -> ApiError:
        return ApiError(
            503,
            f"the server is busy ({self.limits.max_concurrent} answers in progress, "
            f"{self.waiting} waiting): retry after {self.limits.retry_after} s",
            type_="server_error",
            code="overloaded",
            headers={"Retry-After": str(self.limits.retry_after)},
        )

    async def acquire(self) -> None:
        if self._slots is None:  # created on the event loop that serves the requests
            self._slots = anyio.Semaphore(self.limits.max_concurrent)
        try:
            self._slots.acquire_nowait()
            return
        except anyio.WouldBlock:
            pass
        if self.waiting >= self.limits.max_waiting:
            raise self._overloaded()
        self.waiting += 1
        try:
            with anyio.fail_after(self.limits.queue_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise self._overloaded() from None
        finally:
            self.waiting -= 1

    def release(self) -> None:
        assert self._slots is not None
        self._slots.release()

    async def run(self, fn: Callable[[], Any]) -> Any:
        await self.acquire()
        try:
            return await anyio.to_thread.run_sync(fn)
        finally:
            self.release()


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json(request: Request, limits: ServeLimits) -> dict[str, Any]:
    """The body as a JSON object: 415 unless it is declared JSON, 413 when too large, 408 when
    it does not arrive within `body_timeout`, 400 when it does not parse.

    Requiring `Content-Type: application/json` keeps a web page on another origin from
    posting here without a CORS preflight (a "simple" request may only send text/plain or
    form types), which a preflight this server never approves then stops.
    """
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise ApiError(
            415,
            f"the request body must be JSON with 'Content-Type: application/json', not "
            f"{content_type[:60]!r}",
            code="unsupported_media_type",
        )
    too_large = ApiError(
        413,
        f"the request body is larger than {limits.max_body_bytes:,} bytes: send a shorter "
        "question or less chat history",
        code="request_too_large",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise too_large
    body = bytearray()
    try:
        with anyio.fail_after(limits.body_timeout):
            async for part in request.stream():
                body += part
                if len(body) > limits.max_body_bytes:
                    raise too_large
    except TimeoutError:
        raise ApiError(
            408,
            f"the request body did not arrive within {limits.body_timeout:g} s: send it at once",
            code="request_timeout",
        ) from None
    return parse_json_object(bytes(body))
