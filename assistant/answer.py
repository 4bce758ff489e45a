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
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from assistant.config import AnswerSettings, FollowUpSettings
from assistant.errors import QuestionError
from assistant.lexical import tokenize
from assistant.manifest import ArticleRecord
from assistant.quoting import (
    Candidate,
    Ranked,
    answerable_probability,
    build_candidates,
    first_quote_probability,
    models,
    rank,
)
from assistant.retrieval import Filter, Hit, Mode, Retriever
from assistant.span import AnswerSpan, answer_span

# Pronouns and demonstratives, words that open a continuation, and a closing 呢.
FOLLOW_UP_MARKERS = re.compile(
    r"他们|她们|它们|他|她|它|其|该|这|那|此|上述|前者|后者|还有|呢[？?]?$|^(?:后来|然后|接着|之后|另外|而且|还|又|也|那么)"
)
# Words that hold a marker but point back at nothing (应该 holds 该, 因此 holds 此).
NOT_POINTING_BACK = re.compile(r"应该|活该|其实|尤其|极其|与其|其次|因此|如此|彼此|吉他")
_WORD = re.compile(r"[\w]", re.UNICODE)
_MARKDOWN = re.compile(r"([\\`*_\[\]~|])")
# Bidi controls and zero-width characters are invisible, yet they reorder or hide what a quote
# says. The rendered answer shows each as a mark; the quote itself (and its JSON) keeps them.
INVISIBLE_CHARS = "\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARS}]")


def mark_invisible(escaped: str) -> str:
    """Already-escaped HTML with each bidi or zero-width character shown as a visible mark."""
    return _INVISIBLE.sub(
        lambda m: f'<span class="ctl" title="U+{ord(m[0]):04X}">⟨U+{ord(m[0]):04X}⟩</span>', escaped
    )


def md_escape(text: str) -> str:
    """User or article text made inert in markdown: escaped, and invisible characters marked."""
    return mark_invisible(_MARKDOWN.sub(r"\\\1", html.escape(text)))


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
    date: str | None = None
    source: str | None = None
    file: str | None = None
    page: int | None = None

    @property
    def citation(self) -> str:
        """A citation line to copy: 《title》, source, date, file and page, paragraph, the quote.

        The file is named for articles imported from other formats (PDF, Word, exports),
        whose title comes from inside them; a PDF's page is the one the quote starts on.
        """
        located = " ".join(x for x in (self.file, f"第{self.page}页" if self.page else None) if x)
        where = "，".join(x for x in (self.source, self.date, located) if x)
        return f"《{self.title}》{'，' + where if where else ''}，第{self.paragraph}段：“{self.quote}”"


@dataclass
class Answer:
    """The reply to one question: markdown for people, quotes for programs."""

    question: str
    answered: bool
    answer: str
    quotes: list[Quote] = field(default_factory=list)
    confidence: str = "无"
    carried_terms: list[str] = field(default_factory=list)
    answerable: float = 0.0
    # A refusal's nearest sentences: shown folded as unconfirmed, never as an answer.
    nearest: list[Quote] = field(default_factory=list)
    answer_span: AnswerSpan | None = None

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "quotes": [{**asdict(q), "citation": q.citation} for q in self.quotes],
            "confidence": self.confidence,
            "carried_terms": self.carried_terms,
            "answerable": round(self.answerable, 4),
            "nearest": [{**asdict(q), "citation": q.citation} for q in self.nearest],
            "answer_span": asdict(self.answer_span) if self.answer_span else None,
        }


def clean_question(question: str, max_chars: int) -> str:
    """Strip the question and refuse empty or over-long ones.

    Raises:
        QuestionError: with what to do instead.
    """
    text = "".join(ch for ch in question if ch.isprintable() or ch in "\n\t").strip()
    if not text:
        raise QuestionError("请输入一个问题（the question is empty）")
    if not any(_WORD.match(ch) for ch in text):
        raise QuestionError(
            "问题里没有文字，只有符号或表情：请用文字提问（the question has no words, only symbols）"
        )
    if len(text) > max_chars:
        raise QuestionError(
            f"问题太长：{len(text)} 个字符，最多 {max_chars} 个（the question is {len(text)} characters; "
            f"ask in at most {max_chars}）"
        )
    return text


def looks_like_follow_up(question: str) -> bool:
    """Short questions and ones that point back (他们, 这, 其…) lean on the last turn."""
    return len(question) <= 8 or bool(FOLLOW_UP_MARKERS.search(NOT_POINTING_BACK.sub("", question)))


class Answerer:
    """Answers questions from one index with verbatim, cited quotes."""

    def __init__(
        self,
        retriever: Retriever,
        weights: AnswerSettings | None = None,
        max_question_chars: int = 500,
        follow_up: FollowUpSettings | None = None,
    ):
        self.retriever = retriever
        self.weights = weights or AnswerSettings()
        self.max_question_chars = max_question_chars
        self.follow_up = follow_up or FollowUpSettings()

    def candidates(
        self, question: str, hits: list[Hit], query_vector: np.ndarray, terms: list[str]
    ) -> list[Candidate]:
        """Scored candidate quotes from the sentences of the top hits."""
        return build_candidates(
            question,
            terms,
            hits,
            self.retriever.index.store,
            self.weights.passages,
            self.retriever.index.sentence_vectors,
            query_vector,
        )

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        mode: Mode = "hybrid",
        where: Filter | None = None,
    ) -> Answer:
        """Answer ``question``; ``history`` holds earlier user questions, oldest first.

        When the question looks like a follow-up, the earlier turns' words and
        meaning are carried into retrieval with decaying weight, and the
        article the last turn was answered from is favoured.

        Raises:
            QuestionError: the question is empty or too long.
        """
        question = clean_question(question, self.max_question_chars)
        articles = self.retriever.index.articles
        if where and not any(where.matches(a, meta) for a, meta in articles.items()):
            raise QuestionError(f"没有文章符合筛选条件（no article matches the filter: {where}）")
        terms = tokenize(question)
        vector = self.retriever.embed_question(question)
        if not (history and looks_like_follow_up(question)):
            return self._answer(question, terms, vector, {}, None, mode, where)
        f = self.follow_up
        if f.standalone_above is not None:
            alone = self._answer(question, terms, vector, {}, None, mode, where)
            if alone.answered and alone.quotes[0].score >= f.standalone_above:
                return alone  # it answers itself: 其/该/这 did not point back
        vector, carried, prior = self._carry(question, terms, vector, history, mode, where)
        return self._answer(question, terms, vector, carried, prior, mode, where)

    def _answer(
        self,
        question: str,
        terms: list[str],
        vector: np.ndarray,
        carried: dict[str, float],
        prior: str | None,
        mode: Mode,
        where: Filter | None,
    ) -> Answer:
        """Retrieve with the question's terms and vector (plus what a follow-up carried), then quote."""
        hits = self.retrieve(question, terms, vector, carried, prior, mode, where)
        candidates = self.candidates(question, hits, vector, terms + list(carried))
        return self.compose(question, candidates, list(carried))

    def retrieve(
        self,
        question: str,
        terms: list[str],
        vector: np.ndarray,
        carried: dict[str, float] | None = None,
        prior: str | None = None,
        mode: Mode = "hybrid",
        where: Filter | None = None,
    ) -> list[Hit]:
        """The passages the quotes are chosen from, best first."""
        carried = carried or {}
        return self.retriever.search(
            question,
            k=max(self.weights.passages, 10),
            mode=mode,
            query_vector=vector,
            query_tokens=terms + list(carried),
            token_weights=carried,
            where=where,
            prior_article=prior,
            prior_weight=self.follow_up.prior,
        )

    def _carry(
        self,
        question: str,
        terms: list[str],
        vector: np.ndarray,
        history: list[str],
        mode: Mode,
        where: Filter | None,
    ) -> tuple[np.ndarray, dict[str, float], str | None]:
        """The follow-up's query vector, carried terms with their weights, and prior article."""
        f = self.follow_up
        turns = []
        for turn in history[-f.turns :]:
            try:
                turns.append(clean_question(turn, self.max_question_chars))
            except QuestionError:
                continue
        carried: dict[str, float] = {}
        combined = vector.astype(np.float32).copy()
        for age, turn in enumerate(reversed(turns)):
            weight = f.carry * f.decay**age
            combined += weight * self.retriever.embed_question(turn)
            for t in tokenize(turn):
                if t not in terms and t.strip():
                    carried[t] = max(carried.get(t, 0.0), weight)
        combined /= max(float(np.linalg.norm(combined)), 1e-9)
        prior = None
        if turns and f.prior:
            last = self.ask(turns[-1], history=turns[:-1], mode=mode, where=where)
            prior = last.quotes[0].article_id if last.answered else None
        return combined, carried, prior

    def compose(
        self, question: str, candidates: list[Candidate], carried: list[str], abstain: bool = True
    ) -> Answer:
        """Rank candidates, decide whether to answer, and render the reply.

        With ``abstain`` False the best candidates are quoted whatever the
        answerability model says (evaluation measures both).
        """
        w = self.weights
        ranked = rank(candidates)
        answerable = answerable_probability(question, ranked)
        threshold = models().abstain_below if w.abstain_below is None else w.abstain_below
        if not ranked:
            return Answer(question, False, render_abstention(question), [], "无", carried, answerable)
        first = first_quote_probability(question, ranked)
        if abstain and answerable < threshold:
            # The reader still gets something to judge the refusal by: the nearest sentences, unconfirmed.
            nearest = self._quotes(choose(ranked, first, w.nearest, None))
            rendered = render_abstention(question, nearest)
            return Answer(question, False, rendered, [], "无", carried, answerable, nearest=nearest)
        quotes = self._quotes(choose(ranked, first, w.quotes, w.further_within))
        confidence = confidence_label(quotes[0].score)
        span = answer_span(question, quotes[0].quote, quotes[0].start, first)
        rendered = render_answer(quotes, confidence, carried, self.retriever.index.paragraph_text, span)
        return Answer(question, True, rendered, quotes, confidence, carried, answerable, answer_span=span)

    def _quotes(self, chosen: list[tuple[float, Candidate]]) -> list[Quote]:
        """Cited quotes, numbered from 1, for the chosen candidates and their probabilities."""
        quotes: list[Quote] = []
        for probability, c in chosen:
            p = c.hit.passage
            meta = self.retriever.index.articles.get(p.article_id) or ArticleRecord(
                title=p.article_id, content_hash=""
            )
            quotes.append(
                Quote(
                    rank=len(quotes) + 1,
                    article_id=p.article_id,
                    title=meta.title,
                    paragraph=c.paragraph,
                    start=c.start,
                    end=c.end,
                    quote=c.text,
                    passage=p.text,
                    score=round(probability, 4),
                    passage_start=p.start,
                    passage_end=p.end,
                    date=meta.date,
                    source=meta.source,
                    file=p.article_id if meta.format != "text" else None,
                    page=bisect_right(meta.pages, c.start) if meta.pages else None,
                )
            )
        return quotes


def choose(
    ranked: list[Ranked], first: float, count: int, within: float | None
) -> list[tuple[float, Candidate]]:
    """Up to ``count`` best candidates that do not overlap, each with its probability.

    The first quote's probability is ``first`` (calibrated); later ones get it in proportion
    to their share. With ``within``, a candidate whose share times ``within`` falls below the
    best one's share ends the list.
    """
    chosen: list[tuple[float, Candidate]] = []
    for r in ranked:
        if len(chosen) == count or (chosen and within is not None and r.share * within < ranked[0].share):
            break
        c = r.candidate
        overlaps = any(
            o.hit.passage.article_id == c.hit.passage.article_id and o.start < c.end and c.start < o.end
            for _, o in chosen
        )
        if not overlaps:
            chosen.append((first * r.share / ranked[0].share, c))
    return chosen


def confidence_label(top_quote: float) -> str:
    """高 / 中 / 低 from the first quote's probability of holding the answer.

    The thresholds are in quote_model.json; docs/benchmarks.md gives how often a first
    quote of each label held the answer, by question style.
    """
    for label, threshold in models().confidence.items():
        if top_quote >= threshold:
            return label
    return "低"


def confidence_meaning(label: str) -> str:
    """What a label meant, measured: how often a first quote so labelled held the answer."""
    share = models().held.get(label)
    if share is None:
        return ""
    tenths = round(share * 10)
    amount = "几乎都" if tenths >= 10 else f"约 {tenths} 成" if tenths >= 1 else "很少"
    return f"同类问题中{amount}首条引文含答案"


def confidence_badge(label: str) -> str:
    """The label in bold with its measured meaning beside it and as a tooltip.

    The raw score is not shown; it stays in ``--json``.
    """
    meaning = html.escape(confidence_meaning(label))
    badge = f'<strong title="{meaning}（测试集上实测）">{html.escape(label)}</strong>'
    return badge + (f" <small>{meaning}</small>" if meaning else "")


def highlight(text: str, offset: int, quote: Quote, span: AnswerSpan | None = None) -> str:
    """``text`` (which starts at ``offset`` in the article) as HTML, the quote in ``<mark>``.

    An answer span inside the quote is marked within the highlight as ``<span class="answer">``.
    """
    a = max(0, quote.start - offset)
    b = max(a, quote.end - offset)
    marked = mark_quote(text, a, b, (span.start - offset, span.end - offset) if span else None)
    return (html_text(text[:a]) + marked + html_text(text[b:])).replace("\n", "<br>")


def mark_quote(text: str, a: int, b: int, span: tuple[int, int] | None = None) -> str:
    """``text[a:b]`` as HTML in ``<mark>``, with ``span`` (offsets into ``text``) marked inside
    as ``<span class="answer">`` when it lies within."""
    if span is None or not a <= span[0] <= span[1] <= b:
        return f"<mark>{html_text(text[a:b])}</mark>"
    x, y = span
    inside = f'{html_text(text[a:x])}<span class="answer">{html_text(text[x:y])}</span>{html_text(text[y:b])}'
    return f"<mark>{inside}</mark>"


def html_text(text: str) -> str:
    """Text as HTML: escaped, with invisible and control characters marked."""
    return mark_invisible(html.escape(text))


def render_head(
    quotes: list[Quote], confidence: str, carried: list[str], span: AnswerSpan | None = None
) -> list[str]:
    """Markdown lines of the answer itself: the answer span in bold when there is one, the first
    quote (the span marked inside it), its label, the supporting quotes."""
    top = quotes[0]
    if span is None:
        lines = [f"> {md_escape(top.quote)} [1]"]
    else:
        # A tag, not **…**: markdown does not open bold between two CJK characters before 《.
        x, y = span.start - top.start, span.end - top.start
        marked = md_escape(top.quote[:x]) + f'<span class="answer">{md_escape(span.text)}</span>'
        lines = [f"**{md_escape(span.text)}**", "", f"> {marked}{md_escape(top.quote[y:])} [1]"]
    lines += ["", f"置信度：{confidence_badge(confidence)}"]
    if len(quotes) > 1:
        lines += ["", "其他相关原文："]
        lines += [f"- {md_escape(q.quote)} [{q.rank}]" for q in quotes[1:]]
    if carried:
        lines += ["", "（沿用上文的关键词：" + "、".join(md_escape(t) for t in carried) + "）"]
    return lines


def render_answer(
    quotes: list[Quote],
    confidence: str,
    carried: list[str],
    paragraph_text: Callable[[str, int], tuple[int, str]],
    span: AnswerSpan | None = None,
) -> str:
    """Markdown: the answer span in bold when there is one, the first quote, then the sources.

    Sources are grouped by article; each quote shows its passage with the quote highlighted
    (and the answer span marked inside the first), and a fold that opens the whole paragraph
    and a citation line to copy.
    """
    lines = render_head(quotes, confidence, carried, span)
    lines += ["", "**来源**", ""]
    by_article: dict[str, list[Quote]] = {}
    for q in quotes:
        by_article.setdefault(q.article_id, []).append(q)
    for group in by_article.values():
        first = group[0]
        extra = " · ".join(md_escape(x) for x in (first.date, first.source, first.file) if x)
        lines += [f"**《{md_escape(first.title)}》**" + (f" · {extra}" if extra else ""), ""]
        for q in group:
            start, paragraph = paragraph_text(q.article_id, q.paragraph)
            marks = span if q.rank == 1 else None
            lines += [
                f"[{q.rank}] {f'第 {q.page} 页 · ' if q.page else ''}第 {q.paragraph} 段",
                f"<blockquote>{highlight(q.passage, q.passage_start, q, marks)}</blockquote>",
                f"<details><summary>展开第 {q.paragraph} 段全文 · 复制引用</summary>"
                f"<p>{highlight(paragraph, start, q, marks)}</p>"
                f"<p><code>{html_text(q.citation)}</code></p></details>",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


NEAREST_LABEL = "未经确认的相关段落"


def refusal_text(question: str) -> str:
    """The sentence that says no article answers ``question`` (escaped as the output needs)."""
    return f"这些文章里没有找到能回答「{question}」的内容。可以换个说法，或先把相关文章加入语料库。"


def render_abstention(question: str, nearest: list[Quote] | None = None) -> str:
    """The reply when no sentence in the articles answers the question.

    The nearest sentences follow in a closed fold, marked as unconfirmed, each highlighted in
    its passage with its citation, so the reader can judge the refusal.
    """
    text = refusal_text(md_escape(question)) + "\n"
    if not nearest:
        return text
    parts = [
        f"<details><summary>{NEAREST_LABEL}（{len(nearest)} 处，可能并不回答这个问题）</summary>",
    ]
    for q in nearest:
        where = " · ".join(
            html_text(x)
            for x in (
                f"《{q.title}》",
                q.date,
                q.source,
                f"第 {q.page} 页" if q.page else None,
                f"第 {q.paragraph} 段",
            )
            if x
        )
        parts += [
            f"<p>{where}</p>",
            f"<blockquote>{highlight(q.passage, q.passage_start, q)}</blockquote>",
            f"<p><code>{html_text(q.citation)}</code></p>",
        ]
    parts.append("</details>")
    return text + "\n" + "".join(parts) + "\n"
