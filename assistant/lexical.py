"""Chinese BM25 over jieba tokens, kept on disk beside the vectors.

The passage-term matrix holds each term's BM25 weight for each passage, so a
query is a sum of a few sparse columns: no per-query rebuild, no Python loop
over passages.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

# Function words and question words: they say what is asked, not what about.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "等",
        "也",
        "都",
        "就",
        "而",
        "并",
        "又",
        "被",
        "把",
        "对",
        "从",
        "向",
        "为",
        "以",
        "于",
        "由",
        "之",
        "其",
        "这",
        "那",
        "这个",
        "那个",
        "一个",
        "有",
        "没有",
        "个",
        "着",
        "过",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "什么",
        "怎么",
        "怎样",
        "如何",
        "为何",
        "为什么",
        "哪",
        "哪个",
        "哪些",
        "哪里",
        "哪儿",
        "哪家",
        "哪位",
        "哪年",
        "哪天",
        "谁",
        "几",
        "多少",
        "多久",
        "多长",
        "多大",
        "是否",
        "是不是",
        "请问",
        "请",
        "应该",
        "可以",
        "能",
        "会",
        "要",
        "该",
        "他",
        "她",
        "它",
        "他们",
        "她们",
        "它们",
        "我",
        "我们",
        "你",
        "你们",
    ]
)


@lru_cache(maxsize=1)
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=1)
def _to_simplified() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional characters in ``text`` turned simplified (醫院 → 医院); the rest unchanged."""
    return _to_simplified().convert(text)


def is_simplified(text: str) -> bool:
    """Whether ``text`` is in simplified script: at most 1% of its characters change under t2s."""
    changed = sum(a != b for a, b in zip(text, to_simplified(text), strict=False))
    return changed <= len(text) / 100


def normalize(text: str) -> str:
    """Fold width, case and script: ＡＢＣ, abc and ABC match, and so do 醫院 and 医院.

    Only matching uses this; quotes are always the original text.
    """
    return _to_simplified().convert(unicodedata.normalize("NFKC", text).lower())


def tokenize(text: str) -> list[str]:
    """jieba search-mode tokens of ``text``, without punctuation or stopwords."""
    jieba = _jieba()
    return [
        token
        for token in jieba.lcut_for_search(normalize(text))  # type: ignore[attr-defined]
        if token.strip() and any(ch.isalnum() for ch in token) and token not in STOPWORDS
    ]


def bigrams_of(text: str) -> set[str]:
    """Character bigrams within runs of word characters, after normalising."""
    out = set()
    for run in re.findall(r"\w+", normalize(text)):
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out


class BM25:
    """Okapi BM25 over a passages × terms count matrix, with the weight matrix precomputed.

    The counts are what is stored; the weights are derived from them on load.
    An update builds the new index's counts from the old rows it keeps and the
    new passages' tokens (:meth:`from_rows`), so no token list is ever stored
    and unchanged passages are never tokenised again.

    Args:
        k1: term-frequency saturation.
        b: length normalisation.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.vocab: dict[str, int] = {}
        self.idf_values = np.zeros(0, dtype=np.float32)
        self.counts = sparse.csc_matrix((0, 0), dtype=np.float32)
        self.weights = sparse.csc_matrix((0, 0), dtype=np.float32)

    @property
    def n_docs(self) -> int:
        return int(self.weights.shape[0])

    def fit(self, docs: Sequence[Sequence[str]]) -> BM25:
        """Index tokenised passages; row ``i`` of the matrix is ``docs[i]``."""
        return self.from_rows(list(docs), None)

    def from_rows(self, rows: Sequence[int | Sequence[str]], previous: BM25 | None) -> BM25:
        """Index passages given as a row of ``previous`` (an int) or a token list, in order.

        Terms no passage uses any more are dropped from the vocabulary.
        """
        vocab = dict(previous.vocab) if previous is not None else {}
        old_rows = [r for r in rows if isinstance(r, int)]
        r_idx, c_idx, tfs = [], [], []
        new_count = 0
        for doc in rows:
            if isinstance(doc, int):
                continue
            for term, tf in Counter(doc).items():
                r_idx.append(new_count)
                c_idx.append(vocab.setdefault(term, len(vocab)))
                tfs.append(tf)
            new_count += 1
        width = len(vocab)
        fresh = sparse.csr_matrix(
            (
                np.asarray(tfs, dtype=np.float32),
                (np.asarray(r_idx, dtype=np.int64), np.asarray(c_idx, dtype=np.int64)),
            ),
            shape=(new_count, width),
        )
        if previous is not None and old_rows:
            kept = previous.counts.tocsr()[np.asarray(old_rows, dtype=np.int64)]
            kept.resize((len(old_rows), width))
        else:
            kept = sparse.csr_matrix((0, width), dtype=np.float32)
        # Rows of [kept; fresh] in the order asked for.
        is_old = np.fromiter((isinstance(doc, int) for doc in rows), dtype=bool, count=len(rows))
        order = np.empty(len(rows), dtype=np.int64)
        order[is_old] = np.arange(len(old_rows))
        order[~is_old] = len(old_rows) + np.arange(new_count)
        stacked = sparse.vstack([kept, fresh], format="csr")[order]
        used = np.flatnonzero(np.diff(stacked.tocsc().indptr))
        terms = sorted(vocab, key=vocab.__getitem__)
        self.vocab = {terms[c]: i for i, c in enumerate(used)}
        self._weigh(stacked[:, used].tocsc())
        return self

    def _weigh(self, counts: sparse.csc_matrix) -> None:
        """Derive the IDFs and the BM25 weight of every (passage, term) from the counts."""
        counts.sort_indices()
        n = counts.shape[0]
        df = np.diff(counts.indptr).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        avg = float(lengths.mean()) if n else 1.0
        tf = counts.data.astype(np.float32)
        rows = counts.indices
        cols = np.repeat(np.arange(counts.shape[1]), np.diff(counts.indptr))
        norm = self.k1 * (1 - self.b + self.b * lengths[rows] / max(avg, 1.0))
        data = idf[cols] * tf * (self.k1 + 1) / (tf + norm)
        self.counts = counts
        self.idf_values = idf
        self.weights = sparse.csc_matrix((data.astype(np.float32), rows, counts.indptr), shape=counts.shape)

    def idf(self, term: str) -> float:
        """The term's IDF, or the IDF of a term seen once when it is unknown."""
        column = self.vocab.get(term)
        if column is None:
            n = self.n_docs
            return math.log1p((n - 0.5) / 1.5) if n else 1.0
        return float(self.idf_values[column])

    def scores(self, query_tokens: Iterable[str], weights: Mapping[str, float] | None = None) -> np.ndarray:
        """BM25 score of every passage for the query (zeros where no term matches).

        ``weights`` scales some terms' contributions (1 for the others): a
        follow-up's carried-over terms count for less than its own.
        """
        columns: dict[int, float] = {}
        for t in query_tokens:
            if t in self.vocab:
                columns[self.vocab[t]] = (weights or {}).get(t, 1.0)
        if not columns:
            return np.zeros(self.n_docs, dtype=np.float32)
        cols = sorted(columns)
        factors = np.asarray([columns[c] for c in cols], dtype=np.float32)
        return np.asarray(self.weights[:, cols] @ factors, dtype=np.float32).ravel()

    def search(
        self,
        query_tokens: Iterable[str],
        k: int,
        weights: Mapping[str, float] | None = None,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """The ``k`` best ``(row, score)`` pairs with a positive score, best first.

        ``allowed``, when given, is a boolean mask of the rows that may be returned.
        """
        scores = self.scores(query_tokens, weights)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        k = min(k, int(np.count_nonzero(scores)))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top]

    def save(self, folder: Path) -> None:
        """Write ``bm25.npz`` (the counts) and ``bm25_vocab.json`` into ``folder``."""
        c = self.counts
        np.savez(
            folder / "bm25.npz",
            counts=c.data.astype(np.uint16 if (c.data.max(initial=0) < 2**16) else np.float32),
            indices=c.indices.astype(np.int32),
            indptr=c.indptr.astype(np.int64),
            shape=np.asarray(c.shape),
        )
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        meta = {"k1": self.k1, "b": self.b, "terms": terms}
        (folder / "bm25_vocab.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> BM25:
        """Read what :meth:`save` wrote and derive the weights."""
        meta = json.loads((folder / "bm25_vocab.json").read_text(encoding="utf-8"))
        arrays = np.load(folder / "bm25.npz")
        bm25 = cls(k1=meta["k1"], b=meta["b"])
        bm25.vocab = {term: i for i, term in enumerate(meta["terms"])}
        counts = sparse.csc_matrix(
            (arrays["counts"].astype(np.float32), arrays["indices"], arrays["indptr"]),
            shape=tuple(arrays["shape"]),
        )
        if counts.shape[1] != len(bm25.vocab):
            raise ValueError("BM25 vocabulary and matrix disagree")
        bm25._weigh(counts)
        return bm25
