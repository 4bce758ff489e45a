"""The Gradio web app: a thin shell over :class:`assistant.service.Assistant`.

The chat tab asks questions; the Corpus tab lists, adds and removes articles
and updates the index. Every callback is a plain function testable without a
browser; answer formatting lives in :mod:`assistant.answer`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assistant.answer import md_escape
from assistant.corpus import add_file, add_text, remove_article
from assistant.errors import AssistantError
from assistant.retrieval import Filter
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

    def respond(
        message: Any,
        history: list[Any],
        article: str | None = None,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> str:
        question = message_text(message)
        where = Filter(
            article=article or None,
            source=source or None,
            since=(since or "").strip() or None,
            until=(until or "").strip() or None,
        )
        try:
            return assistant.ask(question, history=user_turns(history), where=where).answer
        except AssistantError as exc:
            return md_escape(str(exc))

    return respond


def example_questions(assistant: Assistant, limit: int = 6) -> list[str]:
    """Questions from the articles' front matter (``questions: a | b``), else about their titles."""
    examples: list[str] = []
    for meta in assistant.answerer.retriever.index.articles.values():
        listed = [q.strip() for q in (meta.get("questions") or "").split("|") if q.strip()]
        examples.extend(listed or [f"《{meta['title']}》讲了什么？"])
    return list(dict.fromkeys(examples))[:limit]


def header(assistant: Assistant) -> str:
    """The title line, with the live index's size."""
    counts = assistant.answerer.retriever.index.manifest["counts"]
    return (
        "## 新闻问答\n用中文提问，回答直接引用文章原文并标明出处。"
        f"当前索引：{counts['articles']} 篇文章，{counts['passages']} 个段落。"
    )


def article_choices(assistant: Assistant) -> list[tuple[str, str]]:
    """(label, article id) pairs for the filter's article menu."""
    articles = assistant.answerer.retriever.index.articles
    return [
        (f"《{meta['title']}》 {article_id}", article_id) for article_id, meta in sorted(articles.items())
    ]


def sources(assistant: Assistant) -> list[str]:
    """The distinct sources named in the articles' front matter."""
    articles = assistant.answerer.retriever.index.articles.values()
    return sorted({str(meta["source"]) for meta in articles if meta.get("source")})


# Questions answered at once: one per core, so a slow one never holds up the rest. 1, 2 and 4
# gave the same 20 answers/s to 16 clients in bench/load.py (docs/benchmarks.md).
CONCURRENT_ANSWERS = 2

ARTICLE_COLUMNS = ["文件", "标题", "日期", "来源", "段落数", "索引时间", "也见于"]


def article_rows(assistant: Assistant) -> list[list[Any]]:
    """One row per indexed article, for the Corpus tab's table."""
    return [
        [
            article_id,
            meta.get("title", ""),
            meta.get("date") or "",
            meta.get("source") or "",
            meta.get("passages", 0),
            meta.get("indexed_at", ""),
            "、".join(meta.get("also_in") or []),
        ]
        for article_id, meta in sorted(assistant.answerer.retriever.index.articles.items())
    ]


def save_uploads(assistant: Assistant, files: list[Any] | None) -> str:
    """Save uploaded files into the corpus; say which were refused and why."""
    lines = []
    for item in files or []:
        path = Path(item if isinstance(item, str) else getattr(item, "name", str(item)))
        try:
            saved = add_file(assistant.settings.corpus_dir, path.name, path.read_bytes())
            lines.append(f"已加入：{saved.name}")
        except (AssistantError, OSError) as exc:
            lines.append(f"未加入：{exc}")
    if not lines:
        return "请先选择要上传的 .txt 或 .md 文件。"
    return "\n".join(lines) + "\n\n点击「更新索引」后即可提问。"


def save_pasted(assistant: Assistant, title: str, body: str) -> str:
    """Save a pasted article into the corpus."""
    try:
        saved = add_text(assistant.settings.corpus_dir, title, body)
    except AssistantError as exc:
        return f"未加入：{exc}"
    return f"已加入：{saved.name}\n\n点击「更新索引」后即可提问。"


def run_update(assistant: Assistant, progress: Any = None) -> str:
    """Update the index from the corpus; questions keep using the old one until it is done."""

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(done / max(total, 1), desc=f"向量化 {done}/{total}")

    try:
        r = assistant.update(progress=report)
    except AssistantError as exc:
        return f"更新失败：{exc}"
    skipped = r.skipped + r.duplicates
    lines = [
        f"索引已更新：新增 {len(r.added)} 篇，修改 {len(r.changed)} 篇，删除 {len(r.removed)} 篇，"
        f"未变 {len(r.unchanged)} 篇，跳过 {len(skipped)} 篇；"
        f"现有 {r.articles} 篇文章、{r.passages} 个段落（新向量化 {r.embedded} 段文本，"
        f"复用 {r.reused} 段），用时 {r.seconds:.1f} 秒。"
    ]
    lines += [f"- 跳过：{reason}" for reason in skipped]
    return "\n".join(lines)


def delete_article(assistant: Assistant, article_id: str | None, progress: Any = None) -> str:
    """Move an article to corpus/.trash/ and update the index."""
    if not article_id:
        return "请先选择要删除的文章。"
    try:
        moved = remove_article(assistant.settings.corpus_dir, article_id)
    except AssistantError as exc:
        return f"删除失败：{exc}"
    return f"已移到 {moved}。\n" + run_update(assistant, progress)


def build_app(assistant: Assistant) -> Any:
    """The Gradio Blocks app: the chat, and a Corpus tab to add, remove and re-index articles."""
    import gradio as gr

    with gr.Blocks(title="新闻问答") as demo:
        title = gr.Markdown(header(assistant))
        with gr.Tab("问答"):
            with gr.Accordion("筛选（可选）", open=False), gr.Row():
                only_article = gr.Dropdown(
                    choices=article_choices(assistant), label="只看这篇文章", value=None
                )
                only_source = gr.Dropdown(choices=sources(assistant), label="只看这个来源", value=None)
                since = gr.Textbox(label="起始日期", placeholder="2020-01-01")
                until = gr.Textbox(label="截止日期", placeholder="2020-02-29")
            gr.ChatInterface(
                make_respond(assistant),
                chatbot=gr.Chatbot(height=560, label="对话", buttons=["copy"], elem_id="chat"),
                textbox=gr.Textbox(
                    placeholder="输入问题，例如：火神山医院是哪家企业负责建设的？", label="问题"
                ),
                examples=[[q] for q in example_questions(assistant)] or None,
                examples_label="示例问题",
                additional_inputs=[only_article, only_source, since, until],
                api_name="ask",
                concurrency_limit=CONCURRENT_ANSWERS,
            )
        with gr.Tab("语料库"):
            table = gr.Dataframe(
                value=article_rows(assistant),
                headers=ARTICLE_COLUMNS,
                interactive=False,
                label="已索引的文章",
                elem_id="article-table",
            )
            with gr.Row():
                with gr.Column():
                    files = gr.File(
                        label="上传文章（.txt / .md）",
                        file_count="multiple",
                        file_types=[".txt", ".md"],
                        elem_id="article-upload",
                    )
                    upload = gr.Button("保存上传的文章")
                with gr.Column():
                    paste_title = gr.Textbox(label="标题")
                    paste_body = gr.Textbox(label="正文", lines=6)
                    paste = gr.Button("保存粘贴的文章")
            with gr.Row():
                update = gr.Button("更新索引", variant="primary")
                choice = gr.Dropdown(
                    choices=sorted(assistant.answerer.retriever.index.articles),
                    label="选择要删除的文章",
                    scale=2,
                )
                delete = gr.Button("删除并更新索引", variant="stop")
            status = gr.Markdown()

            def refresh() -> tuple[Any, ...]:
                rows = article_rows(assistant)
                return (
                    rows,
                    gr.update(choices=[row[0] for row in rows], value=None),
                    header(assistant),
                    gr.update(choices=article_choices(assistant)),
                    gr.update(choices=sources(assistant)),
                )

            def do_update(progress: Any = gr.Progress()) -> str:  # noqa: B008 - Gradio's idiom
                return run_update(assistant, progress)

            def do_delete(article_id: str | None, progress: Any = gr.Progress()) -> str:  # noqa: B008
                return delete_article(assistant, article_id, progress)

            upload.click(lambda f: save_uploads(assistant, f), inputs=files, outputs=status, api_name=False)
            paste.click(
                lambda t, b: save_pasted(assistant, t, b),
                inputs=[paste_title, paste_body],
                outputs=status,
                api_name=False,
            )
            refreshed = [table, choice, title, only_article, only_source]
            update.click(do_update, outputs=status, api_name=False).then(
                refresh, outputs=refreshed, api_name=False
            )
            delete.click(do_delete, inputs=choice, outputs=status, api_name=False).then(
                refresh, outputs=refreshed, api_name=False
            )
    return demo


def serve(assistant: Assistant, host: str, port: int) -> None:
    """Build the app and block serving it."""
    build_app(assistant).launch(server_name=host, server_port=port, show_error=True, css=CSS)
