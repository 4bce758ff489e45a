"""Milvus as the passage store: a Milvus Lite file (``milvus://PATH.db``) or a server
(``http://HOST:19530``, Standalone or Distributed), through ``pymilvus``.

One collection holds the passages: the passage id as primary key, the dense vector, the
passage text analysed by jieba with Milvus's own BM25 function into a sparse vector, and
``article_id``, ``paragraph``, ``start``, ``end``, ``date`` and ``source`` as scalar fields
that filters run on inside the engine. Sentence vectors (for quoting) and the passage table
stay in the generation folder; so do the terms' document frequencies, which quoting reads
as IDF and Milvus does not expose.

Crash safety: the collection is shared by every generation, so an update must not change
what the live one answers. Additions get ids the live passage table does not hold, and
retrieval drops ids the table does not hold; deletions are only recorded, and carried out
by :meth:`MilvusStore.finish` once the generation without them is live (a crash in between
leaves them recorded in that generation, and the next update carries them out).
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import DEFAULT_HNSW, HnswSettings
from assistant.errors import IndexWriteError, StoreUnavailable
from assistant.lexical import STOPWORDS, normalize, tokenize
from assistant.stores.base import PassageFields, Ranking, Where

FILES = ("milvus_df.json", "milvus_retired.npy")
MAPPED: frozenset[str] = frozenset()
# pymilvus sends one request per batch: well under gRPC's message limit at 384 dims.
BATCH = 1000
# VARCHAR lengths count bytes (3 per Chinese character). A passage holds at most a few
# hundred characters unless one sentence is longer; BM25 reads the first 20k of those.
TEXT_BYTES = 65_535
TEXT_CHARS = 20_000
_STOP = sorted(STOPWORDS | set("，。、；：？！“”‘’（）《》【】—…·,.;:?!\"'()[]-"))
# A Milvus server with authentication on: its token ("user:password" or an API key) comes from
# the environment only, so it is never written to the manifest or shown in a message.
TOKEN_ENV = "ASSISTANT_MILVUS_TOKEN"
# Seconds to wait for a server to answer the first connection.
CONNECT_TIMEOUT = 10.0
# pymilvus logs a traceback for every failed call and failed reconnection (through its own
# handler on stderr), Lite's in-process gRPC server one for every
# call it does not implement (each index a new collection gets), and Lite logs a database it
# cannot open and every call that fails in it (with its full path): :class:`Guarded` turns the
# failures into messages, so these loggers would only put tracebacks and paths before them.
NOISY_LOGGERS = (
    "pymilvus",
    "grpc._server",
    "milvus_lite.server_manager",
    "milvus_lite.adapter.grpc.servicer",
)


class LiteQuirks:
    """What Milvus Lite (the pure-Python engine in ``milvus-lite`` 3.x) does differently from a
    Milvus server, and the one place that works around it.

    - BM25 search returns negated scores (``-4.3`` where a server says ``4.3``), best first:
      :meth:`bm25_score` takes the magnitude, which is right for both.
    - Only a path ending in ``.db`` makes pymilvus start Lite; any other string is a server URI.
    - A Lite file is held by one process at a time (a LOCK file): ``assistant serve`` and an
      ``index update`` from another process cannot share it; a server has no such limit.
    - Lite runs in the calling process (its gRPC server in a thread), so its search and
      insert cost this process's CPU; a server's cost is on the server.
    - Hybrid search (``hybrid_search``) is not used: its filter is ignored by some Lite
      releases, and our fusion runs outside the engine anyway.
    - A process that opens a Lite file finds its collections released (a server keeps them
      loaded): searching one fails until it is loaded, which :meth:`load` does. Loading is also
      when Lite builds the dense index, over the segments flushed by then; rows added after it
      are searched exactly until the next load.
    """

    HELD = (
        "another process has it open (a Milvus Lite file serves one process at a time: stop "
        "`assistant serve` or the other command using it first, or use a Milvus server)"
    )

    @staticmethod
    def held_elsewhere(path: Path) -> bool:
        """Whether another process holds the Lite database's lock (pymilvus says only "Open
        local milvus failed" then)."""
        import fcntl

        try:
            fd = os.open(path / "LOCK", os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    @staticmethod
    def load(client: Any, collection: str) -> None:
        """Load a collection for searching; a no-op for a loaded one (a server's)."""
        if client.has_collection(collection):
            client.load_collection(collection)

    @staticmethod
    def bm25_score(distance: float) -> float:
        """A BM25 score from a search hit's distance, positive on Lite and server alike."""
        return abs(float(distance))


def parse_spec(spec: str) -> tuple[str, bool]:
    """The pymilvus URI of a store spec and whether it names a Milvus Lite file.

    Raises:
        ValueError: not a Milvus spec, or a Lite path without the ``.db`` suffix.
    """
    if spec.startswith("milvus://"):
        path = spec.removeprefix("milvus://")
        if not path.endswith(".db"):
            raise ValueError(f"a Milvus Lite file must end in .db, e.g. milvus://{path or 'index'}.db")
        return str(Path(path).expanduser().resolve()), True
    if spec.startswith(("http://", "https://", "tcp://")):
        return spec, False
    raise ValueError(f"not a Milvus store: {spec!r}")


def lite_problem(path: Path) -> str | None:
    """Why Milvus Lite cannot keep its database at ``path`` (a folder, in milvus-lite 3), or None.

    Checked before Lite opens it: Lite reports a missing folder only with its full path, an
    existing file as "Open local milvus failed", and writes its own folders into any folder.
    """
    if path.is_dir():
        if any(path.iterdir()) and not any((path / n).exists() for n in ("LOCK", "collections")):
            return "it is a folder that is not a Milvus Lite database; choose another path"
        return None
    if path.exists():
        return "it is a file, not a Milvus Lite database (Lite keeps one in a folder); choose another path"
    if not path.parent.is_dir():
        return "the folder it is in does not exist; create it or choose another path"
    try:
        path.mkdir()  # as Lite would, to say why it cannot be made
    except OSError as exc:
        return f"it cannot be created ({exc.strerror or exc}); choose another path"
    return None


def _quote(value: str) -> str:
    """A string literal of Milvus's filter language."""
    return json.dumps(value, ensure_ascii=False)


def where_expression(where: Where | None) -> str:
    """The Milvus filter expression of a :class:`Where` ("" for none).

    ``until`` keeps dates whose prefix of its length is at most it: ``date <= until + "~"``
    (``~`` sorts after every digit and ``-``, so 2020-02-05 lies within until 2020-02).
    """
    if where is None:
        return ""
    parts = []
    if where.articles is not None:
        parts.append(f"article_id in [{', '.join(_quote(a) for a in sorted(where.articles))}]")
    if where.source is not None:
        parts.append(f"source == {_quote(where.source)}")
    if where.since or where.until:
        parts.append('date != ""')
    if where.since:
        parts.append(f"date >= {_quote(where.since)}")
    if where.until:
        parts.append(f"date <= {_quote(where.until + '~')}")
    return " and ".join(parts)


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Guarded:
    """A pymilvus client whose every call turns an engine error into a message (StoreUnavailable).

    A server that goes away, refuses a login or rejects a request raises pymilvus's or gRPC's own
    exceptions from any call; the user sees what failed and what to do, never a traceback.
    """

    def __init__(self, client: Any, unavailable: Any) -> None:
        self._client = client
        self._unavailable = unavailable

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - see the class docstring
                if _is_engine_error(exc):
                    raise self._unavailable(exc) from exc
                raise

        return call


def _is_engine_error(exc: Exception) -> bool:
    """Whether ``exc`` comes from the engine or the wire (pymilvus, gRPC), not from our own code."""
    module = type(exc).__module__ or ""
    return module.startswith(("pymilvus", "grpc"))


class MilvusStore:
    """Passages in a Milvus collection; see the module docstring.

    Args:
        spec: ``milvus://PATH.db`` or a server URI.
        dim: the vectors' dimension.
        collection: the collection's name (a new one is named when None).
        index: the dense index, ``FLAT`` or ``HNSW`` (chosen at the first addition when None, by
            the passage count, as the FAISS store chooses).
        hnsw: from how many passages the index is ``HNSW``, and its parameters.
    """

    kind = "milvus"
    shared = True

    def __init__(
        self,
        spec: str,
        dim: int,
        collection: str | None = None,
        index: str | None = None,
        hnsw: HnswSettings = DEFAULT_HNSW,
    ) -> None:
        self.spec = spec
        self.uri, self.lite = parse_spec(spec)
        self.dim = dim
        self.collection = collection or f"assistant_{uuid.uuid4().hex[:12]}"
        self.index = index
        self.hnsw = hnsw
        self.df: Counter[str] = Counter()
        self.n_docs = 0
        self.retired = np.zeros(0, dtype=np.int64)
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from pymilvus import MilvusClient
            except ImportError as exc:  # pragma: no cover - installed with the package
                raise IndexWriteError(
                    "the Milvus store needs pymilvus: pip install pymilvus milvus-lite"
                ) from exc
            problem = lite_problem(Path(self.uri)) if self.lite else None
            if problem:
                raise self.unavailable(ValueError(problem))
            for name in NOISY_LOGGERS:
                logging.getLogger(name).setLevel(logging.CRITICAL)
            token = os.environ.get(TOKEN_ENV, "")
            options: dict[str, Any] = {"token": token} if token and not self.lite else {}
            try:
                client = MilvusClient(self.uri, timeout=CONNECT_TIMEOUT, **options)
            except Exception as exc:  # noqa: BLE001 - pymilvus raises its own and gRPC's errors
                if self.lite and LiteQuirks.held_elsewhere(Path(self.uri)):
                    raise self.unavailable(ValueError(LiteQuirks.HELD)) from exc
                raise self.unavailable(exc) from exc
            self._client = Guarded(client, self.unavailable)
        return self._client

    def connect(self) -> None:
        """Reach the engine now; otherwise the client is made at its first use.

        Raises:
            StoreUnavailable: it does not answer, or the Lite file cannot be opened.
        """
        client = self.client  # opens a Lite file: nothing more to reach, and listing fails on a
        if not self.lite:  # damaged collection that a rebuild into a new one is about to replace
            client.list_collections()

    def unavailable(self, exc: BaseException) -> StoreUnavailable:
        """The message for a failed call to the engine: what failed, and what to do."""
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if self.lite:
            # Named without its folder: the message may reach the chat, which shows no server paths.
            name = Path(self.uri).name
            reason = reason.replace(self.uri, name)
            return StoreUnavailable(f"the Milvus Lite file {name} cannot be used: {reason}")
        return StoreUnavailable(
            f"the Milvus server at {self.uri} did not answer as expected: {reason}. Is it running and "
            f"reachable? Choose another store with --store / ASSISTANT_STORE; a server that needs a "
            f"login takes its token from {TOKEN_ENV}"
        )

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "kind": self.kind,
            "spec": self.spec,
            "collection": self.collection,
            "index": self.index,
            "bm25": {"k1": 1.2, "b": 0.75, "analyzer": "jieba (Milvus BM25 function)"},
        }
        if self.index == "HNSW":
            described["hnsw"] = {
                "M": self.hnsw.m,
                "efConstruction": self.hnsw.ef_construction,
                "ef": self.hnsw.ef_search,
            }
        return described

    def index_params(self) -> dict[str, Any]:
        """The dense index's build parameters."""
        if self.index == "HNSW":
            return {"M": self.hnsw.m, "efConstruction": self.hnsw.ef_construction}
        return {}

    def search_params(self, k: int) -> dict[str, Any]:
        """The dense index's search parameters for the best ``k``."""
        return {"ef": max(self.hnsw.ef_search, k)} if self.index == "HNSW" else {}

    def _create(self, passages: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        self.index = self.index or ("FLAT" if passages < self.hnsw.from_passages else "HNSW")
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field(
            "text",
            DataType.VARCHAR,
            max_length=TEXT_BYTES,
            enable_analyzer=True,
            # Our tokenizer's stopwords, and punctuation, which it never keeps either.
            analyzer_params={"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": _STOP}]},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("article_id", DataType.VARCHAR, max_length=4096)
        for name in ("paragraph", "start", "end"):
            schema.add_field(name, DataType.INT64)
        schema.add_field("date", DataType.VARCHAR, max_length=64)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        params = self.client.prepare_index_params()
        params.add_index("vector", index_type=self.index, metric_type="IP", params=self.index_params())
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        for name in ("article_id", "date", "source"):
            params.add_index(name, index_type="INVERTED")
        self.client.create_collection(
            self.collection, schema=schema, index_params=params, consistency_level="Strong"
        )

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: Sequence[PassageFields]) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids) == len(vectors) == len(fields):
            raise ValueError("add: ids, vectors and fields differ in length")
        if not len(ids):
            return
        if not self.client.has_collection(self.collection):
            self._create(len(ids))
        else:  # points an interrupted update left: every id from the first fresh one on
            self.client.delete(self.collection, filter=f"id >= {int(ids.min())}")
        for f in fields:
            self.df.update(set(tokenize(f.text)))
        self.n_docs += len(ids)
        rows = [
            {
                "id": int(i),
                "vector": np.asarray(v, dtype=np.float32).tolist(),
                "text": normalize(f.text)[:TEXT_CHARS],
                "article_id": f.article_id,
                "paragraph": f.paragraph,
                "start": f.start,
                "end": f.end,
                "date": f.date,
                "source": f.source,
            }
            for i, v, f in zip(ids, vectors, fields, strict=True)
        ]
        for batch in _batches(rows):
            self.client.upsert(self.collection, list(batch))

    def delete(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        for batch in _batches(ids.tolist()):
            for row in self.client.get(self.collection, ids=list(batch), output_fields=["text"]):
                self.df.subtract(set(tokenize(row["text"])))
                self.n_docs -= 1
        self.df = +self.df  # drop the terms no passage uses any more
        self.retired = np.union1d(self.retired, ids)

    def finish(self) -> None:
        """Carry out the recorded deletions: called once a generation without them is live."""
        for batch in _batches(self.retired.tolist()):
            self.client.delete(self.collection, ids=list(batch))
        self.retired = np.zeros(0, dtype=np.int64)

    def search(self, vector: np.ndarray, k: int, where: Where | None = None) -> Ranking:
        if k <= 0:
            return []
        params = {"metric_type": "IP", "params": self.search_params(k)}
        found = self.client.search(
            self.collection,
            [np.asarray(vector, dtype=np.float32).tolist()],
            limit=k,
            anns_field="vector",
            filter=where_expression(where),
            search_params=params,
            output_fields=["id"],
        )
        return [(int(hit["id"]), float(hit["distance"])) for hit in found[0]]

    def search_bm25(
        self,
        tokens: Sequence[str],
        k: int,
        weights: Mapping[str, float] | None = None,
        where: Where | None = None,
    ) -> Ranking:
        """Milvus's BM25 over the query terms; terms of one weight are searched together and
        the weighted scores summed (a passage outside one search's top ``k`` adds 0 there)."""
        groups: dict[float, list[str]] = {}
        for t in tokens:
            groups.setdefault((weights or {}).get(t, 1.0), []).append(t)
        scores: dict[int, float] = {}
        for weight, terms in groups.items():
            if weight <= 0:
                continue
            found = self.client.search(
                self.collection,
                [" ".join(terms)],
                limit=k,
                anns_field="sparse",
                filter=where_expression(where),
                search_params={"metric_type": "BM25"},
                output_fields=["id"],
            )
            for hit in found[0]:
                pid = int(hit["id"])
                scores[pid] = scores.get(pid, 0.0) + weight * LiteQuirks.bm25_score(hit["distance"])
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [(pid, s) for pid, s in ranked if s > 0][:k]

    def idf(self, term: str) -> float:
        """The same IDF as our own BM25's, from document frequencies kept beside the index."""
        n = self.n_docs
        df = self.df.get(term)
        if not df:
            return math.log1p((n - 0.5) / 1.5) if n else 1.0
        return math.log1p((n - df + 0.5) / (df + 0.5))

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        found: dict[int, list[float]] = {}
        for batch in _batches(ids.tolist()):
            for row in self.client.get(self.collection, ids=list(batch), output_fields=["vector"]):
                found[int(row["id"])] = row["vector"]
        if len(found) < len(set(ids.tolist())):
            raise KeyError("vectors_of: a passage id is not in the store")
        return np.asarray([found[int(i)] for i in ids], dtype=np.float32).reshape(-1, self.dim)

    def drop_collection(self, name: str) -> None:
        """Drop another collection of this engine that an earlier generation of this index used
        (see :mod:`assistant.stores.owned`); never this store's own."""
        if name == self.collection:
            raise ValueError(f"drop_collection: {name} is the live store's own collection")
        self.client.drop_collection(name)

    def count(self) -> int:
        """The points in the collection (including any an interrupted update left)."""
        if not self.client.has_collection(self.collection):
            return 0
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def save(self, folder: Path) -> list[str]:
        (folder / "milvus_df.json").write_text(
            json.dumps({"passages": self.n_docs, "df": dict(self.df)}, ensure_ascii=False), encoding="utf-8"
        )
        np.save(folder / "milvus_retired.npy", self.retired)
        return list(FILES)

    @classmethod
    def load(cls, described: dict[str, Any], folder: Path, dim: int) -> MilvusStore:
        """Reconnect to the collection a manifest names, with the frequencies and pending
        deletions its generation recorded.

        Raises:
            ValueError, OSError: a file is damaged.
            RuntimeError: the Lite file's collection does not load (damaged).
            StoreUnavailable: the engine cannot be reached, or the Lite file opened.
        """
        hnsw = described.get("hnsw")
        recorded = (
            HnswSettings(m=hnsw["M"], ef_construction=hnsw["efConstruction"], ef_search=hnsw["ef"])
            if hnsw
            else DEFAULT_HNSW
        )
        store = cls(described["spec"], dim, described["collection"], described["index"], recorded)
        meta = json.loads((folder / "milvus_df.json").read_text(encoding="utf-8"))
        store.n_docs, store.df = int(meta["passages"]), Counter(meta["df"])
        store.retired = np.load(folder / "milvus_retired.npy")
        try:
            LiteQuirks.load(store.client, store.collection)
        except StoreUnavailable as exc:
            if store.lite and store._client is not None:  # opened, but its files do not load
                raise RuntimeError(str(exc)) from exc
            raise
        return store
