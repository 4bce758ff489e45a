"""The answer as a terminal shows it: plain text, styled when the output is a terminal.

``assistant ask`` prints this instead of the chat's markdown, whose HTML (highlights, folds,
the answer span's tag) a terminal would show as tags. It is drawn from the ``--json`` reply, so
a local ask and one sent to a running server (``--server``) print the same. Quotes stay
verbatim: the answer span is marked inside the first quote by style only (bold and
underlined), never by added characters, and click drops the styles when the output is not a
terminal. Control characters from an article (an ANSI escape would drive the reader's terminal)
and bidi or zero-width ones (they reorder or hide what a quote says) are shown as ⟨U+XXXX⟩.
"""

from __future__ import annotations

import re
from typing import Any

import click

from assistant.answer import INVISIBLE_CHARS, NEAREST_LABEL, confidence_meaning, refusal_text

INDENT = "  "
_HIDDEN = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{INVISIBLE_CHARS}]")


def render_reply(reply: dict[str, Any]) -> str:
    """The reply of ``Answer.to_json`` (or ``POST /api/ask``) as text for a terminal."""
    if not reply["answered"]:
        return render_refusal(reply)
    quotes = reply["quotes"]
    span = reply.get("answer_span")
    lines = []
    if span:
        lines += [click.style(visible(span["text"]), bold=True), ""]
    lines += [INDENT + marked_quote(quotes[0], span) + " [1]", ""]
    meaning = confidence_meaning(reply["confidence"])
    lines.append(f"置信度：{reply['confidence']}" + (f"（{meaning}）" if meaning else ""))
    if len(quotes) > 1:
        lines += ["", "其他相关原文："]
        lines += [f"{INDENT}[{q['rank']}] {visible(q['quote'])}" for q in quotes[1:]]
    if reply.get("carried_terms"):
        lines += ["", "（沿用上文的关键词：" + "、".join(map(visible, reply["carried_terms"])) + "）"]
    lines += ["", "来源（引用）："]
    for q in quotes:
        lines += [
            f"{INDENT}[{q['rank']}] {where(q)}",
            INDENT * 2 + click.style(visible(q["citation"]), dim=True),
        ]
    return "\n".join(lines)


def render_refusal(reply: dict[str, Any]) -> str:
    """The refusal, then the nearest sentences, each said to be unconfirmed, with where it is."""
    lines = [refusal_text(visible(reply["question"]))]
    nearest = reply.get("nearest") or []
    if nearest:
        lines += ["", f"{NEAREST_LABEL}（{len(nearest)} 处，可能并不回答这个问题）："]
        for q in nearest:
            lines += [f"{INDENT}[{q['rank']}] {where(q)}", INDENT * 2 + visible(q["quote"])]
    return "\n".join(lines)


def marked_quote(quote: dict[str, Any], span: dict[str, Any] | None) -> str:
    """The quote, with the answer span inside it in bold and underlined when it lies within."""
    text = quote["quote"]
    if not span or not quote["start"] <= span["start"] <= span["end"] <= quote["end"]:
        return visible(text)
    x, y = span["start"] - quote["start"], span["end"] - quote["start"]
    return visible(text[:x]) + click.style(visible(text[x:y]), bold=True, underline=True) + visible(text[y:])


def where(quote: dict[str, Any]) -> str:
    """《title》 · date · source · file · page · paragraph of a quote."""
    parts = [
        f"《{quote['title']}》",
        quote.get("date"),
        quote.get("source"),
        quote.get("file"),
        f"第 {quote['page']} 页" if quote.get("page") else None,
        f"第 {quote['paragraph']} 段",
    ]
    return visible(" · ".join(p for p in parts if p))


def visible(text: str) -> str:
    """Text with each control, bidi or zero-width character shown as ⟨U+XXXX⟩."""
    return _HIDDEN.sub(lambda m: f"⟨U+{ord(m[0]):04X}⟩", text)
