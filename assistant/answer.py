"""Answer a question: retrieve, pick the quotes, decide whether to answer, render.

The sentences (and adjacent pairs) of the top passages are scored by the
quote model in :mod:`assistant.quoting`; the best is the first quote, further
non-overlapping ones support it. When the answerability model says the
articles do not hold the answer, the reply says so instead of quoting noise.
No Gradio here: the web UI and the CLI both render what this module returns.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from assistant.errors import QuestionError
from assistant.lexical import tokenize
from assistant.quoting import Candidate, answerable_probability, build_candidates
from assistant.retrieval import Hit, Mode, Retriever

FOLLOW_UP_MARKERS = re.compile(r"他们|她们|它们|他|她|它|其|该|这|那|此|上述|前者|后者|那么|还有|呢[？?]?$")
_WORD = re.compile(r"[\w]", re.UNICODE)


@dataclass(frozen=True)
class AnswerSettings:
    """Which passages to look in, how many quotes to show, and when to abstain.

    ``abstain_below`` applies to :func:`assistant.quoting.answerable_probability`,
    calibrated on answerable and unanswerable CMRC 2018 questions with
    ``bench/tune_quotes.py`` (figures in docs/benchmarks.md). Further quotes
    are shown while their own probability reaches ``min_quote`` and a tenth
    of the first quote's (that cut cost 0.001 of answer-in-quote@3 on CMRC).
    """

    abstain_below: float = 0.4
    min_quote: float = 0.02
    passages: int = 8
    quotes: int = 4


@dataclass(frozen=True)
class Quote:
    """One verbatim quote: ``quote == article_text[start:end]``."""

    rank: int
    article_id: str
    title: str
    paragraph: int
    start: int
    end: int
    quote: str
    passage: str
    score: float
    passage_start: int
    passage_end: int


@dataclass
class Answer:
    """The reply to one question: markdown for people, quotes for programs."""

    question: str
    answered: bool
    answer: str
    quotes: list[Quote] = field(default_factory=list)
    confidence: str = "无"
    carried_terms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "quotes": [asdict(q) for q in self.quotes],
            "confidence": self.confidence,
            "carried_terms": self.carried_terms,
        }


def clean_question(question: str, max_chars: int) -> str:
    """Strip the question and refuse empty or over-long ones.

    Raises:
        QuestionError: with what to do instead.
    """
    text = "".join(ch for ch in question if ch.isprintable() or ch in "\n\t").strip()
    if not any(_WORD.match(ch) for ch in text):
        raise QuestionError("请输入一个问题（the question is empty）")
    if len(text) > max_chars:
        raise QuestionError(
            f"问题太长：{len(text)} 个字符，最多 {max_chars} 个（the question is {len(text)} characters; "
            f"ask in at most {max_chars}）"
        )
    return text


def looks_like_follow_up(question: str) -> bool:
    """Short questions and ones that point back (他们, 这, 其…) lean on the last turn."""
    return len(question) <= 8 or bool(FOLLOW_UP_MARKERS.search(question))


class Answerer:
    """Answers questions from one index with verbatim, cited quotes."""

    def __init__(
        self, retriever: Retriever, weights: AnswerSettings | None = None, max_question_chars: int = 500
    ):
        self.retriever = retriever
        self.weights = weights or AnswerSettings()
        self.max_question_chars = max_question_chars

    def candidates(
        self, question: str, hits: list[Hit], query_vector: np.ndarray, terms: list[str]
    ) -> list[Candidate]:
        """Scored candidate quotes from the sentences of the top hits."""
        return build_candidates(
            question,
            terms,
            hits,
            self.retriever.index.bm25,
            self.weights.passages,
            self.retriever.index.sentence_vectors,
            query_vector,
        )

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        mode: Mode = "hybrid",
    ) -> Answer:
        """Answer ``question``; ``history`` holds earlier user questions, oldest first.

        Raises:
            QuestionError: the question is empty or too long.
        """
        question = clean_question(question, self.max_question_chars)
        terms = tokenize(question)
        carried: list[str] = []
        search_text = question
        if history and looks_like_follow_up(question):
            previous = history[-1]
            carried = [t for t in dict.fromkeys(tokenize(previous)) if t not in terms]
            search_text = f"{previous} {question}"
        vector = self.retriever.embed_question(search_text)
        hits = self.retriever.search(
            search_text,
            k=max(self.weights.passages, 10),
            mode=mode,
            query_vector=vector,
            query_tokens=terms + carried,
        )
        candidates = self.candidates(question, hits, vector, terms + carried)
        return self.compose(question, candidates, carried)

    def compose(self, question: str, candidates: list[Candidate], carried: list[str]) -> Answer:
        """Rank candidates, decide whether to answer, and render the reply."""
        w = self.weights
        scored = sorted(((c.probability(), c) for c in candidates), key=lambda pair: -pair[0])
        answerable = answerable_probability(candidates, scored[0][0] if scored else 0.0)
        if answerable < w.abstain_below:
            return Answer(question, False, render_abstention(question), [], "无", carried)
        chosen: list[tuple[float, Candidate]] = []
        for probability, c in scored:
            if len(chosen) == w.quotes or (chosen and probability < max(w.min_quote, scored[0][0] / 10)):
                break
            overlaps = any(
                o.hit.passage.article_id == c.hit.passage.article_id and o.start < c.end and c.start < o.end
                for _, o in chosen
            )
            if not overlaps:
                chosen.append((probability, c))
        quotes = []
        for probability, c in chosen:
            p = c.hit.passage
            title = self.retriever.index.articles.get(p.article_id, {}).get("title", p.article_id)
            quotes.append(
                Quote(
                    rank=len(quotes) + 1,
                    article_id=p.article_id,
                    title=title,
                    paragraph=c.paragraph,
                    start=c.start,
                    end=c.end,
                    quote=c.text,
                    passage=p.text,
                    score=round(probability, 4),
                    passage_start=p.start,
                    passage_end=p.end,
                )
            )
        confidence = confidence_label(quotes[0].score)
        meta = self.retriever.index.articles
        return Answer(
            question, True, render_answer(quotes, confidence, carried, meta), quotes, confidence, carried
        )


def confidence_label(top_quote: float) -> str:
    """高 / 中 / 低 from the first quote's probability of holding the answer.

    On CMRC 2018 the first quote held the answer for about 90% of questions
    labelled 高 (probability ≥ 0.7), 76% of 中 (0.3–0.7) and 54% of 低.
    """
    if top_quote >= 0.7:
        return "高"
    if top_quote >= 0.3:
        return "中"
    return "低"


def highlight(quote: Quote) -> str:
    """The quote's passage as HTML, the quote itself in ``<mark>``."""
    a = quote.start - quote.passage_start
    b = quote.end - quote.passage_start
    text = quote.passage
    parts = (html.escape(text[:a]), html.escape(text[a:b]), html.escape(text[b:]))
    return (parts[0] + "<mark>" + parts[1] + "</mark>" + parts[2]).replace("\n", "<br>")


def render_answer(
    quotes: list[Quote], confidence: str, carried: list[str], articles: dict[str, dict[str, Any]]
) -> str:
    """Markdown: the first quote as the answer, then numbered sources."""
    lines = [f"> {html.escape(quotes[0].quote)} [1]", "", f"置信度：**{confidence}**"]
    if len(quotes) > 1:
        lines += ["", "其他相关原文："]
        lines += [f"- {html.escape(q.quote)} [{q.rank}]" for q in quotes[1:]]
    if carried:
        lines += ["", "（沿用上一问的关键词：" + "、".join(html.escape(t) for t in carried) + "）"]
    lines += ["", "**来源**", ""]
    for q in quotes:
        meta = articles.get(q.article_id, {})
        extra = " · ".join(html.escape(str(meta[k])) for k in ("date", "source") if meta.get(k))
        head = f"{q.rank}. 《{html.escape(q.title)}》 第 {q.paragraph} 段" + (f" · {extra}" if extra else "")
        lines += [f"{head} · 得分 {q.score:.2f}", f"   <blockquote>{highlight(q)}</blockquote>", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_abstention(question: str) -> str:
    """The reply when no sentence in the articles answers the question."""
    return (
        f"这些文章里没有找到能回答「{html.escape(question)}」的内容。"
        "可以换个说法，或先把相关文章加入语料库。\n"
    )
