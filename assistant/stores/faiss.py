"""The default store, embedded: FAISS for vectors, our jieba BM25 for terms, numpy for filters.

Files in the generation folder::

    vectors.npy          float32 passage vectors, row r holds passage ids[r]
    store_rows.npz       per row: the passage id and the article it belongs to (a code)
    store_articles.json  per article code: [article id, date, source], what filters read
    vectors.faiss        IndexIDMap over normalised inner product, ids = passage ids
    bm25.npz, bm25_vocab.json   row × term counts (BM25 weights derive from them)

A filter becomes a boolean mask over rows, evaluated once per article, and the allowed
rows are scored exactly: as fast as the whole index until a filter lets most of a very
large index through.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import DEFAULT_HNSW, HnswSettings
from assistant.errors import os_error_in
from assistant.lexical import BM25, tokenize
from assistant.stores.base import PassageFields, Ranking, Where

FILES = (
    "vectors.npy",
    "store_rows.npz",
    "store_articles.json",
    "vectors.faiss",
    "bm25.npz",
    "bm25_vocab.json",
)
# Memory-mapped at load, so hashed only when asked.
MAPPED = frozenset({"vectors.npy"})


def faiss_kind(passages: int, hnsw: HnswSettings = DEFAULT_HNSW) -> str:
    """The FAISS index used for this many passages, as the manifest records it."""
    if passages < hnsw.from_passages:
        return "IndexIDMap(IndexFlatIP)"
    return (
        f"IndexIDMap(IndexHNSWFlat(M={hnsw.m}, efConstruction={hnsw.ef_construction}, "
        f"efSearch={hnsw.ef_search}), inner product)"
    )


def build_faiss(vectors: np.ndarray, ids: np.ndarray | None = None, hnsw: HnswSettings = DEFAULT_HNSW) -> Any:
    """The FAISS index over the vectors: exact below ``hnsw.from_passages`` rows, HNSW above.

    Args:
        vectors: one normalised vector a row.
        ids: each row's passage id (default: the row numbers).
        hnsw: from how many rows the index is a graph, and the graph's parameters.
    """
    import faiss

    dim = vectors.shape[1]
    if len(vectors) < hnsw.from_passages:
        inner = faiss.IndexFlatIP(dim)
    else:
        inner = faiss.IndexHNSWFlat(dim, hnsw.m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = hnsw.ef_construction
        inner.hnsw.efSearch = hnsw.ef_search
    index = faiss.IndexIDMap(inner)
    if len(vectors):
        row_ids = np.arange(len(vectors), dtype=np.int64) if ids is None else ids
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), row_ids.astype(np.int64))
    return index


class FaissStore:
    """Passages held in memory (vectors mapped from disk), searched by FAISS and BM25.

    Args:
        dim: the vectors' dimension.
        hnsw: from how many passages dense search is a graph, and its parameters.
    """

    kind = "faiss"
    shared = False

    def __init__(self, dim: int, hnsw: HnswSettings = DEFAULT_HNSW) -> None:
        self.dim = dim
        self.hnsw = hnsw
        self.ids = np.zeros(0, dtype=np.int64)
        self.article = np.zeros(0, dtype=np.int32)
        self.articles: list[tuple[str, str, str]] = []  # (article id, date, source) per code
        self.vectors: np.ndarray = np.zeros((0, dim), dtype=np.float32)
        self.bm25 = BM25()
        self.index = build_faiss(self.vectors, self.ids, hnsw)
        self._order = np.zeros(0, dtype=np.int64)

    def count(self) -> int:
        return len(self.ids)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "index": faiss_kind(self.count(), self.hnsw),
            "bm25": {"k1": self.bm25.k1, "b": self.bm25.b, "tokenizer": "jieba.lcut_for_search"},
        }

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The rows of the ids the store holds (others are left out)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(self.ids) or not len(ids):
            return np.zeros(0, dtype=np.int64)
        sorted_ids = self.ids[self._order]
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return self._order[at[sorted_ids[at] == ids]]

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: Sequence[PassageFields]) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not len(ids) == len(vectors) == len(fields):
            raise ValueError("add: ids, vectors and fields differ in length")
        if len(self.rows(ids)) or len(np.unique(ids)) != len(ids):
            raise ValueError("add: a passage id is already in the store")
        before = self.count()
        codes = {a: n for n, (a, _, _) in enumerate(self.articles)}
        for f in fields:
            if f.article_id not in codes:
                codes[f.article_id] = len(self.articles)
                self.articles.append((f.article_id, f.date, f.source))
        new_article = np.asarray([codes[f.article_id] for f in fields], dtype=np.int32)
        rows: list[int | list[str]] = [*range(before), *(tokenize(f.text) for f in fields)]
        self.bm25 = BM25(self.bm25.k1, self.bm25.b).from_rows(rows, self.bm25)
        self.ids = np.concatenate([self.ids, ids])
        self.article = np.concatenate([self.article, new_article])
        self.vectors = np.concatenate([self.vectors, vectors]) if before else vectors
        self._order = np.argsort(self.ids, kind="stable")
        if faiss_kind(self.count(), self.hnsw) != faiss_kind(self.index.ntotal, self.hnsw):
            self.index = build_faiss(self.vectors, self.ids, self.hnsw)
        elif len(ids):
            self.index.add_with_ids(vectors, ids)

    def delete(self, ids: np.ndarray) -> None:
        gone = self.rows(ids)
        if not len(gone):
            return
        keep = np.ones(self.count(), dtype=bool)
        keep[gone] = False
        rows = np.flatnonzero(keep)
        self.bm25 = BM25(self.bm25.k1, self.bm25.b).from_rows(rows.tolist(), self.bm25)
        removed = self.ids[gone]
        self.ids, self.article, self.vectors = self.ids[rows], self.article[rows], self.vectors[rows]
        self._order = np.argsort(self.ids, kind="stable")
        if faiss_kind(self.count(), self.hnsw).startswith("IndexIDMap(IndexFlatIP"):
            if self.index.ntotal >= self.hnsw.from_passages:  # a graph index shrunk below the limit
                self.index = build_faiss(self.vectors, self.ids, self.hnsw)
            else:
                self.index.remove_ids(removed)
        else:  # FAISS cannot remove points from an HNSW graph: rebuild it
            self.index = build_faiss(self.vectors, self.ids, self.hnsw)

    def finish(self) -> None:
        """Nothing to do: each generation has its own copy of the store."""

    def _allowed(self, where: Where) -> np.ndarray:
        ok = [n for n, (a, date, source) in enumerate(self.articles) if where.matches(a, date, source)]
        return np.isin(self.article, np.asarray(ok, dtype=np.int32))

    def search(self, vector: np.ndarray, k: int, where: Where | None = None) -> Ranking:
        if not self.count():
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        if where is not None:
            rows = np.flatnonzero(self._allowed(where))
            if not len(rows):
                return []
            scores = self.vectors[rows] @ query[0]
            top = np.argsort(-scores, kind="stable")[:k]
            return [(int(self.ids[rows[i]]), float(scores[i])) for i in top]
        found, ids = self.index.search(query, min(k, self.count()))
        return [(int(i), float(s)) for i, s in zip(ids[0], found[0], strict=True) if i >= 0]

    def search_bm25(
        self,
        tokens: Sequence[str],
        k: int,
        weights: Mapping[str, float] | None = None,
        where: Where | None = None,
    ) -> Ranking:
        allowed = self._allowed(where) if where is not None else None
        return [(int(self.ids[row]), s) for row, s in self.bm25.search(tokens, k, weights, allowed)]

    def idf(self, term: str) -> float:
        return self.bm25.idf(term)

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        rows = self.rows(ids)
        if len(rows) != len(ids):
            raise KeyError("vectors_of: a passage id is not in the store")
        return np.asarray(self.vectors[rows], dtype=np.float32)

    def save(self, folder: Path) -> list[str]:
        import faiss

        np.save(folder / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
        with open(folder / "store_rows.npz", "wb") as handle:
            np.savez(handle, ids=self.ids, article=self.article)
        (folder / "store_articles.json").write_text(
            json.dumps(self.articles, ensure_ascii=False), encoding="utf-8"
        )
        try:
            faiss.write_index(self.index, str(folder / "vectors.faiss"))
        except RuntimeError as exc:  # FAISS's failed write (disk full) as the OSError it was
            raise os_error_in(str(exc)) from exc
        self.bm25.save(folder)
        return list(FILES)

    @classmethod
    def from_arrays(
        cls,
        ids: np.ndarray,
        article: np.ndarray,
        articles: list[tuple[str, str, str]],
        vectors: np.ndarray,
        bm25: BM25,
        index: Any = None,
        hnsw: HnswSettings = DEFAULT_HNSW,
    ) -> FaissStore:
        """A store over columns already made (row r: passage ``ids[r]`` of article code
        ``article[r]``, BM25 row r); the FAISS index is built when not given.

        Raises:
            ValueError: the columns disagree on their counts.
        """
        store = cls(vectors.shape[1], hnsw)
        store.ids, store.article, store.articles, store.vectors, store.bm25 = (
            ids,
            article,
            articles,
            vectors,
            bm25,
        )
        store.index = build_faiss(vectors, ids, hnsw) if index is None else index
        store._order = np.argsort(ids, kind="stable")
        n = len(ids)
        if {n, len(article), vectors.shape[0], store.index.ntotal, bm25.n_docs} != {n} or (
            n and int(article.max()) >= len(articles)
        ):
            raise ValueError("the store's files disagree on their counts")
        return store

    @classmethod
    def load(cls, folder: Path, dim: int) -> FaissStore:
        """Read what :meth:`save` wrote; the vectors are mapped, not read.

        Raises:
            ValueError, OSError, RuntimeError: a file is damaged or the files disagree.
        """
        import faiss

        with np.load(folder / "store_rows.npz") as arrays:
            ids, article = arrays["ids"], arrays["article"]
        articles = [tuple(a) for a in json.loads((folder / "store_articles.json").read_text("utf-8"))]
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ValueError(f"the store's vectors have shape {vectors.shape}, not (n, {dim})")
        index = faiss.read_index(str(folder / "vectors.faiss"))
        return cls.from_arrays(ids, article, articles, vectors, BM25.load(folder), index)  # type: ignore[arg-type]
