"""Pick the sentences that answer a question, quote them verbatim, cite them.

Each sentence inside the top passages gets a score from four pieces of
evidence: how much of the question's weighted vocabulary it contains (jieba
words by IDF, and character bigrams, which survive segmentation differences),
how close its own e5 vector is to the question's, and how well its passage
ranked. The best sentence is the answer's first quote; when even that scores
below a threshold calibrated on CMRC 2018, the assistant says the articles do
not answer the question instead of quoting noise. No Gradio here: the web UI
and the CLI both render what this module returns.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from assistant.errors import QuestionError
from assistant.lexical import bigrams_of, tokenize
from assistant.retrieval import Hit, Mode, Retriever

FOLLOW_UP_MARKERS = re.compile(r"他们|她们|它们|他|她|它|其|该|这|那|此|上述|前者|后者|那么|还有|呢[？?]?$")
SENTENCE_CACHE_SIZE = 20_000
_WORD = re.compile(r"[\w]", re.UNICODE)


@dataclass(frozen=True)
class QuoteWeights:
    """How the sentence evidence is combined, and when to abstain.

    Chosen on the CMRC 2018 trial set with ``bench/tune_quotes.py``; the
    figures are in docs/benchmarks.md.
    """

    words: float = 1.0
    bigrams: float = 1.0
    dense: float = 4.0
    passage: float = 0.3
    dense_floor: float = 0.75
    abstain_below: float = 0.9
    passages: int = 5
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


@dataclass(frozen=True)
class Candidate:
    """A sentence considered for quoting, with its evidence."""

    hit: Hit
    hit_rank: int
    start: int
    end: int
    paragraph: int
    text: str
    words: float
    bigrams: float
    dense: float = 0.0

    def score(self, w: QuoteWeights) -> float:
        return (
            w.words * self.words
            + w.bigrams * self.bigrams
            + w.dense * max(0.0, self.dense - w.dense_floor)
            + w.passage / self.hit_rank
        )


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

    def __init__(self, retriever: Retriever, weights: QuoteWeights | None = None, max_question_chars: int = 500):
        self.retriever = retriever
        self.weights = weights or QuoteWeights()
        self.max_question_chars = max_question_chars
        self._sentence_cache: dict[str, np.ndarray] = {}

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        """Vectors of sentences, cached: the same passages come up again and again."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._sentence_cache))
        if missing:
            if len(self._sentence_cache) + len(missing) > SENTENCE_CACHE_SIZE:
                self._sentence_cache.clear()
            fresh = self.retriever.embedder.embed_passages(missing)
            self._sentence_cache.update(zip(missing, fresh, strict=True))
        return np.stack([self._sentence_cache[t] for t in texts])

    def candidates(
        self, question: str, hits: list[Hit], query_vector: np.ndarray | None, terms: list[str]
    ) -> list[Candidate]:
        """The sentences of the top hits, with lexical and dense evidence."""
        index = self.retriever.index
        bm25 = index.bm25
        weights = {t: bm25.idf(t) for t in set(terms)}
        total = sum(weights.values()) or 1.0
        q_bigrams = bigrams_of(question)
        seen: set[tuple[str, int]] = set()
        out: list[Candidate] = []
        for rank, hit in enumerate(hits[: self.weights.passages], 1):
            for start, end, paragraph in hit.passage.sentences:
                key = (hit.passage.article_id, start)
                if key in seen:
                    continue
                seen.add(key)
                offset = start - hit.passage.start
                sentence = hit.passage.text[offset : offset + end - start]
                tokens = set(tokenize(sentence))
                words = sum(w for t, w in weights.items() if t in tokens) / total
                shared = len(q_bigrams & bigrams_of(sentence)) / len(q_bigrams) if q_bigrams else 0.0
                out.append(Candidate(hit, rank, start, end, paragraph, sentence, words, shared))
        if query_vector is not None and out:
            sims = self.sentence_vectors([c.text for c in out]) @ query_vector
            out = [Candidate(**{**c.__dict__, "dense": float(s)}) for c, s in zip(out, sims, strict=True)]
        return out

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        mode: Mode = "hybrid",
        use_dense_quotes: bool = True,
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
        vector = None
        if mode != "bm25" or use_dense_quotes:
            vector = self.retriever.embed_question(search_text)
        hits = self.retriever.search(
            search_text, k=max(self.weights.passages, 10), mode=mode, query_vector=vector, query_tokens=terms + carried
        )
        candidates = self.candidates(question, hits, vector if use_dense_quotes else None, terms + carried)
        return self.compose(question, candidates, carried)

    def compose(self, question: str, candidates: list[Candidate], carried: list[str]) -> Answer:
        """Rank candidates, decide whether to answer, and render the reply."""
        w = self.weights
        ranked = sorted(candidates, key=lambda c: -c.score(w))
        if not ranked or ranked[0].score(w) < w.abstain_below:
            return Answer(question, False, render_abstention(question), [], "无", carried)
        quotes = []
        for c in ranked[: w.quotes]:
            if quotes and c.score(w) < w.abstain_below * 0.8:
                break
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
                    score=round(c.score(w), 4),
                    passage_start=p.start,
                    passage_end=p.end,
                )
            )
        confidence = confidence_label(quotes[0].score, w)
        meta = self.retriever.index.articles
        return Answer(question, True, render_answer(quotes, confidence, carried, meta), quotes, confidence, carried)


def confidence_label(score: float, w: QuoteWeights) -> str:
    """高 / 中 / 低 from how far the top score clears the abstention threshold."""
    if score >= w.abstain_below * 1.6:
        return "高"
    if score >= w.abstain_below * 1.25:
        return "中"
    return "低"


def highlight(quote: Quote) -> str:
    """The quote's passage as HTML, the quote itself in ``<mark>``."""
    a = quote.start - quote.passage_start
    b = quote.end - quote.passage_start
    text = quote.passage
    parts = (html.escape(text[:a]), html.escape(text[a:b]), html.escape(text[b:]))
    return (parts[0] + "<mark>" + parts[1] + "</mark>" + parts[2]).replace("\n", " ")


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
