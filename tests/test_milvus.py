"""The Milvus store, against a real Milvus Lite engine started by the test (pymilvus[milvus-lite]).

Same contract as the local store: incremental sync by file, access groups inside the search,
one-line errors for a mismatched or unreachable store, nothing written on a mismatch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("milvus_lite", reason="Milvus Lite not installed: pip install 'ragkit[milvus]'")

from ingest.pipeline import IngestOptions, ingest  # noqa: E402
from ragkit.cli import main  # noqa: E402
from ragkit.errors import IndexStoreError  # noqa: E402
from ragkit.index.milvus_store import MilvusStore, _one_line  # noqa: E402
from ragkit.retrieval import open_retriever  # noqa: E402

pytestmark = pytest.mark.slow

POLICIES = {
    "annual.md": "# Annual leave\n\nEmployees receive 25 days of annual leave per year.\n",
    "sick.md": "# Sick leave\n\nSick pay lasts ten days; a doctor's note is needed.\n",
    "laptops.md": "# Equipment\n\nLaptops are replaced every four years by IT.\n",
    "salary.md": "---\ngroups: [managers]\n---\n# Salary bands\n\nSalary band 3 pays 60000.\n",
}


def write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def options(model: str = "hash:64") -> IngestOptions:
    return IngestOptions(model=model, progress=False)


@pytest.fixture()
def spec(tmp_path: Path) -> str:
    return f"milvus:{tmp_path / 'milvus.db'}"


def sources(spec: str, question: str, groups: frozenset[str] = frozenset()) -> list[str]:
    retriever = open_retriever(spec)
    hits = retriever.retrieve(question, k=4, groups=groups)
    retriever.snapshot.store.close()  # Milvus Lite: one process per database file
    return [h.chunk.source for h in hits]


def test_ingest_search_groups_and_incremental_sync(tmp_path, spec):
    corpus = write(tmp_path / "corpus", POLICIES)
    report = ingest([corpus], spec, options())
    assert report.written and report.count("added") == 4

    assert sources(spec, "How many days of annual leave per year?")[0] == "annual.md"
    assert "salary.md" not in sources(spec, "salary band pay")  # hidden without the group
    assert sources(spec, "salary band pay", frozenset({"managers"}))[0] == "salary.md"

    (corpus / "laptops.md").write_text("# Equipment\n\nPhones are replaced every two years.\n")
    (corpus / "sick.md").unlink()
    report = ingest([corpus], spec, options())
    counts = report.to_json()["counts"]
    assert (counts["updated"], counts["removed"], counts["unchanged"]) == (1, 1, 2)
    assert report.embedded == 1  # only the changed file went through the model
    found = sources(spec, "phones replaced laptops sick pay doctor")
    assert "sick.md" not in found and found[0] == "laptops.md"
    store = MilvusStore(spec)
    chunks = store.load().live_chunks()
    store.close()
    assert sorted(c.source for c in chunks) == ["annual.md", "laptops.md", "salary.md"]
    assert not any("Laptops are" in c.text for c in chunks)  # the old version is gone

    again = ingest([corpus], spec, options())
    assert not again.written  # nothing changed: nothing written


def test_a_changed_loader_re_extracts_its_files_in_milvus_too(tmp_path, spec, monkeypatch):
    """The loader record lives in the Milvus manifest as in a local one (ingest.loaders)."""
    import ingest.loaders as loaders

    corpus = write(tmp_path / "corpus", {**POLICIES, "notes.txt": "PARKING\n\nFree after 6.\n"})
    ingest([corpus], spec, options())
    monkeypatch.setitem(loaders.LOADER_VERSIONS, "markdown", 2)
    report = ingest([corpus], spec, options())
    assert report.count("updated") == 4 and report.count("unchanged") == 1
    assert report.notes == ["4 files re-extracted: the Markdown loader changed (version 1 -> 2)"]
    assert report.written and report.embedded == 0  # the same texts: their vectors are kept
    assert "salary.md" not in sources(spec, "salary band pay")  # still only for managers
    assert sources(spec, "salary band pay", frozenset({"managers"}))[0] == "salary.md"
    assert not ingest([corpus], spec, options()).written


def test_a_reader_of_two_copies_under_different_groups_gets_the_text_once(tmp_path, spec):
    corpus = write(tmp_path / "corpus", POLICIES)
    copy = "---\ngroups: [hr]\n---\n" + POLICIES["sick.md"]  # same text, hr only
    write(corpus / "hr", {"sick.md": copy})
    ingest([corpus], spec, options())
    retriever = open_retriever(spec)
    try:
        question = "doctor's note sick pay"
        hits = retriever.retrieve(question, k=4, groups=frozenset({"hr", "managers"}))
        texts = [h.chunk.text for h in hits]
        assert len(texts) == len(set(texts)) == 4  # once each, and k filled from the rest
        assert [h.rank for h in hits] == [1, 2, 3, 4]
        sick = [h for h in hits if "doctor" in h.chunk.text]
        assert len(sick) == 1
        public = retriever.retrieve(question, k=4)
        assert all(not h.chunk.groups for h in public)  # outsiders never get the hr copy
    finally:
        retriever.snapshot.store.close()


def test_a_store_built_with_another_model_is_refused_and_left_alone(tmp_path, spec):
    corpus = write(tmp_path / "corpus", POLICIES)
    ingest([corpus], spec, options("hash:64"))
    store = MilvusStore(spec)
    before = store.read_manifest()
    store.close()
    with pytest.raises(
        IndexStoreError, match=r"other settings \(model 'hash:64' -> 'hash:32'\): nothing written"
    ) as refused:
        ingest([corpus], spec, options("hash:32"))
    # It names exactly the collections to drop (not ragkit_*, which other indexes may own).
    assert "ragkit_meta and ragkit_g + 12 hex digits" in str(refused.value)
    assert "MilvusClient.drop_collection" in str(refused.value)
    assert store.read_manifest() == before
    store.close()


def test_a_re_sync_without_a_model_uses_the_collection_s(tmp_path, spec):
    corpus = write(tmp_path / "corpus", POLICIES)
    ingest([corpus], spec, options("hash:32"))
    (corpus / "bikes.md").write_text("# Bikes\n\nBicycles up to 1,500 EUR.\n")
    report = ingest([], spec, IngestOptions(progress=False))  # the CLI's plain re-sync
    assert report.written and report.count("added") == 1 and not report.rebuild_reason
    store = MilvusStore(spec)
    assert store.read_manifest()["fingerprint"]["model"] == "hash:32"
    store.close()


def test_cli_errors_are_one_line(tmp_path):
    code = "import sys; from ragkit.cli import main; sys.exit(main())"
    cases = [
        (["search", "leave", "--store", "milvus://127.0.0.1:9"], "does not answer"),
        (["search", "leave", "--store", "milvus:" + str(tmp_path / "none.txt")], "milvus:PATH.db"),
        (["search", "leave", "--store", "milvus:" + str(tmp_path / "empty.db")], "holds no index"),
    ]
    for args, message in cases:
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], done.stderr[-800:]
        assert "<MilvusException" not in lines[0]  # the exception's message, not its repr
    # Read commands never create a store: no empty.db folder is left behind.
    assert not (tmp_path / "empty.db").exists()


def test_a_long_reason_is_cut_at_a_word_boundary():
    reason = "Fail connecting to server on 10.255.255.1:19530, illegal connection params. " * 4
    short = _one_line(reason + "\nsecond line")
    assert short.endswith("...") and len(short) <= 163
    assert (short[:-3] + " ") in reason  # whole words only
    assert _one_line("short reason") == "short reason"


def test_a_milvus_lite_folder_given_as_index_says_to_pass_store(tmp_path, spec, capsys):
    ingest([write(tmp_path / "corpus", POLICIES)], spec, options())
    folder = spec.removeprefix("milvus:")
    assert Path(folder).is_dir()  # Milvus Lite 3 makes a folder
    for argv in (["search", "leave", "--index", folder], ["ingest", folder, "--index", folder]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code != 0 and f"pass --store milvus:{folder}" in err, err
        assert "folder of documents" not in err


def test_cli_search_json_on_milvus(tmp_path, spec):
    ingest([write(tmp_path / "corpus", POLICIES)], spec, options())
    code = "import sys; from ragkit.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", code, "search", "annual leave days", "--store", spec, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    hits = json.loads(done.stdout)["hits"]
    assert hits[0]["source"] == "annual.md"


def chunk_texts(spec: str) -> list[str]:
    store = MilvusStore(spec)
    try:
        return sorted(c.text for c in store.load().live_chunks())
    finally:
        store.close()


@pytest.mark.parametrize("crash", ["before-commit", "after-commit"])
def test_a_killed_write_leaves_a_loadable_store_and_the_next_sync_completes(
    tmp_path, spec, monkeypatch, crash
):
    """Killed before the head row is written, the store reads as the previous generation (the
    new entities are invisible, then deleted by the next writer); killed after it, the new
    generation is live and the old versions are hidden, then deleted by the next writer."""
    corpus = write(tmp_path / "corpus", POLICIES)
    ingest([corpus], spec, options())
    before = chunk_texts(spec)
    (corpus / "laptops.md").write_text("# Equipment\n\nPhones are replaced every two years.\n")
    (corpus / "extra.md").write_text("# Parking\n\nParking is free for cyclists.\n")

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt("killed")

    target = "_write_meta" if crash == "before-commit" else "_delete_pending"
    original = getattr(MilvusStore, target)
    calls: list[dict] = []

    def crash_once(self, manifest):
        calls.append(manifest)
        if crash == "after-commit" and manifest.get("generation") == 1:
            return original(self, manifest)  # recovering the first sync's generation
        killed()  # writing generation 2's manifest, or deleting what it replaced

    monkeypatch.setattr(MilvusStore, target, crash_once)
    with pytest.raises(KeyboardInterrupt):
        ingest([corpus], spec, options())
    monkeypatch.setattr(MilvusStore, target, original)
    # Whatever the moment, the store loads, and reads as exactly one generation.
    after_crash = chunk_texts(spec)
    if crash == "before-commit":
        assert after_crash == before
        assert "extra.md" not in sources(spec, "parking free cyclists")
    else:
        assert not any("Laptops are" in t for t in after_crash)  # pending old version hidden
        assert sum("Phones are" in t for t in after_crash) == 1
    report = ingest([corpus], spec, options())  # after-commit: nothing left to sync
    assert report.ok and report.written == (crash == "before-commit")
    final = chunk_texts(spec)
    assert sum("Phones are" in t for t in final) == 1 and not any("Laptops are" in t for t in final)
    assert sum("Parking is free" in t for t in final) == 1
    assert len(final) == 5 and stored_entities(spec) == 5  # nothing hidden is left behind


def stored_entities(spec: str) -> int:
    """Entities in the store's chunk collections, whatever their generation."""
    store = MilvusStore(spec)
    try:
        snapshot = store.load()
        return sum(
            len(store.client.query(store.loaded(name), filter="gen >= 0", output_fields=["pk"]))
            for name in snapshot.collections_all()
        )
    finally:
        store.close()


def test_a_second_writer_is_refused_with_one_line(tmp_path, spec):
    corpus = write(tmp_path / "corpus", POLICIES)
    store = MilvusStore(spec)
    with store.writing(), pytest.raises(IndexStoreError, match="being written by another"):
        ingest([corpus], spec, options())
    store.close()


def test_a_long_lived_retriever_follows_new_generations_and_collections(tmp_path, spec):
    corpus = write(tmp_path / "corpus", POLICIES)
    ingest([corpus], spec, options())
    retriever = open_retriever(spec)
    managers = frozenset({"managers"})
    assert retriever.retrieve("bonus scheme", k=2, groups=managers)[0].chunk.source != "bonus.md"
    (corpus / "bonus.md").write_text("---\ngroups: [finance]\n---\n# Bonus\n\nBonus scheme B.\n")
    (corpus / "salary.md").unlink()
    store = retriever.snapshot.store
    from ingest.pipeline import IngestReport, _run  # same process: the same Lite client
    from ragkit.index.embedding import load_embedder

    with store.writing():
        _run([corpus], store, load_embedder("hash:64"), options(), IngestReport(spec))
    finance = retriever.retrieve("bonus scheme", k=2, groups=frozenset({"finance"}))
    assert finance[0].chunk.source == "bonus.md"  # a collection created after it opened
    hits = retriever.retrieve("salary band pay", k=4, groups=managers)
    assert "salary.md" not in [h.chunk.source for h in hits]
    store.close()


def test_a_foreign_collection_under_our_name_is_refused_and_left_alone(tmp_path, spec):
    store = MilvusStore(spec)
    name = store.collection(())
    store.client.create_collection(name, dimension=8)  # someone else's, 8 dimensions
    store.close()  # Milvus Lite: one client per database file at a time
    with pytest.raises(IndexStoreError, match=f"collection {name} that ragkit did not write"):
        ingest([write(tmp_path / "corpus", POLICIES)], spec, options())
    assert store.read_manifest() is None  # nothing committed
    assert store.client.describe_collection(name)["fields"][-1]["params"]["dim"] == 8
    store.close()


def test_a_sync_reads_what_it_changes_not_the_whole_store(tmp_path, spec, monkeypatch):
    from ragkit.index.milvus_store import MilvusSnapshot

    corpus = write(tmp_path / "corpus", {**POLICIES, "copy.md": POLICIES["annual.md"]})
    ingest([corpus], spec, options())

    def whole(self):
        raise AssertionError("the sync read every stored chunk")

    monkeypatch.setattr(MilvusSnapshot, "live_chunks", whole)
    (corpus / "copy.md").write_text("# Parking\n\nParking permits cost 20 euros a month.\n")
    (corpus / "sick.md").unlink()
    report = ingest([corpus], spec, options())
    counts = report.to_json()["counts"]
    assert (counts["updated"], counts["removed"]) == (1, 1)
    monkeypatch.undo()
    assert sources(spec, "How many days of annual leave per year?")[0] == "annual.md"
    assert sources(spec, "parking permit cost")[0] == "copy.md"
    store = MilvusStore(spec)
    chunks = store.load().live_chunks()
    store.close()
    assert sorted(s for c in chunks for s in c.sources) == [
        "annual.md",
        "copy.md",
        "laptops.md",
        "salary.md",
    ]


def test_a_server_without_the_bm25_function_is_a_one_line_error_and_nothing_is_written(
    tmp_path, spec, monkeypatch
):
    """Milvus before 2.5 rejects a schema with a BM25 function at create_collection."""
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException

    create = MilvusClient.create_collection

    def old_server(self, name, *args, schema=None, **kwargs):
        if schema is not None and schema.functions:
            raise MilvusException(message="function type BM25 is not supported\nmore detail")
        return create(self, name, *args, schema=schema, **kwargs)

    monkeypatch.setattr(MilvusClient, "create_collection", old_server)
    with pytest.raises(IndexStoreError) as raised:
        ingest([write(tmp_path / "corpus", POLICIES)], spec, options())
    message = str(raised.value)
    assert "\n" not in message and spec in message and "Milvus 2.5 or later" in message
    monkeypatch.undo()
    store = MilvusStore(spec)
    assert store.read_manifest() is None  # nothing committed
    store.close()


def test_scores_and_order_equal_the_local_stores(tmp_path, spec):
    """Milvus's BM25 runs over ragkit's analysed terms with the same k1 and b, and fusion is
    the local z-score fusion: the same corpus gives the local store's hits and scores."""
    corpus = write(
        tmp_path / "corpus",
        {
            **{k: v for k, v in POLICIES.items() if k != "salary.md"},
            "pt.md": "# Férias\n\nOs funcionários têm 25 dias de férias por ano.\n",
            "remote.md": "# Remote work\n\nStaff may work remotely two days a week; don't "
            "work remotely in the first 3.5 months.\n",
        },
    )
    local = tmp_path / "local"
    ingest([corpus], local, options())
    ingest([corpus], spec, options())
    milvus = open_retriever(spec)
    here = open_retriever(local)
    for question in ("days of annual leave", "work remotely 3.5 months", "dias de férias"):
        a = here.retrieve(question, k=5)
        b = milvus.retrieve(question, k=5)
        # The same hits in the same order; equal scores may be listed in another order (the
        # local store breaks ties by row, Milvus by chunk id).
        assert sorted((-round(h.score, 6), h.chunk.chunk_id) for h in b) == sorted(
            (-round(h.score, 6), h.chunk.chunk_id) for h in a
        ), question
        a = sorted(a, key=lambda h: (-round(h.score, 6), h.chunk.chunk_id))
        b = sorted(b, key=lambda h: (-round(h.score, 6), h.chunk.chunk_id))
        for x, y in zip(a, b, strict=True):
            assert y.sparse_score == pytest.approx(x.sparse_score, rel=1e-4, abs=1e-6)
            assert y.dense_score == pytest.approx(x.dense_score, rel=1e-4, abs=1e-6)
            assert y.score == pytest.approx(x.score, rel=1e-3, abs=1e-5)
    milvus.snapshot.store.close()


@pytest.mark.parametrize("ranker", ["weighted:0.5", "rrf:60"])
def test_milvus_in_engine_rankers_still_search(tmp_path, spec, ranker):
    from ragkit.retrieval.milvus import MilvusRetriever

    ingest([write(tmp_path / "corpus", POLICIES)], spec, options())
    retriever = open_retriever(spec)
    assert isinstance(retriever, MilvusRetriever)
    retriever.ranker = ranker
    hits = retriever.retrieve("How many days of annual leave per year?", k=3)
    retriever.snapshot.store.close()
    assert hits[0].chunk.source == "annual.md" and [h.rank for h in hits] == [1, 2, 3]
    assert all(h.dense_score is None and h.sparse_score is None for h in hits)
