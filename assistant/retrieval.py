"""Hybrid search: the store's dense and BM25 rankings fused by weighted reciprocal rank."""

from __future__ import annotations

import contextlib
import datetime
import re
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Literal

import numpy as np

from assistant.config import FusionWeights
from assistant.embedding import EmbedderLike
from assistant.errors import QuestionError
from assistant.lexical import is_simplified, to_simplified, tokenize
from assistant.manifest import ArticleRecord
from assistant.store import IndexData, PassageRecord
from assistant.stores import Where

Mode = Literal["hybrid", "bm25", "dense"]
# The corpus's script is read off the start of its passage text: enough characters to tell.
SCRIPT_SAMPLE = 20_000
MODES: tuple[Mode, ...] = ("hybrid", "bm25", "dense")


_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def check_date(value: str, label: str = "date") -> None:
    """Refuse a date bound that is not a real year, month or day (``2020``, ``2020-02``, ``2020-02-29``).

    Raises:
        QuestionError: the value is malformed or names no such month or day.
    """
    match = _DATE.fullmatch(value)
    if match:
        year, month, day = (int(part) if part else 1 for part in match.groups())
        with contextlib.suppress(ValueError):
            datetime.date(year, month, day)
            return
    raise QuestionError(
        f"{label} date {value!r} is not a real date: use YYYY, YYYY-MM or YYYY-MM-DD, e.g. 2020-02-29"
    )


@dataclass(frozen=True)
class Filter:
    """Restrict a question to one article, one source, or a date range (inclusive).

    Dates compare as text, so ``2020``, ``2020-02`` and ``2020-02-05`` all work
    as bounds; articles without a date are left out when a range is given.
    """

    article: str | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        # Refuse bounds that name no day (2020-02-30, 2020-13): compared as text
        # they would silently match some articles and miss others.
        for label, value in (("since", self.since), ("until", self.until)):
            if value is not None:
                check_date(value, label)
        if self.since and self.until:
            n = min(len(self.since), len(self.until))  # 2020-02-05 lies within until 2020-02
            if self.since[:n] > self.until[:n]:
                raise QuestionError(
                    f"the date range is empty: since {self.since} is after until {self.until}"
                )

    def __bool__(self) -> bool:
        return any((self.article, self.source, self.since, self.until))

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v]
        return ", ".join(parts) or "none"

    def matches(self, article_id: str, meta: ArticleRecord) -> bool:
        """Whether an article passes the filter."""
        if self.article and self.article not in (article_id, meta.title):
            return False
        if self.source and (meta.source or "") != self.source:
            return False
        date = meta.date or ""
        if (self.since or self.until) and not date:
            return False
        if self.since and date < self.since:
            return False
        return not (self.until and date[: len(self.until)] > self.until)

    def to_where(self, articles: dict[str, ArticleRecord]) -> Where:
        """The filter in the store's terms: an article named by its title becomes its ids."""
        named = None
        if self.article:
            named = frozenset(a for a, meta in articles.items() if self.article in (a, meta.title))
        return Where(named, self.source, self.since, self.until)


@dataclass(frozen=True)
class Hit:
    """A ranked passage and its fused score."""

    passage: PassageRecord
    score: float


def fuse(
    dense: list[tuple[int, float]], lexical: list[tuple[int, float]], weights: FusionWeights
) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of two ``(id, score)`` rankings, best first."""
    fused: dict[int, float] = {}
    for weight, ranking in ((weights.dense, dense), (weights.bm25, lexical)):
        for rank, (pid, _) in enumerate(ranking, 1):
            fused[pid] = fused.get(pid, 0.0) + weight / (weights.k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def _embed_question(embedder: EmbedderLike, question: str, simplified: bool) -> np.ndarray:
    """The question's query vector (read-only: it is shared through the cache).

    Over articles in simplified script (``simplified``), a question in traditional script
    is embedded in simplified: e5 matches a script best against itself (醫院 is nearer
    医院 in simplified than as written).
    """
    vector = embedder.embed_queries([to_simplified(question) if simplified else question])[0]
    vector.flags.writeable = False
    return vector


class Retriever:
    """Searches one loaded index with one embedding model."""

    def __init__(
        self, index: IndexData, embedder: EmbedderLike, weights: FusionWeights | None = None
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.weights = weights or FusionWeights()
        self.simplified_corpus = is_simplified(index.passages.text[:SCRIPT_SAMPLE])
        # Follow-ups re-read earlier turns: remember recent questions' vectors. The cache wraps a
        # function of the embedder, not a bound method: that would be a reference cycle
        # (self → cache → method → self) keeping a swapped-out index mapped until gc ran.
        self.embed_question = lru_cache(maxsize=256)(
            partial(_embed_question, embedder, simplified=self.simplified_corpus)
        )

    def search(
        self,
        question: str,
        k: int = 10,
        mode: Mode = "hybrid",
        query_vector: np.ndarray | None = None,
        query_tokens: list[str] | None = None,
        token_weights: dict[str, float] | None = None,
        where: Filter | None = None,
        prior_article: str | None = None,
        prior_weight: float = 0.0,
    ) -> list[Hit]:
        """The ``k`` best passages for ``question``.

        Args:
            question: the user's question.
            k: how many hits to return.
            mode: ``hybrid`` fuses both rankings; ``bm25`` and ``dense`` use one.
            query_vector: the question's vector, when the caller already has it.
            query_tokens: BM25 tokens to use instead of tokenising ``question``.
            token_weights: BM25 weights of some tokens (1 for the rest).
            where: only passages of the articles the filter lets through.
            prior_article: an article to favour (a follow-up's previous answer):
                its passages gain ``prior_weight / (k + 1)``, what a first place
                in a third ranking of that weight would give.
        """
        depth = max(k, self.weights.depth)
        store = self.index.store
        within = where.to_where(self.index.articles) if where else None
        dense: list[tuple[int, float]] = []
        lexical: list[tuple[int, float]] = []
        if mode != "bm25":
            vector = self.embed_question(question) if query_vector is None else query_vector
            dense = self._known(store.search(vector, depth, within))
        if mode != "dense":
            tokens = tokenize(question) if query_tokens is None else query_tokens
            lexical = self._known(store.search_bm25(tokens, depth, token_weights, within))
        if mode == "dense":
            ranking = dense
        elif mode == "bm25":
            ranking = lexical
        else:
            ranking = fuse(dense, lexical, self.weights)
        if prior_article and prior_weight:
            bonus = prior_weight / (self.weights.k + 1)
            favoured = set(self.index.passages.ids_of({prior_article}).tolist())
            ranking = sorted(
                ((pid, score + bonus * (pid in favoured)) for pid, score in ranking),
                key=lambda item: (-item[1], item[0]),
            )
        return [Hit(self.index.passages.by_id(pid), score) for pid, score in ranking[:k]]

    def _known(self, ranking: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """The ranking without ids the live passage table does not hold: a shared store can
        hold points of an update that never became live."""
        if not ranking:
            return ranking
        known = self.index.passages.holds(np.fromiter((pid for pid, _ in ranking), np.int64, len(ranking)))
        return [item for item, ok in zip(ranking, known, strict=True) if ok]
