"""The exact answer inside the first quote: a span of its sentence, or none.

Candidates are read off the quoted sentence itself: jieba's tagged entities and terms
(people, places, organisations, times, numbers with units, noun runs, noun phrases over
的), text inside 「」“”《》, number and date runs, clauses (the one after the question's anchor
words, the one a reason or method cue opens), runs of two or three clauses, and whole
sentences, since CMRC's gold answers are often that long. A conditional logit ranks them by
named features (the answer type the question asks for, distance to the question's words in
the sentence, how many of them the span's sentence holds, whether the span only repeats the
question, its length), and a logistic model reads the best one's evidence as the probability
that it is the answer. Both are fitted by ``bench/tune_span.py`` on CMRC 2018, DRCD and
natural-question answer spans, cross-validated by article, and live in ``span_model.json``
with the threshold below which no span is shown.

A span is always ``article_text[start:end]``: it is cut from the sentence, never rewritten.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.lexical import to_simplified, tokenize
from assistant.quoting import CACHED_SENTENCES, LogisticModel, question_kind, shares_of, unit_pattern

MODEL_FILE = Path(__file__).with_name("span_model.json")

KINDS = (
    "person",
    "place",
    "org",
    "time",
    "number",
    "quoted",
    "noun",
    "entity",
    "reason",
    "tail",
    "head",
    "clause",
    "clauses",
    "sentence",
    "phrase",
)
# The answer kinds each asked type accepts; a question that asks for none accepts any kind.
ACCEPTS = {
    "person": {"person", "noun", "entity", "org", "phrase"},
    "org": {"org", "noun", "entity", "phrase"},
    "place": {"place", "org", "noun", "phrase"},
    "time": {"time"},
    "number": {"number", "time"},
    "why": {"reason", "tail", "head", "clause", "clauses", "sentence"},
    "title": {"quoted", "entity", "noun", "phrase"},
}
QUESTION_TYPES = ("person", "org", "place", "time", "number", "why", "title", "yesno", "other")
FEATURES = (
    *(f"kind_{k}" for k in KINDS),
    "type_match",
    "type_clash",
    "unit_match",
    "in_question",
    "echo",
    "holds_term",
    "near",
    "after_anchor",
    "before_anchor",
    "after_copula",
    "window",
    "length",
    "long",
    "whole",
    "left_context",
    "right_context",
    "order",
    "clause_terms",
    "in_brackets",
    "sentence_terms",
    "best_sentence",
    "context_bigrams",
    # Which kinds of span answer which kind of question, learnt rather than listed.
    *(f"{t}_{k}" for t in QUESTION_TYPES for k in KINDS),
)
EVIDENCE = (
    "top_share",
    "margin",
    *(f"asks_{t}" for t in QUESTION_TYPES),
    "type_match",
    "in_question",
    "length",
    "near",
    "context",
    "order",
    "candidates",
    "quote_score",
    # The chosen span's expected overlap F1 under the ranker's softmax: do the runners-up agree?
    "agreement",
    *(f"top_{k}" for k in KINDS),
)

_NUM = r"[0-9.．,，点余多几数两一二三四五六七八九十百千万亿〇零]*[0-9一二三四五六七八九十百千两〇零]"
_UNITS = (
    r"(?:%|％|个百分点|倍|岁|周岁|元|美元|港元|日元|欧元|英镑|块|万元|亿元|万|亿|千|百|公里|平方公里|平方米|米|千米|厘米"
    r"|毫米|公斤|千克|克|吨|升|度|人次|人|名|位|次|个|种|项|座|条|级|头|只|张|件|家|所|台|辆|架|艘|斤|户|份"
    r"|篇|本|场|届|批|支|枚|颗|棵|层|期|轮|圈|分|秒|小时|分钟|天|周|个月|年|集|部|首|季|连冠|强|局|球|票|页|字)"
)
_NUMBER = re.compile(rf"(?:约|近|超过|逾)?{_NUM}(?:{_UNITS})+(?:多|余|左右)?")
_TIME = re.compile(
    rf"(?:公元前?|西元前?)?(?:{_NUM}(?:年代|世纪|年|月|日|号)(?:初|末|底|中|间)?)+"
    r"|(?:春|夏|秋|冬)(?:天|季)|(?:上|下|中)旬|(?:早|晚)(?:上|期)"
)
_QUOTED = re.compile(
    r"「([^「」]{1,40})」|“([^“”]{1,40})”|《([^《》]{1,40})》|『([^『』]{1,40})』|‘([^‘’]{1,40})’"
)
# A comma inside a number (2,400米) does not end a clause.
_CLAUSE_END = re.compile(r"[，；;：:。！？!?…]|,(?!\d{3})")
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_CUE = re.compile(
    r"因为|由于|为了|通过|采取|采用|依靠|依托|凭借|得益于|是因|导致|造成|以免|以便|旨在|目的是|原因是|用来|用于"
)
_COPULA = re.compile(r"(?:是|为|叫|称|名为|称为|叫做|位于|在|于|由|达到?|约|有)$")
# The question word: the sentence's words around the answer echo the question's around it.
_WH = re.compile(
    r"为什么|为何|什么时候|什么|多少|哪[一个家位里儿些种所座年天]?|谁|几|何[时处地]|怎么样|怎样|怎么|如何|多[大长高远重久]"
)
CONTEXT = 4
_YESNO = re.compile(
    r"吗[？?]?$|是不是|有没有|是否|对不对|能不能|会不会|可不可以|^(?:is|are|was|were|did|does|do|has|have|can)\b",
    re.I,
)
_TITLE = re.compile(
    r"什么(?:书|歌|电影|节目|作品|口号|称号|名字|名称|标题|剧)|哪[部首本篇]|叫什么|称为什么|名为"
)
_TAG_KINDS = {
    "nr": "person",
    "nrfg": "person",
    "nrt": "person",
    "ns": "place",
    "nt": "org",
    "nz": "entity",
    "t": "time",
    "eng": "entity",
}
_LOOSE = ("d", "p", "c", "u", "y", "x", "r")
_NOUNISH = ("n", "vn", "j", "eng", "an", "l", "i")
_ORG_END = (
    "局",
    "公司",
    "集团",
    "企业",
    "银行",
    "委员会",
    "协会",
    "中心",
    "厂",
    "部",
    "院",
    "社",
    "大学",
    "学院",
    "组织",
    "党委",
    "队",
    "会",
    "所",
    "馆",
    "台",
    "报",
    "署",
    "厅",
    "处",
)
_PLACE_END = (
    "省",
    "市",
    "县",
    "区",
    "镇",
    "乡",
    "村",
    "州",
    "国",
    "岛",
    "山",
    "河",
    "湖",
    "路",
    "街",
    "洲",
    "港",
    "城",
)
_PUNCT = "，,；;：:。！？!?、…—-·．.（）()[]【】「」“”‘’《》『』\"' \u3000\n\t"
MAX_SPAN = 100
CLAUSE_RUN = 3
DECODE = 10
WINDOW = 15


@dataclass(frozen=True)
class AnswerSpan:
    """The words that answer the question: ``text == article_text[start:end]``."""

    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class SpanCandidate:
    """A possible answer inside the sentence, with offsets into the sentence."""

    start: int
    end: int
    text: str
    kinds: frozenset[str]
    features: tuple[float, ...]


@dataclass(frozen=True)
class SpanModels:
    """The fitted span ranker, the calibration model, and the threshold to show a span."""

    rank: dict[str, float]
    holds: LogisticModel
    show_above: float


@lru_cache(maxsize=1)
def models(path: Path = MODEL_FILE) -> SpanModels:
    """The models in ``span_model.json``, checked against the features this code computes."""
    data = json.loads(path.read_text(encoding="utf-8"))
    loaded = SpanModels(
        rank={k: float(v) for k, v in data["rank"]["weights"].items()},
        holds=LogisticModel(
            float(data["holds"]["intercept"]), {k: float(v) for k, v in data["holds"]["weights"].items()}
        ),
        show_above=float(data["show_above"]),
    )
    if tuple(loaded.rank) != FEATURES or tuple(loaded.holds.weights) != EVIDENCE:
        raise ValueError(f"{path} was fitted for other features; refit it with bench/tune_span.py")
    return loaded


def asked_type(question: str) -> str:
    """What the question asks for, one of QUESTION_TYPES."""
    simple = to_simplified(question)
    if _YESNO.search(simple.strip()):
        return "yesno"
    if _TITLE.search(simple):
        return "title"
    return question_kind(simple) or "other"


@lru_cache(maxsize=CACHED_SENTENCES)
def _folded(text: str) -> str:
    """Width and script folded, one character for one, so offsets carry over to ``text``.

    Remembered: a sentence whose width folding changes its length (…, ㎡) is folded a character
    at a time, a hundred script conversions."""
    folded = to_simplified(unicodedata.normalize("NFKC", text))
    if len(folded) == len(text):
        return folded
    return "".join(
        f if len(f := to_simplified(unicodedata.normalize("NFKC", ch))) == 1 else ch for ch in text
    )


@lru_cache(maxsize=1)
def _posseg():  # noqa: ANN202 - jieba has no types
    from assistant.lexical import _jieba

    _jieba()
    import jieba.posseg

    return jieba.posseg


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """Without punctuation at either end, nor a particle 的 cut off its phrase (的目录总共329条)."""
    while a < b and (text[a] in _PUNCT or text[a] == "的"):
        a += 1
    while b > a and (text[b - 1] in _PUNCT or text[b - 1] == "的"):
        b -= 1
    return a, b


@lru_cache(maxsize=CACHED_SENTENCES)
def _tagged(folded: str) -> tuple[tuple[int, int, str, str], ...]:
    """jieba's words of the folded sentence with their offsets and part-of-speech tags.

    Remembered, as quoting remembers a sentence's terms: a server quotes the sentences of its
    most-asked passages again and again, and tagging is a third of a span's time.
    """
    tokens, pos = [], 0
    for word, flag in _posseg().lcut(folded):
        tokens.append((pos, pos + len(word), word, flag))
        pos += len(word)
    return tuple(tokens)


def _spans(
    folded: str, tokens: tuple[tuple[int, int, str, str], ...], anchors: list[tuple[int, int]]
) -> dict[tuple[int, int], set[str]]:
    """Candidate spans of the folded sentence, each with the kinds that proposed it."""
    out: dict[tuple[int, int], set[str]] = {}

    def add(a: int, b: int, kind: str) -> None:
        a, b = _trim(folded, a, b)
        if 0 < b - a <= MAX_SPAN:
            out.setdefault((a, b), set()).add(kind)

    # Runs of same-kind tags (中国/ns 北京/ns, 1997年/t 12月/t) and runs of nouns.
    i = 0
    while i < len(tokens):
        kind = _TAG_KINDS.get(tokens[i][3])
        j = i + 1
        if kind:
            while j < len(tokens) and _TAG_KINDS.get(tokens[j][3]) == kind:
                j += 1
            add(tokens[i][0], tokens[j - 1][1], kind)
        i = j
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and tokens[j][3].startswith(
            _NOUNISH + ("nr", "ns", "nt", "nz", "b", "a", "m", "q")
        ):
            j += 1
        if j > i:
            a, b = tokens[i][0], tokens[j - 1][1]
            word = folded[a:b]
            add(a, b, "org" if word.endswith(_ORG_END) else "place" if word.endswith(_PLACE_END) else "noun")
            # The head noun run alone, without leading modifiers.
            k = i
            while k < j and not tokens[k][3].startswith(_NOUNISH + ("nr", "ns", "nt", "nz")):
                k += 1
            if i < k < j:
                add(tokens[k][0], b, "noun")
            runs.append((i, j))
            i = j
        else:
            i += 1
    # A noun phrase over 的 (美国职棒大联盟的尼加拉瓜籍): the run before it, or its clause's
    # words up to it, with the noun run after it.
    for n, (i, j) in enumerate(runs[1:], 1):
        if i >= 1 and tokens[i - 1][2] == "的":
            pi, pj = runs[n - 1]
            if pj == i - 1:
                add(tokens[pi][0], tokens[j - 1][1], "phrase")
            lo = max((m.end() for m in _CLAUSE_END.finditer(folded, 0, tokens[i][0])), default=0)
            add(lo, tokens[j - 1][1], "phrase")
    for m in _NUMBER.finditer(folded):
        add(m.start(), m.end(), "number")
    for m in _TIME.finditer(folded):
        add(m.start(), m.end(), "time")
    for m in _QUOTED.finditer(folded):
        g = next(n for n in range(1, 6) if m.group(n) is not None)
        add(m.start(g), m.end(g), "quoted")
        if folded[m.start()] == "《":
            out.setdefault((m.start(), m.end()), set()).add("quoted")
    # Clauses, the clause from a reason or method cue, and the rest of a clause after a copula.
    bounds = [0] + [m.end() for m in _CLAUSE_END.finditer(folded)] + [len(folded)]
    stops = [0] + [m.end() for m in _SENTENCE_END.finditer(folded)] + [len(folded)]
    for a, b in zip(stops, stops[1:], strict=False):
        add(a, b, "sentence")
    # Runs of two or three clauses inside one sentence (达曼是…东段终点，西端终点在吉达港).
    cuts = sorted(set(bounds))
    for n, a in enumerate(cuts[:-1]):
        for b in cuts[n + 2 : n + 2 + CLAUSE_RUN - 1]:
            if not _SENTENCE_END.search(folded, a, b - 1):
                add(a, b, "clauses")
    for a, b in zip(bounds, bounds[1:], strict=False):
        add(a, b, "clause")
        for m in _CUE.finditer(folded, a, b):
            add(m.start(), b, "reason")
            add(m.end(), b, "reason")
        # The rest of the clause after the question's words, and the clause up to them.
        for s, e in anchors:
            if a <= s and e <= b:
                add(e, b, "tail")
                add(a, s, "head")
                # Without the adverbs, particles and prepositions at the cut (火速, 则, 在).
                inner = [t for t in tokens if e <= t[0] and t[1] <= b and not t[3].startswith(_LOOSE)]
                if inner:
                    add(inner[0][0], b, "tail")
                inner = [t for t in tokens if a <= t[0] and t[1] <= s and not t[3].startswith(_LOOSE)]
                if inner:
                    add(a, inner[-1][1], "head")
    add(0, len(folded), "clause")
    return out


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _occurrences(
    folded: str, terms: list[str], tokens: tuple[tuple[int, int, str, str], ...]
) -> list[tuple[int, int]]:
    """Where the question's terms occur in the sentence, on jieba's word boundaries (神山 is not in 雷神山医院)."""
    starts = {t[0] for t in tokens}
    ends = {t[1] for t in tokens}
    out = []
    for t in terms:
        start = folded.find(t)
        while start >= 0:
            if start in starts and start + len(t) in ends:
                out.append((start, start + len(t)))
            start = folded.find(t, start + 1)
    return out


@dataclass(frozen=True)
class _Reading:
    """What the candidates' features read of a question, worked out once per question."""

    folded: str
    asked: str
    accepts: frozenset[str] | None
    unit: re.Pattern[str] | None
    terms: tuple[str, ...]
    chars: frozenset[str]
    # The question's text before and after its question word, and each term's side of it.
    left: str
    right: str
    sides: dict[str, bool]
    bigrams: frozenset[str]


@lru_cache(maxsize=1024)
def _reading(question: str) -> _Reading:
    q = _folded(question).lower()
    asked = asked_type(question)
    accepts = ACCEPTS.get(asked)
    terms = tuple(t for t in dict.fromkeys(tokenize(question)) if len(t) >= 2 or not t.isascii())
    wh = _WH.search(q)
    return _Reading(
        folded=q,
        asked=asked,
        accepts=frozenset(accepts) if accepts is not None else None,
        unit=unit_pattern(to_simplified(question)),
        terms=terms,
        chars=frozenset(ch for ch in q if ch.isalnum()),
        left=q[: wh.start()] if wh else "",
        right=q[wh.end() :] if wh else "",
        sides={t: (q.find(t) < wh.start()) for t in terms if wh and t in q},
        bigrams=frozenset(q[n : n + 2] for n in range(len(q) - 1) if q[n].isalnum() and q[n + 1].isalnum()),
    )


def candidates(question: str, sentence: str) -> list[SpanCandidate]:
    """The sentence's candidate answers to ``question``, each with its features (FEATURES)."""
    if not sentence.strip():
        return []
    folded = _folded(sentence)
    reading = _reading(question)
    q, terms, unit, sides = reading.folded, list(reading.terms), reading.unit, reading.sides
    q_chars, q_left, q_right, q_bigrams = reading.chars, reading.left, reading.right, reading.bigrams
    tokens = _tagged(folded)
    hits = _occurrences(folded.lower(), terms, tokens)
    lowered = folded.lower()
    stops = [0] + [m.end() for m in _SENTENCE_END.finditer(folded)] + [len(folded)]
    in_sentence = [
        len({lowered[s:e] for s, e in hits if lo <= s and e <= hi})
        for lo, hi in zip(stops, stops[1:], strict=False)
    ]
    ends = [0] + [m.end() for m in _CLAUSE_END.finditer(folded)] + [len(folded)]
    whole = _trim(folded, 0, len(folded))
    out = []
    for (a, b), proposed in sorted(_spans(folded, tokens, hits).items()):
        kinds = frozenset(proposed)
        text = folded[a:b]
        chars = [ch for ch in text.lower() if ch.isalnum()]
        in_q = sum(ch in q_chars for ch in chars) / max(len(chars), 1)
        gaps = [max(s - b, a - e, 0) for s, e in hits if not (a <= s and e <= b)]
        near = 1.0 / (1.0 + min(gaps) / 3) if gaps else 0.0
        window = {
            lowered[s:e] for s, e in hits if s >= a - WINDOW and e <= b + WINDOW and not (a <= s and e <= b)
        }
        before = folded[max(0, a - 4) : a]
        placed = [(lowered[s:e], s < a) for s, e in hits if e <= a or s >= b]
        agree = [left == sides[t] for t, left in placed if t in sides]
        lo = ends[bisect_right(ends, a) - 1]
        hi = ends[n] if (n := bisect_left(ends, b)) < len(ends) else len(folded)
        clause_terms = {lowered[s:e] for s, e in hits if lo <= s and e <= hi}
        first = bisect_right(stops, a, hi=len(stops) - 1) - 1
        last = bisect_left(stops, b, hi=len(stops) - 1) - 1
        terms_in = max(in_sentence[first : last + 1])
        around = lowered[max(0, a - WINDOW) : a] + "|" + lowered[b : b + WINDOW]
        context = sum(g in around for g in q_bigrams) / max(len(q_bigrams), 1)
        kind_features, interactions = _kind_features(reading.asked, kinds)
        features = (
            *kind_features,
            0.5 if unit is None else float(bool(unit.search(text))),
            in_q,
            float(text.lower() in q),
            float(any(a <= s and e <= b for s, e in hits)),
            near,
            float(any(0 <= a - e <= 2 for s, e in hits)),
            float(any(0 <= s - b <= 2 for s, e in hits)),
            float(bool(_COPULA.search(before))),
            len(window) / max(len(terms), 1),
            math.log1p(len(text)) / 3,
            float(len(text) > 15),
            float((a, b) == whole),
            _common_suffix(lowered[max(0, a - CONTEXT) : a], q_left[-CONTEXT:]) / CONTEXT,
            _common_prefix(lowered[b : b + CONTEXT], q_right[:CONTEXT]) / CONTEXT,
            sum(agree) / len(agree) if agree else 0.5,
            len(clause_terms) / max(len(terms), 1),
            float(folded[max(0, a - 1) : a] in ("（", "(") or folded[b : b + 1] in ("）", ")")),
            terms_in / max(len(terms), 1),
            float(terms_in == max(in_sentence)),
            context,
            *interactions,
        )
        out.append(SpanCandidate(a, b, sentence[a:b], kinds, features))
    return out


_NO_INTERACTION = (0.0,) * (len(QUESTION_TYPES) * len(KINDS))


@lru_cache(maxsize=4096)
def _kind_features(asked: str, kinds: frozenset[str]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The features a span's kinds give under the asked type: one flag per kind, whether the
    type accepts them and whether it rejects them; then the type × kind indicators."""
    accepts = ACCEPTS.get(asked)
    head = (
        *(float(k in kinds) for k in KINDS),
        float(accepts is not None and bool(kinds & accepts)),
        float(accepts is not None and not kinds & accepts),
    )
    interactions = list(_NO_INTERACTION)
    row = QUESTION_TYPES.index(asked) * len(KINDS)
    for k in kinds:
        interactions[row + KINDS.index(k)] = 1.0
    return head, tuple(interactions)


def expected_f1(candidates: list[SpanCandidate], shares: np.ndarray, first: int) -> np.ndarray:
    """For each of the first ``first`` candidates, its character F1 with every candidate of the
    same sentence, weighted by that candidate's share: the overlap it can expect."""
    starts = np.asarray([c.start for c in candidates], dtype=np.float64)
    ends = np.asarray([c.end for c in candidates], dtype=np.float64)
    head = slice(0, first)
    common = np.minimum(ends[head, None], ends) - np.maximum(starts[head, None], starts)
    lengths = (ends - starts)[head, None] + (ends - starts)
    f1 = np.where(common > 0, 2 * common / lengths, 0.0)
    return f1 @ shares


def choose(
    question: str, scored: list[tuple[float, SpanCandidate]], quote_score: float
) -> tuple[SpanCandidate, list[float]]:
    """The span to show and its evidence (EVIDENCE), from the candidates ranked best first.

    The span chosen is the one of the first ``DECODE`` with the highest expected overlap F1
    under the ranker's softmax, not simply the first: when the ranker hesitates between
    大滿貫男子單打比賽 and 大滿貫男子單打比賽有5盤, the span most of its mass agrees with wins.
    ``quote_score`` is the probability that the quote holds the answer at all (its score).
    """
    scores = np.asarray([s for s, _ in scored], dtype=np.float64)
    shares = shares_of(scores)
    expected = expected_f1([c for _, c in scored], shares, DECODE)
    pick = int(np.argmax(expected))
    best = scored[pick][1]
    top = best.features
    asked = _reading(question).asked
    evidence = [
        float(shares[pick]),
        float(scores[0] - scores[1]) if len(scores) > 1 else 5.0,
        *(float(asked == t) for t in QUESTION_TYPES),
        top[FEATURES.index("type_match")],
        top[FEATURES.index("in_question")],
        top[FEATURES.index("length")],
        top[FEATURES.index("near")],
        top[FEATURES.index("left_context")] + top[FEATURES.index("right_context")],
        top[FEATURES.index("order")],
        math.log1p(len(scored)) / 4,
        quote_score,
        expected[pick],
        *(float(k in best.kinds) for k in KINDS),
    ]
    return best, evidence


def rank(
    question: str, sentence: str, weights: dict[str, float] | None = None
) -> list[tuple[float, SpanCandidate]]:
    """The candidates with their ranker scores, best first."""
    found = candidates(question, sentence)
    if not found:
        return []
    w = np.fromiter((weights or models().rank).values(), dtype=np.float64)
    scores = np.asarray([c.features for c in found], dtype=np.float64) @ w
    # Equal scores (the same features) keep the sentence's order, whatever the rounding of the sum.
    return sorted(zip(scores.tolist(), found, strict=True), key=lambda sc: -round(sc[0], 9))


def answer_span(
    question: str, sentence: str, offset: int, quote_score: float, show_above: float | None = None
) -> AnswerSpan | None:
    """The span of ``sentence`` (which starts at ``offset`` in the article) that answers ``question``.

    ``quote_score`` is the quote's calibrated probability of holding the answer. None when no
    candidate is likely enough to be the answer (below the fitted threshold, or ``show_above``
    when given).
    """
    m = models()
    scored = rank(question, sentence)
    if not scored:
        return None
    best, evidence = choose(question, scored, quote_score)
    probability = m.holds(evidence)
    if probability < (m.show_above if show_above is None else show_above):
        return None
    return AnswerSpan(offset + best.start, offset + best.end, best.text, round(probability, 4))
