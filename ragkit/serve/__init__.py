"""Serving the assistant over HTTP: an OpenAI-compatible API, per-key access groups, a web page.

`create_app(assistant, index_dir, keys=..., limits=...)` builds the FastAPI app (see app.py
for the endpoints); `load_keys(path)` reads a keys file (see auth.py); `running_server(app)`
runs it in a background thread for tests and benchmarks. `ragkit serve` is the command.
Importing this package imports FastAPI; `ragkit` itself never imports it.
"""

from ragkit.serve.app import create_app, running_server
from ragkit.serve.auth import Caller, KeyRing, load_keys, parse_keys
from ragkit.serve.limits import ServeLimits

__all__ = [
    "Caller",
    "KeyRing",
    "ServeLimits",
    "create_app",
    "load_keys",
    "parse_keys",
    "running_server",
]
