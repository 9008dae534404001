"""What the server refuses before any route runs: foreign Host names, and slow or idle peers.

DNS rebinding: a web page on attacker.example can make its own name resolve to 127.0.0.1, and
the victim's browser then sends it requests to a server on loopback, with `Host:
attacker.example`. A server bound to a loopback address is therefore wrapped in
`LoopbackHostGuard`, which answers 421 to any request whose Host is not a loopback name
(localhost, *.localhost, 127.0.0.0/8, ::1). Starlette's TrustedHostMiddleware does the same
check but answers a bare "Invalid host header" (400); this one says what to do, in the API's
error shape.

Slow peers: uvicorn closes a keep-alive connection after `timeout_keep_alive` seconds of
silence, but nothing closes a connection that never finishes sending its request line and
headers (slowloris), nor one opened and left idle. `guarded_h11(seconds)` is uvicorn's h11
protocol with that deadline added, armed when a connection opens and after each response;
a slow body is bounded by the app (`read_json`, `ServeLimits.body_timeout`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost",)


def is_loopback_host(host: str) -> bool:
    """True for a loopback address or name: 127.0.0.1, ::1, localhost, app.localhost."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The name of a Host header value: "[::1]:8000" -> "::1", "localhost:80" -> "localhost"."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class LoopbackHostGuard:
    """ASGI middleware: 421 for a request whose Host header is not a loopback name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if host and not is_loopback_host(_host_name(host)):
                await _refuse(send, host)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, host: str) -> None:
    message = (
        f"Host {host[:80]!r} is not a loopback name: this server listens on loopback and "
        "answers only requests for localhost, 127.0.0.1 or [::1] (DNS rebinding protection); "
        "to serve other names, bind --host to a network address and use --keys"
    )
    error = {"message": message, "type": "invalid_request_error", "param": None}
    body = json.dumps({"error": {**error, "code": "misdirected_host"}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 421, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def guard_host(app: Any, bind_host: str) -> Any:
    """`app` behind `LoopbackHostGuard` when `bind_host` is a loopback address, else `app`."""
    return LoopbackHostGuard(app) if is_loopback_host(bind_host) else app


def guarded_h11(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head is not in after
    `header_timeout` seconds (from connect, or from the end of the previous response)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_deadline()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm_head_deadline()  # a request is in: the app bounds its body

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm_head_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_deadline()
            super().connection_lost(exc)

        def _arm_head_deadline(self) -> None:
            self._disarm_head_deadline()
            if not self.transport.is_closing():
                self._head_deadline = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm_head_deadline(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _too_slow(self) -> None:
            self._head_deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


def uvicorn_options(header_timeout: float, idle_timeout: int) -> dict[str, Any]:
    """The uvicorn settings every ragkit server runs with (see the module docstring)."""
    return {"http": guarded_h11(header_timeout), "timeout_keep_alive": idle_timeout}
