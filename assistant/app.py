"""The Gradio web chat: a thin shell over :class:`assistant.service.Assistant`.

``respond`` is a plain function (message, history) → markdown, testable
without a browser; all formatting lives in :mod:`assistant.answer`.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from assistant.errors import AssistantError
from assistant.service import Assistant

logger = logging.getLogger(__name__)

CSS = """
mark { background: #ffe58f; color: inherit; padding: 0 2px; border-radius: 2px; }
blockquote { margin: 4px 0 8px 0; color: #444; }
"""


def message_text(content: Any) -> str:
    """The text of a chat message, whether a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(message_text(part) for part in content)
    return ""


def user_turns(history: list[Any]) -> list[str]:
    """Earlier user questions, oldest first, from Gradio's message history."""
    turns = []
    for item in history or []:
        if isinstance(item, dict) and item.get("role") == "user":
            text = message_text(item.get("content")).strip()
            if text:
                turns.append(text)
    return turns


def make_respond(assistant: Assistant) -> Any:
    """The chat callback bound to one assistant."""

    def respond(message: Any, history: list[Any]) -> str:
        question = message_text(message)
        try:
            return assistant.ask(question, history=user_turns(history)).answer
        except AssistantError as exc:
            return html.escape(str(exc))

    return respond


def example_questions(assistant: Assistant, limit: int = 6) -> list[str]:
    """Questions from the articles' front matter (``questions: a | b``), else about their titles."""
    examples: list[str] = []
    for meta in assistant.answerer.retriever.index.articles.values():
        listed = [q.strip() for q in (meta.get("questions") or "").split("|") if q.strip()]
        examples.extend(listed or [f"《{meta['title']}》讲了什么？"])
    return list(dict.fromkeys(examples))[:limit]


def build_app(assistant: Assistant) -> Any:
    """The Gradio Blocks app."""
    import gradio as gr

    manifest = assistant.answerer.retriever.index.manifest
    counts = manifest["counts"]
    with gr.Blocks(title="新闻问答") as demo:
        gr.Markdown(
            f"## 新闻问答\n用中文提问，回答直接引用文章原文并标明出处。"
            f"当前索引：{counts['articles']} 篇文章，{counts['passages']} 个段落。"
        )
        gr.ChatInterface(
            make_respond(assistant),
            chatbot=gr.Chatbot(height=560, label="对话", buttons=["copy"]),
            textbox=gr.Textbox(placeholder="输入问题，例如：火神山医院是哪家企业负责建设的？", label="问题"),
            examples=example_questions(assistant) or None,
            examples_label="示例问题",
            api_name="ask",
        )
    return demo


def serve(assistant: Assistant, host: str, port: int) -> None:
    """Build the app and block serving it."""
    build_app(assistant).launch(server_name=host, server_port=port, show_error=True, css=CSS)
