"""HTTP hardening (issue 13, item 7): Host names on loopback, JSON bodies, slow and idle peers,
and access groups and keys validated wherever they enter (Python, HTTP, CLI, keys files)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ragkit.assistant import Assistant
from ragkit.chain import load_chain
from ragkit.cli import main
from ragkit.errors import ConfigError, UsageError
from ragkit.serve import KeyRing, ServeLimits, create_app, load_keys, running_server
from ragkit.serve.guards import is_loopback_host

FAST = ServeLimits(header_timeout=0.5, body_timeout=0.5, idle_timeout=1)


@pytest.fixture(scope="module")
def assistant(tiny_index: Path) -> Assistant:
    return Assistant.from_index(tiny_index)


@pytest.fixture(scope="module")
def url(assistant: Assistant, tiny_index: Path):
    app = create_app(assistant, tiny_index, no_auth=True, limits=FAST)
    with running_server(app, limits=FAST) as base:
        yield base


# --- Host header (DNS rebinding) -------------------------------------------------------------


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "10.0.0.5", "x"])
def test_a_loopback_server_refuses_foreign_host_names(url: str, host: str) -> None:
    for method, path in (("GET", "/v1/sources"), ("POST", "/v1/ask"), ("GET", "/")):
        response = httpx.request(
            method, url + path, headers={"Host": host}, json={"question": "leave?"}
        )
        assert response.status_code == 421, (method, path)
        assert "loopback" in response.json()["error"]["message"]


@pytest.mark.parametrize("host", ["localhost", "localhost:{port}", "127.0.0.1:{port}", "[::1]"])
def test_a_loopback_server_answers_loopback_names(url: str, host: str) -> None:
    port = url.rsplit(":", 1)[1]
    response = httpx.get(url + "/v1/sources", headers={"Host": host.format(port=port)})
    assert response.status_code == 200


def test_loopback_names() -> None:
    for host in (
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "[::1]",
        "localhost",
        "LOCALHOST.",
        "a.localhost",
    ):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "10.0.0.1", "example.com", "localhost.example.com", "::", ""):
        assert not is_loopback_host(host), host


# --- JSON bodies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_request_bodies_must_be_declared_json(url: str, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/v1/ask", "/v1/chat/completions"):
        body = b'{"question": "leave?", "messages": [{"role": "user", "content": "leave?"}]}'
        response = httpx.post(url + path, content=body, headers=headers)
        assert response.status_code == 415, (path, response.text)
        assert "Content-Type: application/json" in response.json()["error"]["message"]


def test_json_with_a_charset_is_accepted(url: str) -> None:
    response = httpx.post(
        url + "/v1/ask",
        content=b'{"question": "How many days of annual leave?"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200 and "25 days" in response.json()["answer"]


# --- slow and idle connections -------------------------------------------------------------


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """(whether the server closed the connection within `seconds`, what it sent)."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return False, received
    return True, received


def test_an_idle_new_connection_is_closed(url: str) -> None:
    with _connect(url) as sock:
        closed, _ = _closed_within(sock, 3.0)
    assert closed


def test_a_slow_request_head_is_closed(url: str) -> None:
    with _connect(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 3.0:  # a header line every 0.1 s, never the end
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                closed = True
                break
            time.sleep(0.1)
        if not closed:
            closed, _ = _closed_within(sock, 0.5)
    assert closed


def test_a_keep_alive_connection_left_idle_is_closed(url: str) -> None:
    with _connect(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        closed, received = _closed_within(sock, 3.0)
    assert received.startswith(b"HTTP/1.1 200") and closed


def test_a_slow_body_gets_408(url: str) -> None:
    with _connect(url) as sock:
        sock.sendall(
            b"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200\r\n\r\n"
            b'{"question": '
        )
        closed, received = _closed_within(sock, 3.0)
    assert received.startswith(b"HTTP/1.1 408"), received[:200]


def test_timeouts_must_be_positive() -> None:
    for field in ("header_timeout", "body_timeout", "idle_timeout"):
        with pytest.raises(ConfigError, match=field):
            ServeLimits(**{field: 0})


# --- access groups and keys, wherever they enter ------------------------------------------


def test_groups_given_as_one_string_are_group_names_not_letters(tiny_index: Path) -> None:
    managers = Assistant.from_index(tiny_index, groups="managers")
    assert managers.groups == frozenset({"managers"})
    assert "salary.md" in {h.chunk.source for h in managers.retrieve("salary bands L4", k=10)}
    both = Assistant.from_index(tiny_index, groups="hr, managers")
    assert both.groups == frozenset({"hr", "managers"})
    letters = Assistant.from_index(tiny_index)
    hits = letters.retrieve("salary bands L4", k=10, groups="managers")
    assert "salary.md" in {h.chunk.source for h in hits}


@pytest.mark.parametrize("bad", [None, 5, 2.5, {"managers": True}, b"managers", ["ok", 3], ["a b"]])
def test_bad_groups_are_a_clear_error_in_python(tiny_index: Path, assistant, bad) -> None:
    with pytest.raises(UsageError, match="group"):
        Assistant.from_index(tiny_index, groups=bad)
    if bad is not None:  # Assistant.ask(groups=None) means "the assistant's own groups"
        with pytest.raises(UsageError, match="group"):
            assistant.ask("leave?", groups=bad)
    with pytest.raises(UsageError, match="group"):
        assistant.retriever.retrieve("leave?", groups=bad)
    with pytest.raises(UsageError, match="group"):
        load_chain(tiny_index, groups=bad)
    with pytest.raises(UsageError, match="group"):
        create_app(assistant, tiny_index, no_auth=True, anonymous_groups=bad)
    with pytest.raises(ConfigError, match="group"):
        KeyRing.from_mapping({"k" * 20: bad})


def test_chain_input_groups_are_checked(tiny_index: Path) -> None:
    chain = load_chain(tiny_index)
    answer = chain.invoke({"question": "What does band L4 pay?", "groups": "managers"})
    assert "68,000" in answer["answer"]
    for bad in (None, 7, [None]):
        with pytest.raises(UsageError, match="group"):
            chain.invoke({"question": "leave?", "groups": bad})
    for bad in ("5", 2.5, None, True):
        with pytest.raises(UsageError, match="k must be a whole number"):
            chain.invoke({"question": "leave?", "k": bad})


@pytest.mark.parametrize("value", ["a b", "a;b", "ok,x.y"])
def test_bad_groups_on_the_command_line(capsys, tiny_index: Path, value: str) -> None:
    code = main(["ask", "leave?", "--index", str(tiny_index), "--groups", value])
    err = capsys.readouterr().err
    assert code == 2 and "bad group name" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "keys:\n  - name: app\n    key: aaaaaaaaaaaaaaaaaaaa\n    groups: []\n"
            "    groups: [managers]\n",
            "line 5",
        ),
        (
            '{"keys": [{"name": "app", "key": "aaaaaaaaaaaaaaaaaaaa", "groups": [], '
            '"groups": ["managers"]}]}',
            "give each field once",
        ),
        ("keys: []\nkeys:\n  - {name: a, key: aaaaaaaaaaaaaaaaaaaa}\n", "line 2"),
    ],
)
def test_a_key_given_twice_in_a_keys_file_is_an_error(tmp_path: Path, text: str, where: str):
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="duplicate key 'groups'|duplicate key 'keys'") as caught:
        load_keys(path)
    assert where in str(caught.value) and "aaaa" not in str(caught.value)


def test_bad_groups_in_a_keys_file_name_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n  - name: app\n    key: aaaaaaaaaaaaaaaaaaaa\n    groups: null\n")
    with pytest.raises(ConfigError, match=r"keys entry 1 \(app\).*not None"):
        load_keys(path)


def test_in_process_apps_keep_working_without_a_host_guard(assistant, tiny_index: Path) -> None:
    # TestClient sends Host: testserver; the guard belongs to the loopback server, not the app.
    client = TestClient(create_app(assistant, tiny_index, no_auth=True))
    assert client.get("/v1/sources").status_code == 200
