"""What the web chat shows for an answer: the reply in the chat, and the sources panel beside it.

The reply puts the answer first (the answer span in bold when there is one, the first quote,
its label, the supporting quotes) and
ends with one citation line per quote. The panel groups the quotes by article and opens
each article at its quotes, highlighted, in a box the reader can scroll to read around
them. A refusal's nearest sentences go to the panel too, headed as unconfirmed. The CLI
and the HTTP API keep the whole markdown of :func:`assistant.answer.render_answer`.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from assistant.answer import NEAREST_LABEL, Answer, Quote, html_text, mark_quote, md_escape, render_head
from assistant.span import AnswerSpan

# Characters of article text shown before the first quote and after the last one.
CONTEXT_CHARS = 1500
PANEL_EMPTY = '<div class="src-panel src-empty">提问后，这里按文章列出引文，并打开原文、标出引文位置。</div>'

# Scrolls each article box of the panel so its first quote is near the box's top.
SCROLL_TO_QUOTES_JS = """() => {
  requestAnimationFrame(() => {
    for (const box of document.querySelectorAll("#sources .src-text")) {
      const mark = box.querySelector("mark");
      if (mark) box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top - 24;
    }
  });
  return [];
}"""

PANEL_CSS = """
#sources .src-panel { font-size: 0.95em; }
#sources .src-head { font-weight: 600; margin-bottom: 6px; }
#sources .src-unconfirmed { color: #8c6d1f; }
#sources .src-article { margin-bottom: 14px; }
#sources .src-text { max-height: 42vh; overflow-y: auto; border: 1px solid #e5e5e5; border-radius: 4px;
  padding: 6px 10px; line-height: 1.7; white-space: normal; }
#sources .src-text sup { color: #888; }
#sources .src-empty { color: #888; }
"""


def chat_reply(answer: Answer, article_text: Callable[[str], tuple[int, str]]) -> tuple[str, str]:
    """The chat's markdown and the sources panel's HTML for ``answer``."""
    if not answer.answered:
        panel = (
            render_panel(answer.nearest, article_text, unconfirmed=True) if answer.nearest else PANEL_EMPTY
        )
        return answer.answer, panel
    lines = render_head(answer.quotes, answer.confidence, answer.carried_terms, answer.answer_span)
    lines += ["", "**来源**（原文见来源面板）", ""]
    lines += [f"[{q.rank}] {md_escape(short_citation(q))}  " for q in answer.quotes]
    return "\n".join(lines).rstrip() + "\n", render_panel(
        answer.quotes, article_text, span=answer.answer_span
    )


def short_citation(q: Quote) -> str:
    """《title》, date, source, page and paragraph: where a quote stands."""
    where = "，".join(x for x in (q.date, q.source, f"第{q.page}页" if q.page else None) if x)
    return f"《{q.title}》{'，' + where if where else ''}，第{q.paragraph}段"


def render_panel(
    quotes: list[Quote],
    article_text: Callable[[str], tuple[int, str]],
    unconfirmed: bool = False,
    span: AnswerSpan | None = None,
) -> str:
    """The quotes grouped by article, each article open at its quotes with each one marked
    (and the answer span marked inside the first)."""
    by_article: dict[str, list[Quote]] = {}
    for q in quotes:
        by_article.setdefault(q.article_id, []).append(q)
    head = (
        f'<div class="src-head src-unconfirmed">{NEAREST_LABEL}（可能并不回答这个问题）</div>'
        if unconfirmed
        else f'<div class="src-head">来源：{len(by_article)} 篇文章</div>'
    )
    parts = ['<div class="src-panel">', head]
    for group in by_article.values():
        first = group[0]
        meta = " · ".join(html.escape(x) for x in (first.date, first.source, first.file) if x)
        start, text = article_text(first.article_id)
        citations = "".join(f"<p><code>{html_text(q.citation)}</code></p>" for q in group)
        parts += [
            '<section class="src-article">',
            f"<div><strong>《{html_text(first.title)}》</strong>{' · ' + meta if meta else ''}</div>",
            f'<div class="src-text">{marked(text, start, group, span)}</div>',
            f"<details><summary>复制引用</summary>{citations}</details>",
            "</section>",
        ]
    parts.append("</div>")
    return "".join(parts)


def marked(text: str, offset: int, quotes: list[Quote], span: AnswerSpan | None = None) -> str:
    """HTML of ``text`` (starting at ``offset`` in the article) around the quotes, each in ``<mark>``.

    The answer span, inside the first quote, is marked within its highlight. Shows
    :data:`CONTEXT_CHARS` before the first quote and after the last, with …… where cut.
    """
    spans = sorted((max(q.start - offset, 0), max(q.end - offset, 0), q.rank) for q in quotes)
    lo = max(0, spans[0][0] - CONTEXT_CHARS)
    hi = min(len(text), max(b for _, b, _ in spans) + CONTEXT_CHARS)
    out = ["……" if lo > 0 else ""]
    pos = lo
    for a, b, rank in spans:
        a = max(a, pos)
        out.append(html_text(text[pos:a]))
        if b > a:
            answer = (span.start - offset, span.end - offset) if rank == 1 and span is not None else None
            out.append(f"{mark_quote(text, a, b, answer)}<sup>[{rank}]</sup>")
        pos = max(pos, b)
    out.append(html_text(text[pos:hi]))
    out.append("……" if hi < len(text) else "")
    return "".join(out).replace("\n", "<br>")
