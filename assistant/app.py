"""The Gradio web app: a thin shell over :class:`assistant.service.Assistant`.

The chat tab asks questions, open to anyone. The Corpus tab lists the
articles; when ``ASSISTANT_ADMIN_PASSWORD`` is set, an administrator who logs
in there can also add, remove, restore and re-index them (access rules live in
:mod:`assistant.access`). Every callback is a plain function testable without
a browser; answer formatting lives in :mod:`assistant.answer`. :func:`serve` runs
the page mounted on the JSON API of :mod:`assistant.api`, on one port.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from assistant.access import (
    ADMIN_COOKIE,
    ADMIN_PASSWORD_ENV,
    ALLOWED_HOSTS_ENV,
    LOCAL_HOSTS,
    WILDCARD_HOSTS,
    AdminGate,
    HostGuard,
    allowed_hosts,
)
from assistant.answer import md_escape
from assistant.chat_view import PANEL_CSS, PANEL_EMPTY, SCROLL_TO_QUOTES_JS, chat_reply
from assistant.corpus import ARTICLE_SUFFIXES, trashed_articles
from assistant.corpus.readers import upload_limit
from assistant.errors import AssistantError
from assistant.examples import LiveExamples
from assistant.feedback import (
    DOWN,
    UP,
    FeedbackLog,
    RecentAnswers,
    feedback_path,
    note_record,
    vote_record,
)
from assistant.manage import MAX_UPLOADS, CorpusManager, public_message
from assistant.retrieval import Filter
from assistant.service import Assistant

logger = logging.getLogger(__name__)

CSS = """
mark { background: #ffe58f; color: inherit; padding: 0 2px; border-radius: 2px; }
blockquote { margin: 4px 0 8px 0; color: #444; }
.answer { font-weight: 700; text-decoration: underline; text-underline-offset: 3px; }
.ctl { color: #a8071a; font-size: 0.75em; border: 1px dotted #a8071a; border-radius: 2px; }
#chat .message-row { scroll-margin-top: 32px; }
/* Gradio floats its scroll-to-bottom arrow over the bottom of the messages, on the text there (on
   a phone, the last lines of a long answer). In the flow instead, the list makes room above it. */
#chat .scroll-down-button-container { position: static; transform: none; align-self: center; margin: 4px 0; }
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


def make_respond(assistant: Assistant, recent: RecentAnswers | None = None) -> Any:
    """The chat callback bound to one assistant: the reply's markdown and the sources panel.

    Answers are kept in ``recent`` for votes.
    """

    def respond(
        message: Any,
        history: list[Any],
        article: str | None = None,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> tuple[str, str]:
        question = message_text(message)
        try:
            where = Filter(
                article=article or None,
                source=source or None,
                since=(since or "").strip() or None,
                until=(until or "").strip() or None,
            )
            answer = assistant.ask(question, history=user_turns(history), where=where)
        except AssistantError as exc:
            return md_escape(public_message(str(exc), assistant.settings)), PANEL_EMPTY
        shown, panel = chat_reply(answer, assistant.index.article_text)
        if recent is not None:
            recent.remember(shown, answer)
        return shown, panel

    return respond


def record_vote(
    log: FeedbackLog, recent: RecentAnswers, history: list[Any], index: Any, liked: Any
) -> str | None:
    """Record a 👍/👎 on the chat message at ``index``; the vote's id, or None when not recorded.

    The question is the user turn right before that message, the history the turns before it.
    A reply to a blank or emoji-only message is not recorded: it answered no question, and
    the question before it is not the one the vote is about.
    """
    vote = {True: UP, "Like": UP, False: DOWN, "Dislike": DOWN}.get(liked)
    if vote is None or not isinstance(index, int) or not 0 <= index < len(history or []):
        return None
    shown = message_text(history[index].get("content") if isinstance(history[index], dict) else "")
    asked = [m for m in history[:index] if isinstance(m, dict) and m.get("role") == "user"]
    if not asked or not any(ch.isalnum() for ch in message_text(asked[-1].get("content"))):
        return None
    turns = user_turns(history[:index])
    record = vote_record(vote, turns[-1], turns[:-1], recent.find(shown), shown)
    return record["id"] if log.append(record) else None


def header(assistant: Assistant) -> str:
    """The title line, with the live index's size."""
    counts = assistant.index.manifest.counts
    return (
        "## 新闻问答\n用中文提问，回答直接引用文章原文并标明出处。"
        f"当前索引：{counts.articles} 篇文章，{counts.passages} 个段落。"
    )


def article_choices(assistant: Assistant) -> list[tuple[str, str]]:
    """(label, article id) pairs for the filter's article menu."""
    articles = assistant.index.articles
    return [(f"《{meta.title}》 {article_id}", article_id) for article_id, meta in sorted(articles.items())]


def sources(assistant: Assistant) -> list[str]:
    """The distinct sources named in the articles' front matter."""
    articles = assistant.index.articles.values()
    return sorted({meta.source for meta in articles if meta.source})


ARTICLE_COLUMNS = ["文件", "标题", "日期", "来源", "段落数", "索引时间", "也见于"]


def article_rows(assistant: Assistant) -> list[list[Any]]:
    """One row per indexed article, for the Corpus tab's table."""
    return [
        [
            article_id,
            meta.title,
            meta.date or "",
            meta.source or "",
            meta.passages,
            meta.indexed_at,
            "、".join(meta.also_in),
        ]
        for article_id, meta in sorted(assistant.index.articles.items())
    ]


# Gradio's upload requests carry cookies but no event inputs, so the page mirrors its admin token
# in a cookie that assistant.access.HostGuard checks before storing any upload.
COPY_TOKEN_JS = """(token) => {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = token
    ? `ADMIN_COOKIE=${token}; path=/; max-age=43200; SameSite=Strict${secure}`
    : "ADMIN_COOKIE=; path=/; max-age=0; SameSite=Strict";
  return [];
}""".replace("ADMIN_COOKIE", ADMIN_COOKIE)
# Scrolls the chat so that the last question is at its top, with the answer's start below it.
# Runs in the browser only (no server call) whenever the conversation changes.
SHOW_QUESTION_JS = """() => {
  requestAnimationFrame(() => {
    const asked = document.querySelectorAll("#chat .user.message");
    const last = asked[asked.length - 1];
    const row = last && (last.closest(".message-row") || last);
    if (row) row.scrollIntoView({block: "start", behavior: "instant"});
  });
  return [];
}"""
READ_ONLY_NOTE = (
    "语料库管理未开启：此服务器只提供问答。管理员可在启动前设置环境变量 "
    "`ASSISTANT_ADMIN_PASSWORD`，再在这里登录后上传、粘贴、删除和恢复文章。"
)


def build_app(
    assistant: Assistant, gate: AdminGate | None = None, feedback: FeedbackLog | None = None
) -> Any:
    """The Gradio Blocks app: the chat for anyone, and a Corpus tab.

    Args:
        assistant: the live assistant.
        gate: the administrator check. Without one the Corpus tab only lists
            the articles, and no handler that could change the corpus exists.
        feedback: where readers' 👍/👎 go; without it the chat shows no vote buttons.
    """
    import gradio as gr

    # Files a visitor uploaded but never saved are swept after an hour.
    with gr.Blocks(title="新闻问答", delete_cache=(3600, 3600)) as demo:
        title = gr.Markdown(lambda: header(assistant))
        with gr.Tab("问答"):
            with gr.Accordion("筛选（可选）", open=False), gr.Row():
                only_article = gr.Dropdown(
                    choices=article_choices(assistant), label="只看这篇文章", value=None
                )
                only_source = gr.Dropdown(choices=sources(assistant), label="只看这个来源", value=None)
                since = gr.Textbox(label="起始日期", placeholder="2020-01-01")
                until = gr.Textbox(label="截止日期", placeholder="2020-02-29")
            recent = RecentAnswers() if feedback is not None else None
            live = LiveExamples(assistant)  # each one asked and answered first
            examples = live.questions()
            # The sources panel is made first (the chat names it as an output), shown beside the
            # chat; on a narrow screen the row wraps and it goes below.
            panel = gr.HTML(PANEL_EMPTY, elem_id="sources", render=False)
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=380):
                    # No LaTeX: `$$…$$` in an article is quoted as written, never rendered as math.
                    # The chat fills the window's height below the header, leaving the question box
                    # and its send button in view on load (a phone's header wraps to two lines);
                    # after each answer the view shows the reader's question and the start of the
                    # answer, not its end.
                    chatbot = gr.Chatbot(
                        height="calc(100vh - 320px)",
                        min_height=420,
                        autoscroll=False,
                        label="对话",
                        buttons=["copy"],
                        elem_id="chat",
                        latex_delimiters=[],
                    )
                    question = gr.Textbox(
                        placeholder=placeholder(examples),
                        label="问题",
                        elem_id="question",
                        # A send button (Gradio's icon, so the field's accessible name stays 问题):
                        # a phone's keyboard may have no Enter that sends.
                        submit_btn=True,
                    )
                    gr.ChatInterface(
                        make_respond(assistant, recent),
                        chatbot=chatbot,
                        textbox=question,
                        # Gradio wires a click on an example only when it is given some. On an empty
                        # corpus it gets a blank one, never shown (cleared below), so that examples
                        # found after the first articles are indexed can be clicked and asked.
                        examples=[[q] for q in examples or [""]],
                        examples_label="示例问题",
                        additional_inputs=[only_article, only_source, since, until],
                        additional_outputs=[panel],
                        api_name="ask",
                        concurrency_limit=assistant.settings.concurrent_answers,
                    )
                    if not examples:
                        chatbot.examples = None
                    chatbot.change(None, js=SHOW_QUESTION_JS, api_name=False, queue=False)
                    if feedback is not None and recent is not None:
                        _votes(gr, chatbot, feedback, recent)
                with gr.Column(scale=2, min_width=320):
                    panel.render()
                    panel.change(None, js=SCROLL_TO_QUOTES_JS, api_name=False, queue=False)

        def fresh_examples() -> tuple[Any, ...]:
            # Re-checked when the index changed since they were shown: a deleted article's question
            # would be refused, or answered from another article.
            now = live.questions()
            return gr.update(examples=[{"text": q} for q in now] or None), gr.update(
                placeholder=placeholder(now)
            )

        page_examples = (fresh_examples, [chatbot, question])
        with gr.Tab("语料库"):
            table = gr.Dataframe(
                value=lambda: article_rows(assistant),
                headers=ARTICLE_COLUMNS,
                interactive=False,
                label="已索引的文章",
                elem_id="article-table",
            )
            if gate is None:
                gr.Markdown(READ_ONLY_NOTE, elem_id="read-only-note")
            else:
                _management(
                    gr,
                    CorpusManager(assistant, gate),
                    [table, title, only_article, only_source],
                    page_examples,
                )

        def fresh_menus() -> tuple[Any, Any]:
            # The menus were filled when the app was built: a page opened after an update (from
            # another page or the CLI) lists the articles and sources of the index live now.
            return gr.update(choices=article_choices(assistant)), gr.update(choices=sources(assistant))

        demo.load(fresh_menus, outputs=[only_article, only_source], api_name=False, queue=False)
        demo.load(fresh_examples, outputs=[chatbot, question], api_name=False)
    return demo


def placeholder(examples: list[str]) -> str:
    """The question box's hint: the first example question, when there is one."""
    return f"输入问题，例如：{examples[0]}" if examples else "输入问题"


FEEDBACK_THANKS = "已记录，谢谢。"


def _votes(gr: Any, chatbot: Any, log: FeedbackLog, recent: RecentAnswers) -> None:
    """👍/👎 on every answer; a 👎 opens a form for the right answer or a note."""
    pending = gr.State("")
    with gr.Group(visible=False, elem_id="feedback-form") as form:
        correction = gr.Textbox(
            label="正确答案（可选）：从文章中复制原文", elem_id="feedback-correction", max_length=2000
        )
        no_answer = gr.Checkbox(label="这些文章里其实没有答案", elem_id="feedback-no-answer")
        note = gr.Textbox(label="备注（可选）", elem_id="feedback-note", max_length=2000)
        send = gr.Button("提交反馈", elem_id="feedback-send")
    thanks = gr.Markdown(elem_id="feedback-status")

    def vote(history: list[Any], data: Any) -> tuple[Any, ...]:
        vote_id = record_vote(log, recent, history, data.index, data.liked)
        down = vote_id is not None and data.liked in (False, "Dislike")
        return vote_id or "", gr.update(visible=down), FEEDBACK_THANKS if vote_id else ""

    # Gradio passes the event's data to a parameter annotated with its class, read at run time.
    vote.__annotations__["data"] = gr.LikeData

    def send_note(vote_id: str, right: str, none: bool, text: str) -> tuple[Any, ...]:
        if vote_id and (right.strip() or none or text.strip()):
            log.append(note_record(vote_id, text, right, none))
        return "", gr.update(visible=False), FEEDBACK_THANKS, "", False, ""

    private = {"api_name": False, "queue": False}
    chatbot.like(vote, inputs=chatbot, outputs=[pending, form, thanks], **private)
    send.click(
        send_note,
        inputs=[pending, correction, no_answer, note],
        outputs=[pending, form, thanks, correction, no_answer, note],
        **private,
    )


def _management(
    gr: Any,
    manager: CorpusManager,
    shown: list[Any],
    examples: tuple[Callable[[], tuple[Any, ...]], list[Any]],
) -> None:
    """The login box and the management panel, wired to ``manager``'s checked handlers.

    After each change to the corpus, ``shown`` (the article table, title and filter menus) and
    ``examples`` (a handler and its outputs: the example questions) are refreshed.
    """
    assistant = manager.assistant
    with gr.Row():
        password = gr.Textbox(label="管理员密码", type="password", scale=3, elem_id="admin-password")
        login = gr.Button("登录", scale=1, elem_id="admin-login")
        # Shown to a logged-in administrator only: a visitor has nothing to log out of.
        logout = gr.Button("退出管理", scale=1, elem_id="admin-logout", visible=False)
    # The page holds the session's token, never the password; every handler checks it.
    token = gr.Textbox(visible="hidden", elem_id="admin-token")
    with gr.Column(visible=False) as panel:
        with gr.Row():
            with gr.Column():
                files = gr.File(
                    label=f"上传文章（{' / '.join(ARTICLE_SUFFIXES)}；.txt/.md 每篇不超过 "
                    f"{assistant.settings.max_file_bytes // 2**20} MB，其他每个不超过 "
                    f"{upload_limit(assistant.settings.max_file_bytes) // 2**20} MB，一次至多 {MAX_UPLOADS} 个）",
                    file_count="multiple",
                    file_types=list(ARTICLE_SUFFIXES),
                    elem_id="article-upload",
                )
                upload = gr.Button("保存上传的文章", elem_id="save-upload")
            with gr.Column():
                paste_title = gr.Textbox(label="标题")
                paste_body = gr.Textbox(label="正文", lines=6)
                paste = gr.Button("保存粘贴的文章", elem_id="save-paste")
        update = gr.Button("更新索引", variant="primary", elem_id="update-index")
        with gr.Row():
            choice = gr.Dropdown(
                choices=manager.deletable(),
                value=None,  # never a default: opening the tab and clicking must not delete anything
                label="选择要删除的文章",
                scale=2,
                elem_id="delete-choice",
            )
            confirm = gr.Checkbox(label="确认删除所选文章", value=False, elem_id="delete-confirm")
            delete = gr.Button("删除并更新索引", variant="stop", elem_id="delete-article")
        with gr.Row():
            trashed = gr.Dropdown(
                choices=[],  # filled after a login: deleted articles' names are the administrator's business
                value=None,
                label="回收站（corpus/.trash/）",
                scale=2,
                elem_id="restore-choice",
            )
            restore = gr.Button("恢复", elem_id="restore-article")
    status = gr.Markdown(elem_id="corpus-status")

    def refresh(held: str, chosen: str | None, in_trash: str | None) -> tuple[Any, ...]:
        # A choice that still exists stays chosen (a refused delete keeps it); the confirmation never does.
        rows = article_rows(assistant)
        ids = manager.deletable()
        trash = trashed_articles(manager.corpus) if manager.gate.check(held) else []
        chosen = chosen if chosen in ids else None
        return (
            rows,
            header(assistant),
            gr.update(choices=article_choices(assistant)),
            gr.update(choices=sources(assistant)),
            gr.update(choices=ids, value=chosen),
            name_the_article(chosen),
            gr.update(choices=trash, value=in_trash if in_trash in trash else None),
        )

    def do_login(entered: str) -> tuple[Any, ...]:
        # The menus are filled now, not when the app was built: files saved or indexed since are listed.
        message, issued = manager.login(entered)
        trash = trashed_articles(manager.corpus) if issued else []
        ids = manager.deletable() if issued else []
        return (
            message,
            issued,
            "",
            gr.update(visible=bool(issued)),
            gr.update(visible=bool(issued)),
            gr.update(choices=trash, value=None),
            gr.update(choices=ids, value=None),
            name_the_article(None),
        )

    def do_logout(held: str) -> tuple[Any, ...]:
        message, issued = manager.logout(held)
        return message, issued, gr.update(visible=False), gr.update(visible=False)

    def do_paste(held: str, title: str, body: str) -> tuple[Any, ...]:
        # A saved article leaves the boxes, so a second click cannot save it twice; a refused one
        # stays there to be fixed (skipped, not written back: the reader may have typed on meanwhile).
        message, saved = manager.paste(held, title, body)
        return (message, "", "") if saved else (message, gr.skip(), gr.skip())

    def do_update(held: str, progress: Any = gr.Progress()) -> str:  # noqa: B008 - Gradio's idiom
        return manager.update(held, progress)

    def do_delete(held: str, article_id: str | None, sure: bool, progress: Any = gr.Progress()) -> str:  # noqa: B008
        return manager.delete(held, article_id, sure, progress)

    def do_restore(held: str, name: str | None, progress: Any = gr.Progress()) -> str:  # noqa: B008
        return manager.restore(held, name, progress)

    def name_the_article(article_id: str | None) -> Any:
        label = f"确认删除 {article_id}" if article_id else "确认删除所选文章"
        return gr.update(value=False, label=label)

    private = {"api_name": False}
    logged_in = [status, token, password, panel, logout, trashed, choice, confirm]
    copy_token = {"fn": None, "inputs": token, "js": COPY_TOKEN_JS}
    login.click(do_login, inputs=password, outputs=logged_in, **private).then(**copy_token, **private)
    password.submit(do_login, inputs=password, outputs=logged_in, **private).then(**copy_token, **private)
    logout.click(do_logout, inputs=token, outputs=[status, token, panel, logout], **private).then(
        **copy_token, **private
    )
    choice.change(name_the_article, inputs=choice, outputs=confirm, **private)
    fresh, outputs = examples

    def refresh_all(held: str, chosen: str | None, in_trash: str | None) -> tuple[Any, ...]:
        return (*refresh(held, chosen, in_trash), *fresh())

    refreshed = {
        "fn": refresh_all,
        "inputs": [token, choice, trashed],
        "outputs": [*shown, choice, confirm, trashed, *outputs],
    }
    # A file just saved can be deleted at once, before any update indexes it.
    upload.click(manager.upload, inputs=[token, files], outputs=status, **private).then(
        lambda: None, outputs=files, **private
    ).then(**refreshed, **private)
    paste.click(
        do_paste,
        inputs=[token, paste_title, paste_body],
        outputs=[status, paste_title, paste_body],
        **private,
    ).then(**refreshed, **private)
    update.click(do_update, inputs=token, outputs=status, **private).then(**refreshed, **private)
    delete.click(do_delete, inputs=[token, choice, confirm], outputs=status, **private).then(
        **refreshed, **private
    )
    restore.click(do_restore, inputs=[token, trashed], outputs=status, **private).then(**refreshed, **private)


class Running:
    """A server started with ``block=False``; :meth:`close` stops it and frees the port."""

    def __init__(self, server: Any, demo: Any, thread: threading.Thread) -> None:
        self.server = server
        self.demo = demo
        self.thread = thread

    def close(self) -> None:
        """Stop Gradio's queue, then the server, and wait for it."""
        self.demo.close(verbose=False)
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(
    assistant: Assistant,
    host: str,
    port: int,
    allowed: Iterable[str] = (),
    block: bool = True,
    feedback: bool = False,
    sock: socket.socket | None = None,
) -> Running | None:
    """Serve the chat page and the JSON API on one port, behind the Host allow-list.

    The API (:mod:`assistant.api`) is a FastAPI app; the Gradio page is mounted on
    it at ``/``, and :class:`assistant.access.HostGuard` wraps both.

    Args:
        assistant: the live assistant.
        host: the address to bind (``--host``); also an allowed ``Host`` name.
        port: the port.
        allowed: further host names clients may use (``--allowed-host``), on
            top of loopback and ``ASSISTANT_ALLOWED_HOSTS``.
        block: False starts the server in a thread and returns it (tests close it with ``.close()``).
        feedback: show 👍/👎 and record the votes beside the index (``--feedback on``).
        sock: a listening socket to serve on instead of binding ``host:port`` (a worker of
            :mod:`assistant.workers`).

    Raises:
        AssistantError: ``ASSISTANT_ADMIN_PASSWORD`` is set but too short, or the port is taken.
    """
    import gradio as gr
    import uvicorn

    from assistant.api import build_api

    gate = AdminGate.from_env()
    hosts = allowed_hosts(host, allowed, os.environ.get(ALLOWED_HOSTS_ENV))
    if gate is None:
        logger.warning("corpus management is off (read-only): set %s to enable it", ADMIN_PASSWORD_ENV)
    if host in WILDCARD_HOSTS and hosts == LOCAL_HOSTS:
        logger.warning(
            "listening on all interfaces, but only loopback names are allowed: "
            "name the server's LAN address or host name with --allowed-host or %s",
            ALLOWED_HOSTS_ENV,
        )
    limit = upload_limit(assistant.settings.max_file_bytes)
    log = FeedbackLog(feedback_path(assistant.settings.index_dir)) if feedback else None
    if log is not None:
        logger.warning("readers' votes are recorded in %s", log.path)
    demo = build_app(assistant, gate, log)
    server_app = build_api(assistant, gate, assistant.settings.concurrent_answers)
    server_app.add_middleware(
        HostGuard,
        allowed=hosts,
        # Room for a paste a few times the article limit, so the paste handler can say what is wrong;
        # anything bigger is refused unread.
        max_body=8 * assistant.settings.max_file_bytes,
        max_upload=MAX_UPLOADS * limit + 2**20,
        **({"may_upload": gate.check} if gate else {}),
    )
    gr.mount_gradio_app(
        server_app,
        demo,
        path="/",
        server_name=host,
        server_port=port,
        show_error=False,  # an unexpected error's text may name server paths; users' errors are messages
        css=CSS + PANEL_CSS,
        max_file_size=limit,
        # Run history would keep every call's inputs, the admin password among them, in the browser.
        run_history=False,
    )
    server = uvicorn.Server(
        uvicorn.Config(server_app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    )
    taken = f"cannot serve on {host}:{port}: is the port taken? Choose another with --port"
    sockets = [sock] if sock is not None else None
    if block:
        try:
            server.run(sockets=sockets)
        except SystemExit as exc:  # uvicorn exits when it cannot bind (it logs the OS's reason)
            raise AssistantError(taken) from exc
        return None

    def run() -> None:
        with contextlib.suppress(SystemExit):  # as above: the thread ends, and the loop below says why
            server.run(sockets=sockets)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise AssistantError(taken)
        time.sleep(0.01)
    return Running(server, demo, thread)
