"""`ragkit serve --index DIR`: the OpenAI-compatible HTTP API and the web page."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

from ragkit.cli.common import (
    add_assistant_options,
    build_assistant,
    index_dir,
    parse_groups,
    print_json,
)
from ragkit.errors import MissingDependencyError, UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve an OpenAI-compatible API and a web page over the index",
        description="Serve POST /v1/chat/completions (OpenAI-compatible), POST /v1/ask, "
        "GET /v1/sources, GET /healthz and a web page at /. Every API request needs a key "
        "from --keys (it decides which access groups the request may read), unless the "
        "server runs with --no-auth.",
    )
    add_assistant_options(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--keys",
        type=Path,
        default=os.environ.get("RAGKIT_KEYS"),
        help="API keys file, JSON or YAML: {keys: [{name, key, groups}]} (default: $RAGKIT_KEYS)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="accept requests without a key (local use); they read public documents, plus --groups",
    )
    parser.add_argument(
        "--max-concurrent", type=int, default=4, help="answers generated at once (default 4)"
    )
    parser.add_argument(
        "--max-waiting", type=int, default=64, help="requests queued for a slot; more get 503"
    )
    parser.add_argument(
        "--queue-timeout", type=float, default=30.0, help="seconds a queued request waits (30)"
    )
    parser.add_argument(
        "--max-question-chars", type=int, default=4000, help="longest question (default 4000)"
    )
    parser.add_argument(
        "--max-body-kb", type=int, default=64, help="largest request body in KiB (default 64)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="server log detail",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ragkit.serve import ServeLimits, create_app, load_keys
        from ragkit.serve.app import server_config
        from ragkit.serve.guards import is_loopback_host
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "fastapi", "ragkit serve") from exc
    if args.groups and not args.no_auth:
        raise UsageError("--groups applies to requests without a key: use it with --no-auth")
    if args.keys is None and not args.no_auth:
        raise UsageError("no API keys: pass --keys FILE (or set RAGKIT_KEYS), or --no-auth")
    keys = load_keys(args.keys) if args.keys else None
    limits = ServeLimits(
        max_body_bytes=args.max_body_kb * 1024,
        max_question_chars=args.max_question_chars,
        max_concurrent=args.max_concurrent,
        max_waiting=args.max_waiting,
        queue_timeout=args.queue_timeout,
    )
    sock = bind(args.host, args.port)  # before loading models: a busy port fails fast
    assistant = build_assistant(args)
    assistant.warm_up()
    app = create_app(
        assistant,
        index_dir(args),
        keys=keys,
        no_auth=args.no_auth,
        anonymous_groups=frozenset(parse_groups(args.groups)),
        limits=limits,
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{args.port}/"
    if args.json:
        print_json(
            {
                "url": url,
                "index": str(index_dir(args)),
                "keys": len(keys or ()),
                "no_auth": args.no_auth,
            }
        )
    else:
        auth = f"{len(keys)} API key(s) from {args.keys}" if keys else "no keys"
        if args.no_auth:
            auth += ", requests without a key accepted (--no-auth)"
        print(f"ragkit: serving {index_dir(args)} at {url} ({auth})", file=sys.stderr)
    if args.no_auth and not is_loopback_host(args.host):
        print(
            f"ragkit: warning: --no-auth on {args.host} serves anyone who can reach it",
            file=sys.stderr,
        )
    config = server_config(app, args.host, limits, port=args.port, log_level=args.log_level)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is printed: a busy port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} on {host} is already in use (another server?): stop it, or "
                f"pick a free port with --port {port + 1}"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class PortInUseError(UsageError):
    """The chosen port is taken; exit status 3 tells scripts to retry with another."""

    exit_code = 3
