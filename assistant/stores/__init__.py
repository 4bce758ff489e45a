"""Passage stores behind one interface (:mod:`assistant.stores.base`); FAISS is the default.

A store is named by a spec string, given as ``--store`` or ``ASSISTANT_STORE``: ``faiss``
(embedded, in the index folder), ``milvus://PATH.db`` (a Milvus Lite file) or
``http://HOST:19530`` (a Milvus server). The manifest records the store an index was built
with, and :func:`check_store` refuses to open it with another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.config import DEFAULT_HNSW, HnswSettings
from assistant.errors import IndexMismatch
from assistant.stores.base import PassageFields, PassageStore, Ranking, Where

__all__ = [
    "PassageFields",
    "PassageStore",
    "Ranking",
    "Where",
    "check_store",
    "load_store",
    "new_store",
    "reach",
    "store_files",
    "store_problem",
]


def _canonical(spec: str) -> str:
    """The spec with a Lite path made absolute, so two spellings of one file compare equal."""
    if spec == "faiss":
        return spec
    from assistant.stores.milvus import parse_spec

    uri, lite = parse_spec(spec)
    return f"milvus://{uri}" if lite else uri


def store_problem(spec: str) -> str | None:
    """Why a store spec is not usable, or None."""
    try:
        _canonical(spec)
    except ValueError as exc:
        return f"unknown store {spec!r} ({exc}): use faiss, milvus://PATH.db or http://HOST:19530"
    return None


def new_store(spec: str, dim: int, hnsw: HnswSettings = DEFAULT_HNSW) -> PassageStore:
    """An empty store of this kind for vectors of ``dim`` dimensions, dense search a graph
    with ``hnsw``'s parameters from its passage count on."""
    if spec == "faiss":
        from assistant.stores.faiss import FaissStore

        return FaissStore(dim, hnsw)
    from assistant.stores.milvus import MilvusStore

    return MilvusStore(_canonical(spec), dim, hnsw=hnsw)


def reach(spec: str) -> None:
    """Reach the store's engine now, so that a server that does not answer, or a Lite path that
    cannot hold a database, fails a build before its embedding (hours for an archive), not after.

    Raises:
        StoreUnavailable: the server does not answer, or the Lite file cannot be used.
    """
    if spec != "faiss":
        from assistant.stores.milvus import MilvusStore

        MilvusStore(spec, 1).connect()


def store_files(described: dict[str, Any]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The files a store described so in a manifest keeps in the generation folder, and
    which of them are memory-mapped (hashed only when asked)."""
    if described.get("kind") == "milvus":
        from assistant.stores import milvus as module
    else:
        from assistant.stores import faiss as module  # type: ignore[no-redef]
    return module.FILES, module.MAPPED


def load_store(described: dict[str, Any], folder: Path, dim: int) -> PassageStore:
    """Open the store a manifest describes, from its generation folder.

    Raises:
        ValueError, OSError, RuntimeError: its files are damaged.
    """
    if described.get("kind") == "milvus":
        from assistant.stores.milvus import MilvusStore

        return MilvusStore.load(described, folder, dim)
    from assistant.stores.faiss import FaissStore

    return FaissStore.load(folder, dim)


def check_store(described: dict[str, Any], spec: str) -> None:
    """Refuse to open an index built with another store than the one selected.

    Raises:
        IndexMismatch: with the two ways to fix it.
    """
    built = described.get("spec", described.get("kind"))
    try:
        same = _canonical(str(built)) == _canonical(spec)
    except ValueError:
        same = False
    if not same:
        raise IndexMismatch(
            f"the index was built with store {built!r} but {spec!r} is selected; select its store "
            f"with --store / ASSISTANT_STORE={built}, or run `assistant index build --full --store {spec}` "
            "to rebuild it into the selected one"
        )
