"""The HTTP server: an OpenAI-compatible API over an `Assistant`, per-key access groups, a web page.

    GET  /                     the web page (assets under /static, nothing from a CDN)
    GET  /healthz              liveness; says whether a key is required; no key needed
    GET  /v1/models            the one model name, for clients that list models first
    GET  /v1/sources           the documents the caller's groups may read
    GET  /v1/documents/{src}   a cited document's original, if the caller's groups may read it
    POST /v1/ask               {"question", "k"?, "stream"?} -> the structured Answer (or SSE)
    POST /v1/chat/completions  OpenAI chat completions, streaming and not (see openai_compat)

Access: every /v1 request needs a key (`Authorization: Bearer KEY` or `X-API-Key: KEY`) that
maps to access groups; the groups go to the retriever, which never returns a passage they
cannot read, so nothing downstream (generator, citations, errors) can see it either.

Limits: request bodies over `max_body_bytes` get 413; questions, `k` and JSON are checked
(400); at most `max_concurrent` generations run at once, and beyond a bounded queue the
answer is 503 with Retry-After (see limits.py). Streams hold their slot until they end
(see streaming.py).

Errors, in OpenAI's shape {"error": {"message", "type", "param", "code"}}, come from one
function, `error_payload`; mid-stream errors become a final `data: {"error": ...}` event.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ragkit import __version__
from ragkit.access import check_groups
from ragkit.assistant import check_question
from ragkit.errors import ConfigError, RagkitError, UsageError
from ragkit.followup import standalone
from ragkit.serve.auth import Authenticator, Caller, KeyRing
from ragkit.serve.documents import DOCUMENT_HEADERS, DocumentNotFound, document_body
from ragkit.serve.guards import guard_host, uvicorn_options
from ragkit.serve.limits import ServeLimits, SlotGate, read_json
from ragkit.serve.openai_compat import (
    SSE_DONE,
    ApiError,
    AskRequest,
    ChatCompletionRequest,
    ask_json,
    chunk,
    citations_json,
    completion,
    error_body,
    parse_request,
    sources_text,
    sse,
)
from ragkit.serve.streaming import event_stream
from ragkit.sources import list_sources, sources_in
from ragkit.types import Answer

WEB_DIR = Path(__file__).parent / "web"
MODEL_NAME = "ragkit"
log = logging.getLogger("ragkit.serve")

_PAGE_HEADERS = {
    # Everything from this origin: no CDN, no inline script, no framing.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def error_payload(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    """THE mapping from exceptions to (status, OpenAI error body, headers)."""
    if isinstance(exc, ApiError):
        return exc.status, error_body(str(exc), exc.type, exc.code), exc.headers
    if isinstance(exc, UsageError):
        return 400, error_body(str(exc), "invalid_request_error", "bad_request"), {}
    if isinstance(exc, RagkitError):  # index, model or configuration trouble on the server
        return 500, error_body(str(exc), "server_error", type(exc).__name__), {}
    if isinstance(exc, HTTPException):  # routing: 404, 405
        code = "not_found" if exc.status_code == 404 else "bad_request"
        message = str(exc.detail)
        if exc.status_code == 404:
            message += ": the API is /v1/chat/completions, /v1/ask, /v1/sources and /healthz"
        return exc.status_code, error_body(message, "invalid_request_error", code), {}
    if isinstance(exc, RequestValidationError):  # FastAPI's own parameter checks
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]]
        message = "bad request parameters: " + "; ".join(problems)
        return 400, error_body(message, "invalid_request_error", "bad_request"), {}
    # Unknown failures: the message could quote anything, so the client gets none of it.
    log.error("internal error", exc_info=exc)
    return 500, error_body("internal server error: see the server log", "server_error", None), {}


async def _error_response(_: Request, exc: Exception) -> JSONResponse:
    status, body, headers = error_payload(exc)
    return JSONResponse(body, status_code=status, headers=headers)


async def _caller(request: Request) -> Caller:
    return request.app.state.auth.caller(request.headers)


Who = Annotated[Caller, Depends(_caller)]


def create_app(
    assistant: Any,
    index_dir: Path | str,
    *,
    keys: KeyRing | Mapping[str, frozenset[str]] | None = None,
    no_auth: bool = False,
    anonymous_groups: frozenset[str] = frozenset(),
    limits: ServeLimits = ServeLimits(),  # noqa: B008 (frozen: safe to share)
) -> FastAPI:
    """The app. `keys` maps API keys to access groups (a KeyRing or a {key: groups} dict).

    Without keys the app refuses to start unless `no_auth` is set; then requests without a
    key get `anonymous_groups` (default: public documents only). With both, a request that
    presents an unknown key still gets 401, while one without a key is anonymous.
    """
    keyring = KeyRing.from_mapping(keys) if isinstance(keys, Mapping) else keys
    if keyring is None and not no_auth:
        raise ConfigError("no API keys: pass --keys FILE, or --no-auth to serve without keys")
    index_dir = Path(index_dir)
    gate = SlotGate(limits)
    auth = Authenticator(keyring, no_auth, check_groups(anonymous_groups, what="anonymous_groups"))
    app = FastAPI(title="ragkit", version=__version__, docs_url=None, redoc_url=None)
    for exc_class in (ApiError, RagkitError, HTTPException, RequestValidationError, Exception):
        app.add_exception_handler(exc_class, _error_response)
    app.state.auth = auth
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    def standalone_within_limits(question: str, earlier: list[str]) -> str:
        """The follow-up made standalone; a rewrite past this server's question limit is
        dropped and the question is answered as asked."""
        rewritten = standalone(question, earlier)
        return rewritten if len(rewritten) <= limits.max_question_chars else question

    def checked(question: Any, k: int | None) -> tuple[str, int | None]:
        text = check_question(question)
        if len(text) > limits.max_question_chars:
            raise UsageError(
                f"the question is {len(text):,} characters; this server's limit is "
                f"{limits.max_question_chars:,}: ask a shorter question"
            )
        if k is not None and not 1 <= k <= limits.max_k:
            raise UsageError(f"k={k} is out of range: use 1 to {limits.max_k}")
        return text, k

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers=_PAGE_HEADERS)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "auth": not auth.no_auth}

    @app.get("/v1/models")
    async def models(who: Who) -> dict[str, Any]:
        model = {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "ragkit"}
        return {"object": "list", "data": [model]}

    @app.get("/v1/sources")
    async def sources(who: Who) -> dict[str, Any]:
        def listing() -> list[Any]:
            # The generation the assistant answers from, when it follows the live index.
            snapshot = getattr(getattr(assistant, "retriever", None), "snapshot", None)
            if callable(snapshot):
                live = snapshot()  # its per-file records load on first use
                return sources_in({"files": live.files}, who.groups)
            return list_sources(index_dir, who.groups)

        rows = await anyio.to_thread.run_sync(listing)
        return {"object": "list", "data": [row.to_json() for row in rows]}

    def read_document(source: str, groups: frozenset[str]) -> Any:
        # From the generation the assistant answers from, when it follows the live index:
        # no index files are opened per request.
        snapshot = getattr(getattr(assistant, "retriever", None), "snapshot", None)
        live = snapshot() if callable(snapshot) else None
        return document_body(index_dir, source, groups, live)

    @app.get("/v1/documents/{source:path}", response_model=None)
    async def document(source: str, who: Who) -> Response:
        try:
            body = await anyio.to_thread.run_sync(read_document, source, who.groups)
        except DocumentNotFound:
            # One answer for unknown, restricted, gone and changed: existence does not leak.
            raise ApiError(
                404, f"no document '{source}' that you can read", code="not_found"
            ) from None
        return Response(body.content, media_type=body.media_type, headers=DOCUMENT_HEADERS)

    @app.post("/v1/ask", response_model=None)
    async def ask(request: Request, who: Who) -> Any:
        req = parse_request(AskRequest, await read_json(request, limits))
        question, k = checked(req.question, req.k)
        extra: dict[str, Any] = {}
        if req.history:
            earlier = [checked(q, None)[0] for q in req.history]
            question = standalone_within_limits(question, earlier)
            extra["standalone_question"] = question
        if not req.stream:
            answer = await gate.run(lambda: assistant.ask(question, k=k, groups=who.groups))
            return {**ask_json(answer), **extra}

        def render(item: Any) -> list[bytes]:
            if isinstance(item, Answer):
                return [sse({"type": "answer", **ask_json(item), **extra})]
            return [sse({"type": "delta", "text": item})] if isinstance(item, str) else []

        return await event_stream(
            gate,
            lambda: assistant.stream(question, k=k, groups=who.groups),
            render,
            first=[],
            last=[],
            error=lambda exc: sse({"type": "error", **error_payload(exc)[1]}),
        )

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request, who: Who) -> Any:
        req = parse_request(ChatCompletionRequest, await read_json(request, limits))
        question, k = checked(req.question(), req.k)
        extra: dict[str, Any] = {}
        if earlier := req.earlier_questions():
            question = standalone_within_limits(question, earlier)
            extra["standalone_question"] = question
        ids = {
            "model": req.model,
            "completion_id": f"chatcmpl-{secrets.token_hex(12)}",
            "created": int(time.time()),
        }
        if not req.stream:
            answer = await gate.run(lambda: assistant.ask(question, k=k, groups=who.groups))
            return {**completion(answer, **ids), **extra}

        def render(item: Any) -> list[bytes]:
            if isinstance(item, str):
                return [sse(chunk({"content": item}, **ids))]
            if not isinstance(item, Answer):
                return []
            tail = sources_text(item)
            events = [sse(chunk({"content": tail}, **ids))] if tail else []
            citations = citations_json(item)
            end = chunk({}, finish_reason="stop", citations=citations, **extra, **ids)
            return [*events, sse(end)]

        return await event_stream(
            gate,
            lambda: assistant.stream(question, k=k, groups=who.groups),
            render,
            first=[sse(chunk({"role": "assistant", "content": ""}, **ids))],
            last=[SSE_DONE],
            error=lambda exc: sse(error_payload(exc)[1]),
        )

    return app


def server_config(
    app: Any,
    host: str,
    limits: ServeLimits = ServeLimits(),  # noqa: B008 (frozen: safe to share)
    **config: Any,
) -> Any:
    """The uvicorn.Config ragkit serves with: the Host guard on a loopback bind, timeouts.

    `ragkit serve` and `running_server` both use it; an app embedding `create_app` in its own
    server should too (see guards.py for what it adds).
    """
    import uvicorn

    options = {
        "log_level": "warning",
        **uvicorn_options(limits.header_timeout, limits.idle_timeout),
        **config,
    }
    return uvicorn.Config(guard_host(app, host), host=host, **options)


@contextmanager
def running_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    limits: ServeLimits = ServeLimits(),  # noqa: B008 (frozen: safe to share)
    **config: Any,
) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yields the base URL; stops on exit.

    Port 0 picks a free port. For tests, benchmarks and embedding in other programs. Runs
    with `server_config`: on a loopback `host`, requests for other Host names get 421.
    """
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = {"timeout_graceful_shutdown": 2, **config}
    server = uvicorn.Server(server_config(app, host, limits, **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"the test server on {host} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
