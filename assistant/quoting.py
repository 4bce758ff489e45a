"""Score the sentences of the top passages as quotes for a question.

A candidate quote is one sentence, or two adjacent sentences of the same
paragraph (7.7% of CMRC 2018 answers run across a 。 or ；). Each candidate
gets a handful of features; a linear ranker scores them, and a softmax over
the question's candidates gives each its share (a conditional logit: fitted to
put the answer-holding candidate first among its rivals, not to score every
sentence on its own). Two small logistic models read the question-level
evidence: whether the articles answer the question at all (abstention), and
how likely the first quote holds the answer (the confidence shown).
All three are fitted by ``bench/tune_quotes.py`` on CMRC 2018, DRCD and the
natural-question sets, cross-validated by article (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.crosslingual import term_groups
from assistant.lexical import bigrams_of, to_simplified, tokenize
from assistant.retrieval import Hit

MODEL_FILE = Path(__file__).with_name("quote_model.json")


class Idf(Protocol):
    """What quoting needs of the passage store: a term's rarity over all passages."""

    def idf(self, term: str) -> float: ...


# The weights of the three models live in quote_model.json, written by bench/tune_quotes.py
# (figures in docs/benchmarks.md). FEATURES names the candidate features, in order.
FEATURES = (
    "words",
    "bigrams",
    "dense",
    "prior",
    "before",
    "after",
    "novelty",
    "answer_type",
    "pair",
    "length",
    "words_local",
    "bigrams_local",
    "before_local",
    "after_local",
    "dense_first",
    "asks",
    "reason",
    "foreign_dense",
    "unit",
)
UNIT = FEATURES.index("unit")
ANSWER_TYPE = FEATURES.index("answer_type")
# The question-level evidence: the first quote's share and score, the best word overlap,
# bigram overlap and e5 similarity of any candidate, whether the question is written in a
# script the articles are not, whether any candidate has the unit the question names, and
# whether the first quote itself has the answer type and the unit asked for (a hard negative's
# best sentence is on topic but lacks exactly that).
EVIDENCE = ("top_share", "top_score", "words", "bigrams", "dense", "foreign", "unit", "top_type", "top_unit")


@dataclass(frozen=True)
class LogisticModel:
    """``1 / (1 + exp(-(intercept + Σ weights[name] · features[name])))``."""

    intercept: float
    weights: dict[str, float]

    def __call__(self, features: Sequence[float]) -> float:
        return logistic(self.intercept, self.weights.values(), features)


@dataclass(frozen=True)
class QuoteModels:
    """The fitted ranker, answerability and confidence models, and the thresholds that read them."""

    quote: dict[str, float]
    answerable: LogisticModel
    first_holds: LogisticModel
    abstain_below: float
    confidence: dict[str, float]
    # Per label, how often a first quote so labelled held the answer on natural questions
    # (cross-validated): what the label means to a reader.
    held: dict[str, float]


@lru_cache(maxsize=1)
def models(path: Path = MODEL_FILE) -> QuoteModels:
    """The models in ``quote_model.json``, checked against the features this code computes."""
    data = json.loads(path.read_text(encoding="utf-8"))

    def model(key: str) -> LogisticModel:
        return LogisticModel(
            float(data[key]["intercept"]), {k: float(v) for k, v in data[key]["weights"].items()}
        )

    loaded = QuoteModels(
        quote={k: float(v) for k, v in data["quote"]["weights"].items()},
        answerable=model("answerable"),
        first_holds=model("first_holds"),
        abstain_below=float(data["abstain_below"]),
        confidence={k: float(v) for k, v in data["confidence"].items()},
        held={k: float(v) for k, v in data["held"].items()},
    )
    if (
        tuple(loaded.quote) != FEATURES
        or tuple(loaded.answerable.weights) != EVIDENCE
        or tuple(loaded.first_holds.weights) != EVIDENCE
    ):
        raise ValueError(f"{path} was fitted for other features; refit it with bench/tune_quotes.py")
    return loaded


# What the question asks for, in Chinese or English. English questions get the Chinese quote,
# so the answer type is read from the question words of either language.
_NUMBER_Q = re.compile(
    r"多少|几[个名位次年岁天种项座条人级]?|多[大长高远重久深宽]|百分|比例|数量|人口|面积|排名"
    r"|\bhow (?:many|much|long|old|large|big|far|high|tall)\b|\bwhat (?:percentage|proportion|number)\b",
    re.I,
)
_TIME_Q = re.compile(
    r"何时|什么时候|哪一?年|哪一?天|几月|几日|时间|年代|日期|世纪|多久"
    r"|\bwhen\b|\bwhat (?:year|date|day|time|month)\b|\b(?:which|what) (?:year|day|month)\b",
    re.I,
)
_WHO_Q = re.compile(r"谁|哪位|什么人|哪个人|\bwho\b|\bwhom\b|\bwhose\b", re.I)
_PLACE_Q = re.compile(
    r"哪里|哪儿|何处|什么地方|哪个国家|哪个城市|位于|在哪"
    r"|\bwhere\b|\b(?:which|what) (?:city|country|province|place|county|region|town)\b",
    re.I,
)
_ORG_Q = re.compile(
    r"[哪什何][么家个所]?(?:企业|公司|单位|机构|部门|组织|集团|银行|大学|学校|医院|媒体|报纸|政党|球队)"
    r"|\b(?:which|what) (?:company|firm|organi[sz]ation|unit|bank|university|school|hospital|newspaper"
    r"|group|enterprise|department|agency|team|party)\b",
    re.I,
)
# Why and how questions want the sentence that gives the reason or the method.
_WHY_Q = re.compile(
    r"为什么|为何|为啥|怎么|怎样|如何|靠什么|凭什么|什么原因|啥原因|原因|因何|咋"
    r"|\bwhy\b|\bhow\b(?! (?:many|much|long|old|large|big|far|high|tall)\b)",
    re.I,
)
_REASON_A = re.compile(
    r"因为|由于|为了|通过|采取|采用|原因|是因|导致|造成|因此|所以|因而|得益于|依靠|依托|靠着|凭借"
    r"|办法|措施|方式|途径|目的|旨在|以便|用于|使得|从而|结果"
)
_ASKS = re.compile(r"[？?]")
_WORDS = re.compile(r"[^\W\d_]{2,}")
MIN_FOREIGN_WORDS = 4
# A number as news writes it: digits of either width, Chinese numerals, approximations.
_NUM = r"[0-9０-９一二三四五六七八九十百千万亿两几数多余上近约·．.，,]*[0-9０-９一二三四五六七八九十百千两]"
_MONEY = r"(?:[万亿千百])?(?:元|美元|港元|日元|法郎|马克|英镑|卢布|欧元|加元|澳元|块钱|块)"
_DURATION = r"(?:个)?(?:年|月|天|日|周|星期|小时|分钟|秒)"
# Measure words a question names after 几/多少 (多少头, 几级, 多少盏, 多少公里): the answer has a number
# with that unit. 几个人 asks for 人 (news writes ３人); the second list holds measure words that
# only count after 几/多少 itself. Not after 那/这/哪: 那几个厂 points back, and 哪几座城市 asks which
# cities, not how many.
_MEASURE_WORDS = (
    "个名位次年岁天种项座条人级块头只张件家所台辆架艘吨米倍度斤户份篇本场届批支枚颗棵层期轮圈分秒"
)
_MORE_MEASURE_WORDS = "盏套席卷磅部集封亩类起趟栋间株朵粒枝首幅册局盘群对双副床笔例宗桩克升成票股道扇匹"
_ASKED_UNIT = re.compile(
    rf"(?<![那这哪])(?:几|多少)(?:个(?=[{_MEASURE_WORDS}]))?"
    rf"(公顷|公斤|公里|千米|千克|平方米|立方米|[{_MEASURE_WORDS}{_MORE_MEASURE_WORDS}])"
)
_UNIT_QUESTIONS = (
    (
        re.compile(
            r"多少钱|花了多少|价格|价钱|票价|投资多少|how much (?:money|did|does|do|was|is|were)|\bcost\b",
            re.I,
        ),
        _MONEY,
    ),
    (re.compile(r"多大(?:了|岁|年纪)?$|多大年纪|几岁|岁数|年龄|how old", re.I), "(?:岁|周岁)"),
    (
        re.compile(r"百分之几|百分比|比例|[率比]是多少|多少个百分点|percent|percentage|\brate\b", re.I),
        r"(?:％|%|个百分点|成)",
    ),
    (re.compile(r"多久|多长时间|how long", re.I), _DURATION),
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
_TIME_A = re.compile(
    r"[0-9０-９一二三四五六七八九十〇零两]+(?:个)?[年月日天周]|小时|分钟|世纪|年代|朝|时期|期间"
)
_PLACE_A = re.compile(r"[省市县区镇村州国岛山河湖路街]|位于|在")


@dataclass(frozen=True)
class Candidate:
    """A span of one or two sentences considered for quoting."""

    hit: Hit
    start: int
    end: int
    paragraph: int
    text: str
    features: tuple[float, ...]

    def score(self) -> float:
        """The ranker's score: only its difference from the other candidates' scores matters."""
        return sum(w * f for w, f in zip(models().quote.values(), self.features, strict=True))


@dataclass(frozen=True)
class Ranked:
    """A candidate with its score and its share of the softmax over the question's candidates."""

    candidate: Candidate
    score: float
    share: float


def rank(candidates: Sequence[Candidate]) -> list[Ranked]:
    """The candidates best first, each with its softmax share."""
    scores = np.asarray([c.score() for c in candidates], dtype=np.float64)
    if not len(scores):
        return []
    shares = shares_of(scores)
    order = np.argsort(-scores, kind="stable")
    return [Ranked(candidates[i], float(scores[i]), float(shares[i])) for i in order]


def logistic(intercept: float, weights: Iterable[float], features: Iterable[float]) -> float:
    """``1 / (1 + exp(-(intercept + weights · features)))``."""
    z = intercept + sum(w * f for w, f in zip(weights, features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def shares_of(scores: np.ndarray) -> np.ndarray:
    """The softmax of a question's candidate scores: each candidate's share."""
    weights = np.exp(scores - scores.max())
    return weights / weights.sum()


def question_evidence(question: str, features: np.ndarray, scores: np.ndarray) -> list[float]:
    """The question-level evidence, in the order of EVIDENCE, from the candidates' features
    (one row each) and scores. bench/tune_quotes.py fits the question models on exactly this."""
    top = int(np.argmax(scores))
    best = features.max(axis=0)
    return [
        float(shares_of(scores)[top]),
        float(scores[top]),
        *(float(x) for x in best[:3]),
        float(is_foreign(question)),
        float(best[UNIT]),
        float(features[top, ANSWER_TYPE]),
        float(features[top, UNIT]),
    ]


def evidence(question: str, ranked: Sequence[Ranked]) -> list[float]:
    """The question-level evidence the two question models read, in the order of EVIDENCE."""
    features = np.asarray([r.candidate.features for r in ranked], dtype=np.float64)
    return question_evidence(question, features, np.asarray([r.score for r in ranked]))


def answerable_probability(question: str, ranked: Sequence[Ranked]) -> float:
    """How likely the articles answer the question at all, from its best evidence."""
    return models().answerable(evidence(question, ranked)) if ranked else 0.0


def first_quote_probability(question: str, ranked: Sequence[Ranked]) -> float:
    """How likely the first quote holds the answer: the confidence shown."""
    return models().first_holds(evidence(question, ranked)) if ranked else 0.0


def is_foreign(question: str) -> bool:
    """Whether the question is written mostly in letters other than Chinese characters (English…).

    Such a question shares no words with the articles, so only e5's similarity can match it.
    """
    letters = [ch for ch in question if ch.isalpha()]
    chinese = sum("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in letters)
    # A question, not a stray word or a snippet of code: several words of two letters or more.
    return chinese < len(letters) / 2 and len(_WORDS.findall(question)) >= MIN_FOREIGN_WORDS


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


def question_kind(question: str) -> str | None:
    """What a (simplified) question asks for: org, time, number, place, person or why; None for none.

    Read in the order :func:`answer_type` reads it: 哪家公司 asks for an organisation, 哪一年 a time.
    """
    kinds = (
        ("org", _ORG_Q),
        ("time", _TIME_Q),
        ("number", _NUMBER_Q),
        ("place", _PLACE_Q),
        ("person", _WHO_Q),
    )
    for kind, asked in kinds:
        if asked.search(question):
            return kind
    return "why" if _WHY_Q.search(question) else None


def unit_pattern(question: str) -> re.Pattern[str] | None:
    """The number-with-unit an answer must hold, when the question names the unit (多少头, 几级, 多少钱)."""
    for asked, unit in _UNIT_QUESTIONS:
        if asked.search(question.strip("？?。 ")):
            return re.compile(_NUM + unit)
    match = _ASKED_UNIT.search(question)
    return re.compile(_NUM + re.escape(match.group(1))) if match else None


# The same sentences come up as candidates for many questions; folding them to simplified
# script and segmenting them was half of an ask's Python time (py-spy, docs/benchmarks.md).
# This many sentences (and sentence pairs) keep their terms between questions.
CACHED_SENTENCES = 50_000


@lru_cache(maxsize=CACHED_SENTENCES)
def _terms(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


@lru_cache(maxsize=CACHED_SENTENCES)
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(bigrams_of(text))


def build_candidates(
    question: str,
    terms: list[str],
    hits: list[Hit],
    idf_of: Idf,
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
    token_sets = [_terms(s[5]) for s in sentences]
    bigram_sets = [_bigrams(s[5]) for s in sentences]
    q_terms = set(terms)
    q_bigrams = bigrams_of(question)
    foreign = is_foreign(question)
    # Global weight: IDF in the whole index. Local weight: rarity among these
    # candidates, so the article's subject, named in every sentence, counts
    # less than the words that single out one sentence.
    if foreign:
        # An English question's words are matched through their translations and pinyin,
        # one group per word or phrase, each weighing the same.
        groups = term_groups(question)
        match_sets = [
            frozenset(f"#{g}" for g, group in enumerate(groups) if group.found_in(s[5])) for s in sentences
        ]
        idf = {f"#{g}": 1.0 for g in range(len(groups))}
    else:
        match_sets = token_sets
        idf = {t: idf_of.idf(t) for t in q_terms}
    local_terms = {
        t: w * math.log((n + 1) / (sum(t in ms for ms in match_sets) + 0.5)) for t, w in idf.items()
    }
    local_bigrams = {g: math.log((n + 1) / (sum(g in bs for bs in bigram_sets) + 0.5)) for g in q_bigrams}

    def share(weights: dict[str, float], present: set[str]) -> float:
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in present) / total if total > 0 else 0.0

    words = [share(idf, ms) for ms in match_sets]
    focus = [share(local_bigrams, bs) for bs in bigram_sets]
    if sentence_vectors is not None and query_vector is not None:
        dense = [float(x) for x in sentence_vectors[rows].astype(np.float32) @ query_vector]
    else:
        dense = [0.0] * n
    best_dense = max(dense)
    # Question words are matched in simplified script: 哪家企業 asks what 哪家企业 asks.
    question = to_simplified(question)
    why = bool(_WHY_Q.search(question))
    unit = unit_pattern(question)
    out = []
    for i, (rank, hit, _, _, paragraph, _) in enumerate(sentences):
        spans = [(i, i)]
        if i + 1 < n and sentences[i + 1][1] is hit and sentences[i + 1][4] == paragraph:
            spans.append((i, i + 1))
        for a, b in spans:
            start, end = sentences[a][2], sentences[b][3]
            text = hit.passage.text[start - hit.passage.start : end - hit.passage.start]
            tokens = set().union(*token_sets[a : b + 1])
            matched = set().union(*match_sets[a : b + 1])
            grams = _bigrams(text)
            features = (
                share(idf, matched),
                len(q_bigrams & grams) / len(q_bigrams) if q_bigrams else 0.0,
                max(dense[a : b + 1]) - 0.8,
                1.0 / rank,
                words[a - 1] if a > 0 and sentences[a - 1][1] is hit else 0.0,
                words[b + 1] if b + 1 < n and sentences[b + 1][1] is hit else 0.0,
                len(grams - q_bigrams) / max(len(grams), 1),
                answer_type(question, text, tokens, q_terms),
                float(b > a),
                math.log1p(len(text)) / 5,
                share(local_terms, matched),
                share(local_bigrams, grams),
                focus[a - 1] if a > 0 and sentences[a - 1][1] is hit else 0.0,
                focus[b + 1] if b + 1 < n and sentences[b + 1][1] is hit else 0.0,
                float(max(dense[a : b + 1]) == best_dense),
                float(bool(_ASKS.search(text))),
                float(why and bool(_REASON_A.search(text))),
                float(foreign) * (max(dense[a : b + 1]) - best_dense),
                0.5 if unit is None else float(bool(unit.search(text))),
            )
            out.append(Candidate(hit, start, end, paragraph, text, features))
    return out
