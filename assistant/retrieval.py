"""Hybrid search: dense (FAISS) and BM25 rankings fused by weighted reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from assistant.indexing import EmbedderLike
from assistant.lexical import tokenize
from assistant.store import IndexData, PassageRecord

Mode = Literal["hybrid", "bm25", "dense"]
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "dense")


@dataclass(frozen=True)
class FusionWeights:
    """Weighted RRF: ``score = dense / (k + dense_rank) + bm25 / (k + bm25_rank)``.

    The defaults were chosen on the CMRC 2018 trial set (see docs/benchmarks.md).
    """

    dense: float = 1.0
    bm25: float = 1.0
    k: float = 10.0
    depth: int = 100


@dataclass(frozen=True)
class Hit:
    """A ranked passage with the evidence from each ranking."""

    passage: PassageRecord
    score: float
    dense_rank: int | None = None
    dense_score: float | None = None
    bm25_rank: int | None = None
    bm25_score: float | None = None


def fuse(
    dense: list[tuple[int, float]], lexical: list[tuple[int, float]], weights: FusionWeights
) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of two ``(id, score)`` rankings, best first."""
    fused: dict[int, float] = {}
    for weight, ranking in ((weights.dense, dense), (weights.bm25, lexical)):
        for rank, (pid, _) in enumerate(ranking, 1):
            fused[pid] = fused.get(pid, 0.0) + weight / (weights.k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


class Retriever:
    """Searches one loaded index with one embedding model."""

    def __init__(
        self, index: IndexData, embedder: EmbedderLike, weights: FusionWeights | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or FusionWeights()

    def embed_question(self, question: str) -> np.ndarray:
        """The question's query vector."""
        return self.embedder.embed_queries([question])[0]

    def search(
        self,
        question: str,
        k: int = 10,
        mode: Mode = "hybrid",
        query_vector: np.ndarray | None = None,
        query_tokens: list[str] | None = None,
    ) -> list[Hit]:
        """The ``k`` best passages for ``question``.

        Args:
            question: the user's question.
            k: how many hits to return.
            mode: ``hybrid`` fuses both rankings; ``bm25`` and ``dense`` use one.
            query_vector: the question's vector, when the caller already has it.
            query_tokens: BM25 tokens to use instead of tokenising ``question``.
        """
        depth = max(k, self.weights.depth)
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode != "bm25":
            vector = self.embed_question(question) if query_vector is None else query_vector
            dense = self.index.search_dense(vector, depth)
        if mode != "dense":
            lexical = self.index.bm25.search(
                tokenize(question) if query_tokens is None else query_tokens, depth
            )
        if mode == "dense":
            ranking = dense
        elif mode == "bm25":
            ranking = lexical
        else:
            ranking = fuse(dense, lexical, self.weights)
        dense_at = {pid: (rank, score) for rank, (pid, score) in enumerate(dense, 1)}
        bm25_at = {pid: (rank, score) for rank, (pid, score) in enumerate(lexical, 1)}
        hits = []
        for pid, score in ranking[:k]:
            d_rank, d_score = dense_at.get(pid, (None, None))
            b_rank, b_score = bm25_at.get(pid, (None, None))
            hits.append(Hit(self.index.passages[pid], score, d_rank, d_score, b_rank, b_score))
        return hits
