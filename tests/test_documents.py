"""GET /v1/documents/{source}: the cited original, under the same access rules as answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import IngestOptions, ingest
from ragkit.assistant import Assistant
from ragkit.serve import create_app

STAFF = "staff-key-doc-0a1b2c3d4e5f"
MANAGER = "manager-key-doc-55aa66bb77cc"
KEYS = {STAFF: frozenset(), MANAGER: frozenset({"managers"})}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Path]:
    root = tmp_path_factory.mktemp("documents")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text(
        "---\ntitle: Leave\n---\n# Annual leave\n\nEmployees get **25 days** a year.\n"
        "<script>alert(1)</script>\n",
        encoding="utf-8",
    )
    (corpus / "salary.md").write_text(
        "---\naccess: [managers]\n---\n# Salary bands\n\nBand L4 pays 70,000 EUR.\n",
        encoding="utf-8",
    )
    (corpus / "page.html").write_text(
        "<html><body><main><h1>Parking</h1><p>Parking is free on site.</p></main>"
        "<script>document.title='pwned'</script></body></html>",
        encoding="utf-8",
    )
    (corpus / "notes.txt").write_text("NOTES\n\nThe canteen opens at 08:00.\n", encoding="utf-8")
    index = root / "index"
    assert ingest([corpus], index, IngestOptions(model="hash:256", progress=False)).ok
    app = create_app(Assistant.from_index(index), index, keys=KEYS)
    return TestClient(app), corpus


def test_a_readable_markdown_document_comes_rendered_and_sandboxed(served):
    client, _ = served
    response = client.get("/v1/documents/leave.md", headers=auth(STAFF))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<strong>25 days</strong>" in response.text
    assert "<script>" not in response.text  # raw HTML is off: the tag is text
    assert "title: Leave" not in response.text  # front matter is metadata
    csp = response.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "default-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_html_is_served_sandboxed_and_text_as_the_indexed_text(served):
    client, _ = served
    page = client.get("/v1/documents/page.html", headers=auth(STAFF))
    assert page.status_code == 200 and "Parking is free" in page.text
    assert page.headers["content-security-policy"].startswith("sandbox")  # its script never runs
    notes = client.get("/v1/documents/notes.txt", headers=auth(STAFF))
    assert notes.headers["content-type"].startswith("text/plain")
    assert "The canteen opens at 08:00." in notes.text


def test_a_key_without_the_group_gets_the_same_404_as_for_nothing(served):
    client, _ = served
    hidden = client.get("/v1/documents/salary.md", headers=auth(STAFF))
    missing = client.get("/v1/documents/no-such.md", headers=auth(STAFF))
    assert hidden.status_code == missing.status_code == 404  # not 403: existence does not leak
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    assert "70,000" not in hidden.text
    allowed = client.get("/v1/documents/salary.md", headers=auth(MANAGER))
    assert allowed.status_code == 200 and "70,000 EUR" in allowed.text


def test_documents_need_a_key_and_paths_cannot_escape(served):
    client, _ = served
    assert client.get("/v1/documents/leave.md").status_code == 401
    for sneaky in ("../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"):
        assert client.get(f"/v1/documents/{sneaky}", headers=auth(MANAGER)).status_code == 404


def test_a_file_changed_since_indexing_is_not_served(served, tmp_path):
    client, corpus = served
    path = corpus / "notes.txt"
    original = path.read_bytes()
    try:  # text comes from the index, so it stays what was indexed...
        path.write_text("NOTES\n\nSecret new text.\n", encoding="utf-8")
        assert "Secret" not in client.get("/v1/documents/notes.txt", headers=auth(STAFF)).text
        # ...and an original whose bytes changed is not served until ingested again
        md = corpus / "leave.md"
        kept = md.read_bytes()
        md.write_text("# Annual leave\n\nNow restricted text.\n", encoding="utf-8")
        assert client.get("/v1/documents/leave.md", headers=auth(STAFF)).status_code == 404
        md.write_bytes(kept)
    finally:
        path.write_bytes(original)


def test_a_document_is_read_from_the_live_generation_not_the_whole_index(served, monkeypatch):
    """The server answers from the snapshot it holds: no index load and no whole-store read
    per request (at a million chunks either costs seconds)."""
    import ragkit.serve.documents as documents
    from ragkit.index.snapshot import IndexSnapshot

    def refuse(*_args, **_kwargs):
        raise AssertionError("a document request read the index again")

    monkeypatch.setattr(documents, "load_index", refuse)
    monkeypatch.setattr(IndexSnapshot, "live_chunks", refuse)
    client, _ = served
    notes = client.get("/v1/documents/notes.txt", headers=auth(STAFF))
    assert notes.status_code == 200 and "The canteen opens at 08:00." in notes.text
    assert client.get("/v1/documents/salary.md", headers=auth(STAFF)).status_code == 404
