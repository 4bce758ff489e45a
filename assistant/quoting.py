"""Score the sentences of the top passages as quotes for a question.

A candidate quote is one sentence, or two adjacent sentences of the same
paragraph (7.7% of CMRC 2018 answers run across a 。 or ；). Each candidate
gets a handful of features, and a logistic model turns them into the
probability that the quote holds the answer. The weights were fitted on the
CMRC 2018 trial set with two-fold cross-validation by ``bench/tune_quotes.py``
(figures in docs/benchmarks.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.lexical import BM25, bigrams_of, tokenize
from assistant.retrieval import Hit

# Fitted by bench/tune_quotes.py on CMRC 2018 (see docs/benchmarks.md).
QUOTE_INTERCEPT = -11.722
QUOTE_WEIGHTS = {
    "words": 2.335,
    "bigrams": -7.197,
    "dense": 32.433,
    "prior": 1.988,
    "before": -0.446,
    "after": 0.28,
    "novelty": 1.952,
    "answer_type": 1.33,
    "pair": -0.019,
    "length": 1.188,
    "words_local": -0.784,
    "bigrams_local": 14.894,
    "before_local": -0.851,
    "after_local": -2.444,
}
FEATURES = tuple(QUOTE_WEIGHTS)
# The answerable model reads the question-level evidence: the top quote's
# probability, and the best word overlap, bigram overlap and e5 similarity.
ANSWERABLE_INTERCEPT = -12.671
ANSWERABLE_WEIGHTS = {"top_quote": 2.642, "words": 7.324, "bigrams": -0.215, "dense": 87.712}


_NUMBER_Q = re.compile(
    r"多少|几[个名位次年岁天种项座条人]?|多[大长高远重久深宽]|百分|比例|数量|人口|面积|排名"
)
_TIME_Q = re.compile(r"何时|什么时候|哪一?年|哪一?天|几月|几日|时间|年代|日期|世纪|多久")
_WHO_Q = re.compile(r"谁|哪位|什么人|哪个人")
_PLACE_Q = re.compile(r"哪里|哪儿|何处|什么地方|哪个国家|哪个城市|位于|在哪")
_ORG_Q = re.compile(
    r"[哪什何][么家个所]?(?:企业|公司|单位|机构|部门|组织|集团|银行|大学|学校|医院|媒体|报纸|政党|球队)"
)
_ORG_SUFFIX = (
    "局",
    "公司",
    "集团",
    "企业",
    "银行",
    "委员会",
    "协会",
    "中心",
    "单位",
    "厂",
    "部",
    "院",
    "社",
    "大学",
    "学院",
    "组织",
    "党委",
    "支部",
    "队",
)
_NUMBER_A = re.compile(r"[0-9０-９]|[一二三四五六七八九十百千万亿两]+[个名位次年岁天种项座条人%％万亿元米]")
_TIME_A = re.compile(r"[0-9０-９一二三四五六七八九十〇零]+[年月日]|世纪|年代|朝|时期|期间")
_PLACE_A = re.compile(r"[省市县区镇村州国岛山河湖路街]|位于|在")


@dataclass(frozen=True)
class Candidate:
    """A span of one or two sentences considered for quoting."""

    hit: Hit
    hit_rank: int
    start: int
    end: int
    paragraph: int
    text: str
    features: tuple[float, ...]

    def probability(self) -> float:
        """How likely this quote holds the answer, by the fitted quote model."""
        return logistic(QUOTE_INTERCEPT, QUOTE_WEIGHTS.values(), self.features)


def logistic(intercept: float, weights: Iterable[float], features: Iterable[float]) -> float:
    """``1 / (1 + exp(-(intercept + weights · features)))``."""
    z = intercept + sum(w * f for w, f in zip(weights, features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def answerable_probability(candidates: Sequence[Candidate], top_quote: float) -> float:
    """How likely the articles answer the question at all, from its best evidence."""
    if not candidates:
        return 0.0
    best = [max(c.features[i] for c in candidates) for i in range(3)]
    return logistic(ANSWERABLE_INTERCEPT, ANSWERABLE_WEIGHTS.values(), [top_quote, *best])


def answer_type(question: str, text: str, tokens: set[str], question_terms: set[str]) -> float:
    """1 when the question asks for an organisation/time/number/place/person and the text has one.

    0 when it asks for one the text lacks, 0.5 when the question asks for none.
    An organisation counts only when it is not named in the question itself.
    """
    if _ORG_Q.search(question):
        return 1.0 if any(t.endswith(_ORG_SUFFIX) and t not in question_terms for t in tokens) else 0.0
    checks = ((_TIME_Q, _TIME_A), (_NUMBER_Q, _NUMBER_A), (_PLACE_Q, _PLACE_A))
    for asked, present in checks:
        if asked.search(question):
            return 1.0 if present.search(text) else 0.0
    if _WHO_Q.search(question):
        return 1.0
    return 0.5


def build_candidates(
    question: str,
    terms: list[str],
    hits: list[Hit],
    bm25: BM25,
    passages: int,
    sentence_vectors: np.ndarray | None,
    query_vector: np.ndarray | None,
) -> list[Candidate]:
    """Candidates from the sentences of the first ``passages`` hits, each with features.

    ``sentence_vectors`` holds the index's sentence vectors (rows named by
    ``PassageRecord.sentence_rows``); without it or a query vector, the dense
    feature is left at its floor.
    """
    sentences: list[tuple[int, Hit, int, int, int, str]] = []
    rows: list[int] = []
    seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits[:passages], 1):
        for (start, end, paragraph), row in zip(
            hit.passage.sentences, hit.passage.sentence_rows, strict=True
        ):
            if (hit.passage.article_id, start) not in seen:
                seen.add((hit.passage.article_id, start))
                offset = start - hit.passage.start
                text = hit.passage.text[offset : offset + end - start]
                sentences.append((rank, hit, start, end, paragraph, text))
                rows.append(row)
    if not sentences:
        return []
    n = len(sentences)
    token_sets = [set(tokenize(s[5])) for s in sentences]
    bigram_sets = [bigrams_of(s[5]) for s in sentences]
    q_terms = set(terms)
    q_bigrams = bigrams_of(question)
    # Global weight: IDF in the whole index. Local weight: rarity among these
    # candidates, so the article's subject, named in every sentence, counts
    # less than the words that single out one sentence.
    idf = {t: bm25.idf(t) for t in q_terms}
    local_terms = {t: idf[t] * math.log((n + 1) / (sum(t in ts for ts in token_sets) + 0.5)) for t in q_terms}
    local_bigrams = {g: math.log((n + 1) / (sum(g in bs for bs in bigram_sets) + 0.5)) for g in q_bigrams}

    def share(weights: dict[str, float], present: set[str]) -> float:
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in present) / total if total > 0 else 0.0

    words = [share(idf, ts) for ts in token_sets]
    focus = [share(local_bigrams, bs) for bs in bigram_sets]
    if sentence_vectors is not None and query_vector is not None:
        dense = [float(x) for x in sentence_vectors[rows].astype(np.float32) @ query_vector]
    else:
        dense = [0.0] * n
    out = []
    for i, (rank, hit, _, _, paragraph, _) in enumerate(sentences):
        spans = [(i, i)]
        if i + 1 < n and sentences[i + 1][1] is hit and sentences[i + 1][4] == paragraph:
            spans.append((i, i + 1))
        for a, b in spans:
            start, end = sentences[a][2], sentences[b][3]
            text = hit.passage.text[start - hit.passage.start : end - hit.passage.start]
            tokens = set().union(*token_sets[a : b + 1])
            grams = bigrams_of(text)
            features = (
                share(idf, tokens),
                len(q_bigrams & grams) / len(q_bigrams) if q_bigrams else 0.0,
                max(dense[a : b + 1]) - 0.8,
                1.0 / rank,
                words[a - 1] if a > 0 and sentences[a - 1][1] is hit else 0.0,
                words[b + 1] if b + 1 < n and sentences[b + 1][1] is hit else 0.0,
                len(grams - q_bigrams) / max(len(grams), 1),
                answer_type(question, text, tokens, q_terms),
                float(b > a),
                math.log1p(len(text)) / 5,
                share(local_terms, tokens),
                share(local_bigrams, grams),
                focus[a - 1] if a > 0 and sentences[a - 1][1] is hit else 0.0,
                focus[b + 1] if b + 1 < n and sentences[b + 1][1] is hit else 0.0,
            )
            out.append(Candidate(hit, rank, start, end, paragraph, text, features))
    return out
