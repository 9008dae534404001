"""Milvus as the index store: Milvus Lite embedded, or a Milvus server or cluster.

    milvus:PATH.db          Milvus Lite, embedded in this process (a local file)
    milvus://HOST:19530     a Milvus standalone or distributed server, same client

Collections, for an index named N (`ragkit` unless the spec ends in `#NAME`):

    N_meta        the manifest (fingerprint, dim, per-file records, group sets, generation), as
                  JSON split into rows of at most 60,000 characters keyed "g<gen>p<part>",
                  and one "head" row naming the live generation and its part count
    N_g<hash>     the chunks of one access-group set: chunk_id, gen (the generation that
                  wrote it), record (the chunk as JSON), groups, dense (FLOAT_VECTOR, inner
                  product), language, text (the chunk's BM25 terms from ragkit's own
                  analyser, see `bm25_text`) and sparse, filled by Milvus's BM25 function
                  from text (k1 1.5, b 0.75, as the local store)

Why one collection per access-group set: Milvus computes BM25 statistics (N, df, avgdl) over a
whole collection, whatever the filter. With every chunk in one collection, a chunk the asker
may not read would still move the idf of its terms, and so the order of the chunks the asker
does see: a side channel on hidden documents. Each collection here holds chunks that are
readable by exactly the same askers, and a query searches only the collections the asker may
read, so no statistic ever includes a hidden chunk. (An asker who reads several collections
gets their candidates fused together, each BM25 score from its own collection's statistics,
where the local store scores them over their union.) As a second lock, every hit's groups
are checked against the asker's (a per-row filter expression on the groups array would
change nothing within one group set and cost most of a query on Milvus Lite).

Writes: Milvus has no transaction across collections, so a sync is made safe by generation
numbers. One writer at a time holds a lock file (`PATH.db.NAME.lock`, NAME `ragkit` by
default, beside a Milvus Lite file; for a server, a lock file in the temporary folder of
this machine: two machines syncing one server index are not kept apart). A sync at generation G+1:
  1. recovers what a killed writer left: entities with gen > G (never committed) are
     deleted, and the deletions the live manifest lists as pending are done again;
  2. inserts the new and changed chunks with gen = G+1 (invisible: readers filter gen <= G);
  3. writes the manifest's parts under g<G+1>, then upserts the head row: the commit point,
     one single-row write. Killed before it, the store still reads as generation G;
  4. deletes the chunks the new manifest lists as pending (dropped or replaced ones, gen <
     G+1) and the old manifest parts.
Between 3 and 4 a reader may see the old version of a changed chunk beside the new one (it
filters pending ids out when there are few); a writer killed there leaves the deletions to
the next sync. Readers re-read the head row before each question, so a long-lived server
follows new generations and new access-group collections.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.errors import IndexStoreError, MissingDependencyError
from ragkit.index.records import Chunk, readable_by
from ragkit.index.segment import dedup_key

PREFIX = "milvus:"
_PART = 60_000  # characters of manifest JSON per meta row (VARCHAR holds 65,535)
_BATCH = 1000
# 1: no generations (writes were not recoverable); 2: Milvus's English analyser on raw text
FORMAT = "milvus-3"
_HEAD = "head"
_PENDING_FILTER_MAX = 1000  # pending ids a reader filters out itself; more wait for step 4
_ALSO_MAX = 4096  # duplicates' ids kept per entity (Milvus's array capacity); more: see _write
# BM25 as the local store scores it (RetrieverSettings' bm25_k1 / bm25_b). Milvus multiplies
# each term's score by k1 + 1 (the classic form; Lucene dropped the constant), so its scores
# are (k1 + 1) x ragkit's: the retriever divides by it.
BM25_K1, BM25_B = 1.5, 0.75
# The text field holds terms already analysed by ragkit (`bm25_text`), each spelt as the hex
# of its UTF-8 bytes: one [0-9a-f] token that Milvus's standard tokenizer (the only one
# Milvus Lite has besides jieba) neither splits nor changes, whatever the term holds ("3.5",
# "don't", CJK bigrams). Milvus's own English analyser instead (standard tokenizer, Lucene's
# 33 stopwords, Snowball) scored SciFact train 0.569 nDCG@10 with BM25 alone, against 0.693
# for the same BM25 over ragkit's terms (bench_retrieval.py --milvus --tune).
ANALYZER = {"tokenizer": "standard"}


def bm25_terms(terms: Iterable[str]) -> str:
    """The text Milvus's BM25 function reads for these analysed terms (see ANALYZER)."""
    return " ".join(term.encode("utf-8").hex() for term in terms)


def bm25_text(chunk: Chunk) -> str:
    """A chunk's BM25 text: its embedding text analysed in its own language, as the local
    store indexes it (ragkit/index/segment.py), then spelt for Milvus (`bm25_terms`)."""
    from ragkit.text.analyse import analyser_for

    return bm25_terms(analyser_for(chunk.language).terms(chunk.embedding_text))


def is_milvus(spec: object) -> bool:
    return str(spec).startswith(PREFIX)


def parse_spec(spec: str) -> tuple[str, str]:
    """(client URI, index name) of a `milvus:` spec; UsageError-like IndexStoreError if bad."""
    rest = spec[len(PREFIX) :]
    rest, _, name = rest.partition("#")
    name = name or "ragkit"
    if not name.replace("_", "").isalnum():
        raise IndexStoreError(f"milvus index name '{name}': use letters, digits and '_'")
    if rest.startswith("//"):
        return "http:" + rest, name
    if not rest.endswith(".db"):
        raise IndexStoreError(
            f"milvus store '{spec}': use milvus:PATH.db (Milvus Lite) or milvus://HOST:19530"
        )
    return str(Path(rest).expanduser()), name


def _client(spec: str) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise MissingDependencyError("pymilvus[milvus-lite]", f"the Milvus store {spec}") from exc
    import logging

    # pymilvus logs every failed call with a traceback; ragkit reports one line instead.
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    uri, _ = parse_spec(spec)
    try:
        return MilvusClient(uri=uri, timeout=10)
    except Exception as exc:  # pymilvus raises MilvusException or grpc/OS errors
        reason = _one_line(str(getattr(exc, "message", "") or exc) or type(exc).__name__)
        raise IndexStoreError(
            f"milvus store {spec} does not answer ({reason}): start Milvus or check the URI"
        ) from exc


def _one_line(text: str, limit: int = 160) -> str:
    """The first line of `text`, cut at a word boundary with an ellipsis past `limit` chars."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.") + "..."


class MilvusStore:
    """The `IndexStore` over Milvus (see the module docstring)."""

    format = FORMAT

    def __init__(self, spec: str) -> None:
        self.spec = spec
        _, self.name = parse_spec(spec)
        self._db: Any = None
        self._loaded: set[str] = set()

    @property
    def location(self) -> str:
        return self.spec

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Held while a sync writes: one writer per index; what a killed writer left is
        recovered first, even when this sync then finds nothing to write."""
        with _writer_lock(self.spec):
            self.recover(self.read_manifest())
            yield

    @property
    def client(self) -> Any:
        if self._db is None:
            self._db = _Guarded(_client(self.spec), self.spec)
        return self._db

    def close(self) -> None:
        """Release the connection (Milvus Lite: the database file, for another process)."""
        if self._db is not None:
            self._db.close()
            self._db = None
            self._loaded.clear()
            uri, _ = parse_spec(self.spec)
            if not uri.startswith("http"):  # Lite runs an in-process server per file: stop it
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(uri)

    def loaded(self, name: str) -> str:
        """`name`, loaded into memory: a fresh process must load before it can query."""
        if name not in self._loaded:
            self.client.load_collection(name)
            self._loaded.add(name)
        return name

    # -- reading ---------------------------------------------------------------------------

    def _absent(self) -> bool:
        """A Milvus Lite database that does not exist: reading it must not create it (opening
        a client makes the folder), so readers see no index without a client."""
        uri, _ = parse_spec(self.spec)
        return self._db is None and not uri.startswith("http") and not Path(uri).exists()

    def read_head(self) -> dict[str, Any] | None:
        """The head row ({"gen", "parts"}), or None when the index has none (or is older)."""
        meta = f"{self.name}_meta"
        if self._absent() or not self.client.has_collection(meta):
            return None
        rows = self.client.query(
            self.loaded(meta), filter=f'key == "{_HEAD}"', output_fields=["value"]
        )
        if not rows:
            return None
        try:
            head = json.loads(rows[0]["value"])
            return {"gen": int(head["gen"]), "parts": int(head["parts"])}
        except (ValueError, KeyError, TypeError) as exc:
            raise self._corrupt(f"its head row is unreadable: {exc}") from exc

    def read_manifest(self) -> dict[str, Any] | None:
        meta = f"{self.name}_meta"
        if self._absent() or not self.client.has_collection(meta):
            return None
        head = self.read_head()
        if head is None:  # format milvus-1: parts "m000000"...; the writer rebuilds it
            rows = self.client.query(
                self.loaded(meta), filter='key like "m%"', output_fields=["key", "value"]
            )
        else:
            prefix = f"g{head['gen']:08d}p"
            rows = self.client.query(
                self.loaded(meta), filter=f'key like "{prefix}%"', output_fields=["key", "value"]
            )
            if len(rows) != head["parts"]:
                raise self._corrupt(
                    f"generation {head['gen']} has {len(rows)} of {head['parts']} manifest parts"
                )
        if not rows:
            return None
        text = "".join(r["value"] for r in sorted(rows, key=lambda r: r["key"]))
        try:
            manifest = json.loads(text)
        except ValueError as exc:
            raise self._corrupt(f"its manifest is not JSON: {exc}") from exc
        if not isinstance(manifest, dict):
            raise self._corrupt("its manifest is not a JSON object")
        return manifest

    def _corrupt(self, what: str) -> IndexStoreError:
        return IndexStoreError(
            f"milvus store {self.spec} is corrupt ({what}): {self.drop_hint()} and run "
            f"`ragkit ingest PATH --store {self.spec}` again"
        )

    def drop_hint(self) -> str:
        """What to drop to delete this index: exactly its collections, never another
        index's (`ragkit_x_meta` belongs to `#ragkit_x`, not to `#ragkit`)."""
        return (
            f"drop its collections ({self.name}_meta and {self.name}_g + 12 hex digits) with "
            "pymilvus MilvusClient.drop_collection (README: 'Dropping a Milvus index')"
        )

    def load(self) -> MilvusSnapshot:
        manifest = self.read_manifest()
        if manifest is None:
            raise IndexStoreError(
                f"{self.spec} holds no index: build one with "
                f"`ragkit ingest PATH --store {self.spec}`"
            )
        if manifest.get("format") != FORMAT:
            raise IndexStoreError(
                f"milvus store {self.spec} has format {manifest.get('format')}, this ragkit "
                f"reads {FORMAT}: re-run `ragkit ingest PATH --store {self.spec}` (it "
                f"rebuilds it), or {self.drop_hint()}"
            )
        return MilvusSnapshot(self, manifest)

    def collection(self, groups: Sequence[str]) -> str:
        digest = hashlib.sha256("\x00".join(sorted(groups)).encode()).hexdigest()[:12]
        return f"{self.name}_g{digest}"

    # -- writing ---------------------------------------------------------------------------

    def write_generation(
        self, manifest: dict[str, Any], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> str:
        """Replace the whole index with these chunks (same fingerprint only).

        Over an index of this format the old chunks are deleted only after the new manifest
        is live (every old generation is pending); an older format's collections are dropped
        first, since their schema differs."""
        previous = self._check_fingerprint(manifest)
        if previous is not None and previous.get("format") != FORMAT:
            for groups in previous.get("group_sets", []):
                self.client.drop_collection(self.collection(groups))
            previous = None
        return self._write(manifest, previous, [], chunks, vectors, replace_all=True)

    def write_changes(
        self,
        manifest: dict[str, Any],
        dropped_ids: Iterable[str],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
    ) -> str:
        """Insert `chunks`, commit `manifest`, then delete the chunks with `dropped_ids`."""
        previous = self._check_fingerprint(manifest)
        return self._write(manifest, previous, list(dropped_ids), chunks, vectors)

    def _check_fingerprint(self, manifest: dict[str, Any]) -> dict[str, Any] | None:
        previous = self.read_manifest()
        if previous is not None and previous.get("fingerprint") != manifest.get("fingerprint"):
            old, new = previous.get("fingerprint", {}), manifest.get("fingerprint", {})
            diff = ", ".join(
                f"{k} {old.get(k)!r} -> {new.get(k)!r}"
                for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k)
            )
            raise IndexStoreError(
                f"milvus store {self.spec} holds an index built with other settings ({diff}): "
                f"nothing written; use another index name (--store {self.spec.split('#')[0]}"
                f"#NAME) or {self.drop_hint()}"
            )
        return previous

    def recover(self, previous: dict[str, Any] | None) -> None:
        """Undo what a killed writer left (step 1 of the module docstring)."""
        if previous is None or previous.get("format") != FORMAT:
            return
        gen = int(previous.get("generation", 0))
        for groups in previous.get("group_sets", []):
            name = self.collection(groups)
            if self.client.has_collection(name):
                self.client.delete(name, filter=f"gen > {gen}")
        self._delete_pending(previous)

    def _delete_pending(self, manifest: dict[str, Any]) -> None:
        gen = int(manifest.get("generation", 0))
        pending = list(manifest.get("pending", []))
        for groups in manifest.get("group_sets", []):
            name = self.collection(groups)
            if manifest.get("replaced_all"):
                self.client.delete(name, filter=f"gen < {gen}")
                continue
            for start in range(0, len(pending), _BATCH):
                ids = json.dumps(pending[start : start + _BATCH])
                self.client.delete(name, filter=f"gen < {gen} and chunk_id in {ids}")

    def _write(
        self,
        manifest: dict[str, Any],
        previous: dict[str, Any] | None,
        dropped: list[str],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        replace_all: bool = False,
    ) -> str:
        self.recover(previous)
        gen = int((previous or {}).get("generation", 0)) + 1
        dim = int(vectors.shape[1]) if len(chunks) else int(manifest.get("dim") or 1)
        known = {tuple(g) for g in (previous or {}).get("group_sets", [])}
        by_set: dict[tuple[str, ...], list[int]] = {}
        for i, chunk in enumerate(chunks):
            by_set.setdefault(tuple(sorted(chunk.groups)), []).append(i)
        for groups, rows in by_set.items():
            name = self.collection(groups)
            if groups not in known:
                self._create(name, dim)
                known.add(groups)
            for start in range(0, len(rows), _BATCH):
                batch = rows[start : start + _BATCH]
                self.client.insert(name, [_entity(chunks[i], vectors[i], gen) for i in batch])
        files = manifest.get("files", {})
        # A replaced chunk keeps its id: its old entity (gen < this one) goes with the dropped.
        pending = sorted({*dropped, *(c.chunk_id for c in chunks)}) if not replace_all else []
        languages = self._language_counts(previous, known, gen, pending, chunks, replace_all)
        full = {
            **manifest,
            "format": FORMAT,
            "dim": dim,
            "chunks": sum(len(e.get("chunk_ids", ())) for e in files.values()),
            "group_sets": sorted([list(g) for g in known]),
            "generation": gen,
            "pending": pending,
            "replaced_all": replace_all,
            "languages": languages,
            # A chunk with more duplicates than an entity lists: lookups by id could miss
            # one, so syncs read every chunk (stored_with answers None) until a rebuild.
            "also_overflow": bool((previous or {}).get("also_overflow") and not replace_all)
            or any(len(c.also) > _ALSO_MAX for c in chunks),
        }
        for groups in known:
            self.client.flush(self.collection(groups))
        self._write_meta(full)  # the commit point
        self._delete_pending(full)
        return self.spec

    def _language_counts(
        self,
        previous: dict[str, Any] | None,
        known: Iterable[tuple[str, ...]],
        gen: int,
        pending: Sequence[str],
        chunks: Sequence[Chunk],
        replace_all: bool,
    ) -> dict[str, dict[str, int]]:
        """Live chunks per language ("" = not told) per collection after this write: the prior
        a question's language is told with, as the local store keeps per group set. The
        entities this write deletes (pending, gen < this one) are looked up by chunk id: the
        cost follows what changed."""
        counts: dict[str, Counter[str]] = {}
        if not replace_all:
            for name, per in ((previous or {}).get("languages") or {}).items():
                counts[name] = Counter(per)
            for groups in known:
                name = self.collection(groups)
                if not pending or not self.client.has_collection(name):
                    continue
                for start in range(0, len(pending), _BATCH):
                    ids = json.dumps(list(pending[start : start + _BATCH]))
                    rows = self.client.query(
                        self.loaded(name),
                        filter=f"gen < {gen} and chunk_id in {ids}",
                        output_fields=["language"],
                    )
                    counts.setdefault(name, Counter()).subtract(r["language"] for r in rows)
        for chunk in chunks:
            name = self.collection(chunk.groups)
            counts.setdefault(name, Counter())[chunk.language or ""] += 1
        return {
            name: {code: n for code, n in sorted(per.items()) if n > 0}
            for name, per in sorted(counts.items())
        }

    def _create(self, name: str, dim: int) -> None:
        if self.client.has_collection(name):
            # Not in the manifest: a killed first write, or someone else's collection.
            described = self.client.describe_collection(name)
            fields = {f.get("name"): f for f in described.get("fields", [])}
            dense = fields.get("dense", {}).get("params", {}).get("dim")
            if "gen" not in fields or "record" not in fields or int(dense or 0) != dim:
                raise IndexStoreError(
                    f"milvus store {self.spec} has a collection {name} that ragkit did not "
                    f"write (or with other dimensions than {dim}): nothing written; drop it "
                    "or use another index name (#NAME)"
                )
            return
        self._create_new(name, dim)

    def _create_new(self, name: str, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        schema = client.create_schema(auto_id=True)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=64)
        schema.add_field("gen", DataType.INT64)
        schema.add_field("record", DataType.VARCHAR, max_length=65535)
        schema.add_field(
            "groups", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=64, max_length=128
        )
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("language", DataType.VARCHAR, max_length=16)
        # What a sync looks chunks up by (stored_with): the ids of the duplicates a stored
        # chunk stands for, and its dedup key (ragkit/index/segment.py's, as hex).
        schema.add_field(
            "also",
            DataType.ARRAY,
            element_type=DataType.VARCHAR,
            max_capacity=_ALSO_MAX,
            max_length=64,
        )
        schema.add_field("dkey", DataType.VARCHAR, max_length=32)
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=65535,
            enable_analyzer=True,
            analyzer_params=ANALYZER,
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("dense", index_type="FLAT", metric_type="IP")
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": BM25_K1, "bm25_b": BM25_B},
        )
        index.add_index("chunk_id", index_type="INVERTED")
        index.add_index("gen", index_type="INVERTED")
        index.add_index("dkey", index_type="INVERTED")
        try:
            client.create_collection(
                name, schema=schema, index_params=index, consistency_level="Strong"
            )
        except Exception as exc:
            reason = str(exc).splitlines()[0][:200]
            raise IndexStoreError(
                f"milvus store {self.spec} cannot create collection {name} with BM25 full-text "
                f"search ({reason}): use Milvus 2.5 or later (the BM25 function)"
            ) from exc

    def _write_meta(self, manifest: dict[str, Any]) -> None:
        from pymilvus import DataType

        client, meta = self.client, f"{self.name}_meta"
        if not client.has_collection(meta):
            schema = client.create_schema(auto_id=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=32)
            schema.add_field("value", DataType.VARCHAR, max_length=65535)
            schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
            index = client.prepare_index_params()
            index.add_index("v", index_type="FLAT", metric_type="L2")
            client.create_collection(
                meta, schema=schema, index_params=index, consistency_level="Strong"
            )
        text = json.dumps(manifest, sort_keys=True, ensure_ascii=False)
        parts = [text[i : i + _PART] for i in range(0, len(text), _PART)] or [""]
        gen = int(manifest["generation"])
        prefix = f"g{gen:08d}p"
        client.delete(meta, filter=f'key like "{prefix}%"')  # a killed writer's parts
        rows = [
            {"key": f"{prefix}{i:05d}", "value": part, "v": [0.0, 0.0]}
            for i, part in enumerate(parts)
        ]
        for start in range(0, len(rows), 16):
            client.insert(meta, rows[start : start + 16])
        client.flush(meta)
        head = json.dumps({"gen": gen, "parts": len(parts)})
        client.upsert(meta, [{"key": _HEAD, "value": head, "v": [0.0, 0.0]}])  # the commit
        client.flush(meta)
        # Older generations' parts (and format 1's "m" rows) are no longer read.
        client.delete(meta, filter=f'key != "{_HEAD}" and not (key like "{prefix}%")')


def _writer_lock(spec: str) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock file for writers of this index: beside a Milvus Lite file, or in the
    temporary folder for a server (this machine only)."""
    import fcntl
    import tempfile

    uri, name = parse_spec(spec)
    if uri.startswith("http"):
        digest = hashlib.sha256(f"{uri}#{name}".encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"ragkit-milvus-{digest}.lock"
    else:
        path = Path(f"{uri}.{name}.lock")

    @contextlib.contextmanager
    def held() -> Any:
        try:
            handle = open(path, "a+")  # noqa: SIM115 (held for the whole block)
        except OSError as exc:
            raise IndexStoreError(
                f"milvus store {spec}: cannot create its lock file {path} "
                f"({exc.strerror or exc}): check the folder's permissions"
            ) from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexStoreError(
                    f"milvus store {spec} is being written by another ragkit process: wait for it"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return held()


class _Guarded:
    """A MilvusClient whose failures are one-line IndexStoreErrors naming the store."""

    def __init__(self, client: Any, spec: str) -> None:
        self._client, self._spec = client, spec

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except IndexStoreError:
                raise
            except Exception as exc:  # MilvusException, grpc errors
                reason = (str(exc).splitlines() or [type(exc).__name__])[0][:240]
                raise IndexStoreError(
                    f"milvus store {self._spec}: {name} failed ({reason}): check the server "
                    "and re-run; an interrupted ingest is completed by running it again"
                ) from exc

        return call


def _entity(chunk: Chunk, vector: np.ndarray, gen: int) -> dict[str, Any]:
    return {
        "chunk_id": chunk.chunk_id,
        "gen": gen,
        "record": json.dumps(chunk.to_json(), ensure_ascii=False),
        "groups": list(chunk.groups),
        "dense": np.asarray(vector, dtype=np.float32).tolist(),
        "language": (chunk.language or "")[:16],
        "also": [other.chunk_id for other in chunk.also][:_ALSO_MAX],
        "dkey": dedup_key(chunk.text, chunk.groups).hex(),
        "text": bm25_text(chunk),
    }


class MilvusSnapshot:
    """What a writer and a retriever need from the live Milvus index.

    Reads see the generation of `manifest` (entities with gen above it are a writer's
    uncommitted work); `refresh` follows the head row to a newer generation.
    """

    def __init__(self, store: MilvusStore, manifest: dict[str, Any]) -> None:
        self.store = store
        self.manifest = manifest
        self.path = Path(store.spec)

    @property
    def generation(self) -> int:
        return int(self.manifest.get("generation", 0))

    def refresh(self) -> None:
        """Load the live manifest when a writer committed a newer generation (one small
        query by primary key: cheap enough before every question)."""
        head = self.store.read_head()
        if head is not None and head["gen"] != self.generation:
            manifest = self.store.read_manifest()
            if manifest is not None and manifest.get("format") == FORMAT:
                self.manifest = manifest

    def visible(self) -> str:
        """Filter expression for this generation's entities (see the module docstring)."""
        expr = f"gen <= {self.generation}"
        pending = self.manifest.get("pending", [])
        if self.manifest.get("replaced_all"):
            expr = f"gen == {self.generation}"
        elif pending and len(pending) <= _PENDING_FILTER_MAX:
            expr += f" and not (gen < {self.generation} and chunk_id in {json.dumps(pending)})"
        return expr

    @property
    def fingerprint(self) -> dict[str, Any]:
        return self.manifest["fingerprint"]

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.manifest.get("files", {})

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def live_count(self) -> int:
        return int(self.manifest.get("chunks", 0))

    def __len__(self) -> int:
        return self.live_count

    def languages(self, names: Iterable[str]) -> Counter[str | None]:
        """Live chunks per language (None: not told) in these collections."""
        counts: Counter[str | None] = Counter()
        per_collection = self.manifest.get("languages") or {}
        for name in names:
            for code, n in per_collection.get(name, {}).items():
                counts[code or None] += int(n)
        return counts

    def collections(self, groups: frozenset[str]) -> list[str]:
        """Collections whose chunks an asker with `groups` may read."""
        sets = [tuple(g) for g in self.manifest.get("group_sets", [])]
        return [self.store.collection(g) for g in sets if readable_by(g, groups)]

    def vectors_for(self, chunk_ids: Iterable[str]) -> dict[str, np.ndarray]:
        ids = list(set(chunk_ids))
        out: dict[str, np.ndarray] = {}
        for name in self.collections_all():
            for start in range(0, len(ids), _BATCH):
                rows = self.store.client.query(
                    self.store.loaded(name),
                    filter=f"({self.visible()}) and chunk_id in "
                    f"{json.dumps(ids[start : start + _BATCH])}",
                    output_fields=["chunk_id", "dense"],
                )
                out.update((r["chunk_id"], np.asarray(r["dense"], np.float32)) for r in rows)
        return out

    def collections_all(self) -> list[str]:
        return [self.store.collection(g) for g in self.manifest.get("group_sets", [])]

    def live_chunks(self) -> list[Chunk]:
        """Every chunk of this generation, read in batches (query_iterator: no row cap)."""
        chunks = []
        for name in self.collections_all():
            iterator = self.store.client.query_iterator(
                self.store.loaded(name),
                batch_size=_BATCH,
                filter=self.visible(),
                output_fields=["record"],
            )
            try:
                while rows := iterator.next():
                    chunks += [Chunk.from_json(json.loads(r["record"])) for r in rows]
            finally:
                iterator.close()
        return chunks

    def stored_with(
        self, chunk_ids: Iterable[str], keys: Iterable[tuple[str, tuple[str, ...]]]
    ) -> list[Chunk] | None:
        """Live stored chunks holding one of `chunk_ids` (their own id, or a duplicate's in
        `also`) or whose (text, groups) is one of `keys`, found by filtered queries on indexed
        fields: a sync reads what it changes, not the store. None (read everything) when an
        entity could not list all its duplicates' ids (`also_overflow`)."""
        if self.manifest.get("also_overflow"):
            return None
        ids = sorted(set(chunk_ids))
        digests = sorted({dedup_key(text, groups).hex() for text, groups in keys})
        conditions = []
        for start in range(0, len(ids), _BATCH):
            part = json.dumps(ids[start : start + _BATCH])
            conditions += [f"chunk_id in {part}", f"array_contains_any(also, {part})"]
        for start in range(0, len(digests), _BATCH):
            conditions.append(f"dkey in {json.dumps(digests[start : start + _BATCH])}")
        found: dict[tuple[str, str], Chunk] = {}
        for name in self.collections_all():
            for condition in conditions:
                rows = self.store.client.query(
                    self.store.loaded(name),
                    filter=f"({self.visible()}) and {condition}",
                    output_fields=["chunk_id", "record"],
                )
                for row in rows:
                    key = (name, row["chunk_id"])
                    if key not in found:
                        found[key] = Chunk.from_json(json.loads(row["record"]))
        return list(found.values())

    def close(self) -> None:
        pass
