"""Server-sent events whose generation slot is freed however the response ends.

A streamed answer holds one `SlotGate` slot from retrieval to its last token, and the
`Assistant.stream` iterator must advance in worker threads (generation is synchronous), not
on the event loop. `Generation` does both; `EventStream` gives the slot back when the
response is done, fails, or the client hangs up mid-stream, so a dropped connection never
leaks capacity. `event_stream` runs retrieval before any header is sent, so bad input still
gets a plain error response; after that, an error can only be the stream's last event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress
from typing import Any

import anyio
import anyio.to_thread
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ragkit.serve.limits import SlotGate

_END = object()


class Generation:
    """An `Assistant.stream` iterator advanced in worker threads while holding one slot."""

    def __init__(self, iterator: Iterator[Any], gate: SlotGate) -> None:
        self._iterator, self._gate, self._open = iterator, gate, True

    @classmethod
    async def start(cls, gate: SlotGate, make: Callable[[], Iterator[Any]]) -> Generation:
        """Take a slot and run retrieval (the first item), so bad input fails before headers."""
        await gate.acquire()
        try:
            iterator = make()
            await anyio.to_thread.run_sync(next, iterator)  # the hits: not sent to clients
        except BaseException:
            gate.release()
            raise
        return cls(iterator, gate)

    async def __aiter__(self) -> AsyncIterator[Any]:
        while (item := await anyio.to_thread.run_sync(next, self._iterator, _END)) is not _END:
            yield item

    def close(self) -> None:
        if self._open:
            self._open = False
            with suppress(AttributeError, ValueError):  # not a generator; already running
                self._iterator.close()  # type: ignore[attr-defined]
            self._gate.release()


class EventStream(StreamingResponse):
    """SSE that frees its generation slot however the response ends (done, error, hang-up)."""

    def __init__(self, content: AsyncIterator[bytes], generation: Generation) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._generation = generation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._generation.close()


async def event_stream(
    gate: SlotGate,
    make: Callable[[], Iterator[Any]],
    render: Callable[[Any], list[bytes]],
    *,
    first: list[bytes],
    last: list[bytes],
    error: Callable[[Exception], bytes],
) -> EventStream:
    """Start `make()` holding a slot; stream `first`, `render(item)` per item, then `last`.

    `error` renders the event that ends the stream when it fails after the headers are sent.
    """
    generation = await Generation.start(gate, make)

    async def body() -> AsyncIterator[bytes]:
        try:
            for event in first:
                yield event
            async for item in generation:
                for event in render(item):
                    yield event
            for event in last:
                yield event
        except Exception as exc:  # headers are sent: the error becomes the last event
            yield error(exc)

    return EventStream(body(), generation)
