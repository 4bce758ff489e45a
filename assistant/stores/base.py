"""The passage-store seam: what indexing and retrieval ask of a vector and BM25 engine.

A store holds, for every passage id, its vector, its BM25 terms and the scalar fields a
filter reads (article, source, date). Passage ids are chosen by the caller and stay the
same across updates, so an update adds and deletes only the passages of the articles that
changed. Nothing above this module knows which engine answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class PassageFields:
    """The scalar fields and text of one passage, as a store keeps them."""

    article_id: str
    paragraph: int
    start: int
    end: int
    date: str
    source: str
    text: str


@dataclass(frozen=True)
class Where:
    """A filter in the store's terms: every condition given must hold (dates inclusive).

    Dates compare as text, so ``2020``, ``2020-02`` and ``2020-02-05`` all work as bounds,
    and passages without a date are left out when a bound is given.
    """

    articles: frozenset[str] | None = None
    source: str | None = None
    since: str | None = None
    until: str | None = None

    def matches(self, article_id: str, date: str, source: str) -> bool:
        """Whether a passage with these fields passes."""
        if self.articles is not None and article_id not in self.articles:
            return False
        if self.source is not None and source != self.source:
            return False
        if (self.since or self.until) and not date:
            return False
        if self.since and date < self.since:
            return False
        return not (self.until and date[: len(self.until)] > self.until)


Ranking = list[tuple[int, float]]


class PassageStore(Protocol):
    """A passage store: vectors, BM25 and filter fields keyed by stable passage ids.

    ``shared`` stores (a server) hold one collection for every index generation: they may
    hold points the live generation does not (an update's, before it is live), so callers
    keep only the ids the live passage table holds, and deletions wait for :meth:`finish`.
    A store that is not shared is written whole into each generation folder.
    """

    kind: str
    shared: bool

    def add(self, ids: np.ndarray, vectors: np.ndarray, fields: Sequence[PassageFields]) -> None:
        """Insert passages (normalised float32 vectors, one row per id)."""
        ...

    def delete(self, ids: np.ndarray) -> None:
        """Remove passages from the next generation; ids the store does not hold are ignored."""
        ...

    def finish(self) -> None:
        """Called once the generation saved with this store is live: a shared store carries
        out the deletions only now, so the generation before never lost a passage."""
        ...

    def search(self, vector: np.ndarray, k: int, where: Where | None = None) -> Ranking:
        """The ``k`` passages nearest a normalised query vector, as ``(id, cosine)`` best first."""
        ...

    def search_bm25(
        self,
        tokens: Sequence[str],
        k: int,
        weights: Mapping[str, float] | None = None,
        where: Where | None = None,
    ) -> Ranking:
        """The ``k`` best BM25 matches with a positive score, as ``(id, score)`` best first.

        ``weights`` scales some query terms' contributions (1 for the others).
        """
        ...

    def idf(self, term: str) -> float:
        """The term's inverse document frequency over the store's passages."""
        ...

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these passages, in the order asked."""
        ...

    def count(self) -> int:
        """How many passages the store holds."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records of the store (its kind first)."""
        ...

    def save(self, folder: Path) -> list[str]:
        """Write what the generation folder keeps of the store; returns the file names written."""
        ...
