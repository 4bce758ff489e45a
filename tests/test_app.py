from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import replace
from http.client import HTTPConnection
from pathlib import Path

import pytest

from assistant.app import build_app, make_respond, serve, user_turns
from assistant.config import Settings
from assistant.corpus import remove_article
from assistant.examples import LiveExamples
from assistant.indexing import update_index
from assistant.manage import ADMIN_REQUIRED, CorpusManager
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article
from tests.gradio_http import call, free_port, http, upload

ARTICLE = (
    "---\ntitle: 建设雷神山\nquestions: 雷神山医院项目指挥部成立了什么组织？\n---\n"
    "　　1月28日下午，中建三局雷神山医院项目指挥部火速成立临时党委，并为党员突击队授旗。"
    "仪式上，120余名党员面对鲜红的党旗，高举右拳，重温入党誓词。\n"
)


def make_assistant(settings: Settings) -> Assistant:
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    embedder = FakeEmbedder()
    update_index(settings, embedder)
    return Assistant(settings, embedder=embedder)


def test_respond_answers_first_and_opens_the_article_at_the_quote_in_the_panel(settings: Settings) -> None:
    respond = make_respond(make_assistant(settings))
    reply, panel = respond("雷神山医院项目指挥部成立了什么组织？", [])
    assert reply.startswith("**临时党委**\n\n> ")  # the answer comes first: its span, then its quote
    assert "[1] 《建设雷神山》，第" in reply and "<blockquote>" not in reply  # citations, no passages
    assert "来源：1 篇文章" in panel and "《建设雷神山》" in panel
    marked = panel.split("<mark>", 1)[1].split("</mark>", 1)[0]
    assert (
        '<span class="answer">临时党委</span>' in marked and "<sup>[1]</sup>" in panel and "复制引用" in panel
    )


def test_respond_passes_history_for_follow_ups(settings: Settings) -> None:
    respond = make_respond(make_assistant(settings))
    history = [
        {"role": "user", "content": "雷神山医院项目指挥部成立了什么组织？"},
        {"role": "assistant", "content": "……"},
    ]
    reply, _ = respond("他们在仪式上做了什么？", history)
    assert "沿用上文的关键词" in reply and "重温入党誓词" in reply


def test_respond_turns_bad_input_into_a_message(settings: Settings) -> None:
    respond = make_respond(make_assistant(settings))
    assert "empty" in respond("   ", [])[0]
    reply, panel = respond("<script>alert(1)</script>", [])
    assert "<script>" not in panel
    assert "<script>" not in reply and "&lt;script&gt;" in reply


def test_user_turns_reads_gradio_message_formats() -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "第一问"}]},
        {"role": "assistant", "content": "答"},
        {"role": "user", "content": "第二问"},
    ]
    assert user_turns(history) == ["第一问", "第二问"]


def test_app_builds_with_examples_from_the_corpus(settings: Settings) -> None:
    assistant = make_assistant(settings)
    # The listed question, then one made from a sentence's fact (120余名 → 多少名), both answered.
    assert LiveExamples(assistant).questions() == [
        "雷神山医院项目指挥部成立了什么组织？",
        "多少名党员面对鲜红的党旗？",
    ]
    assert build_app(assistant) is not None


def test_respond_applies_the_filter_panel(settings: Settings) -> None:
    write_article(
        settings.corpus_dir,
        "b.txt",
        "---\ntitle: 另一篇\nsource: 新华社\n---\n　　1月29日，中建三局雷神山医院项目指挥部成立临时党委，党员们重温入党誓词。\n",
    )
    respond = make_respond(make_assistant(settings))
    only_b, _ = respond("雷神山医院项目指挥部成立了什么组织？", [], "b.txt", None, "", "")
    assert "《另一篇》" in only_b and "《建设雷神山》" not in only_b
    by_source, _ = respond("雷神山医院项目指挥部成立了什么组织？", [], None, "新华社", "", "")
    assert "《另一篇》" in by_source and "新华社" in by_source
    nothing, _ = respond("雷神山医院项目指挥部成立了什么组织？", [], None, None, "2030", "")
    assert "no article matches the filter" in nothing


def test_chat_shows_latex_verbatim_and_marks_invisible_characters(settings: Settings) -> None:
    from assistant.answer import md_escape

    chatbots = [
        b for b in build_app(make_assistant(settings)).blocks.values() if type(b).__name__ == "Chatbot"
    ]
    assert [b.latex_delimiters for b in chatbots] == [[]], "no `$$…$$` is ever rendered as math"
    assert md_escape("$$x$$") == "$$x$$"
    assert md_escape("付款\u202e001\u202c") == (
        '付款<span class="ctl" title="U+202E">⟨U+202E⟩</span>001<span class="ctl" title="U+202C">⟨U+202C⟩</span>'
    )


def test_respond_refuses_impossible_filter_dates(settings: Settings) -> None:
    respond = make_respond(make_assistant(settings))
    for since, until in (("2020-02-30", ""), ("", "2020-13"), ("2020-3", ""), ("2020-03", "2020-02")):
        reply, _ = respond("雷神山医院项目指挥部成立了什么组织？", [], None, None, since, until)
        assert "date" in reply and "《建设雷神山》" not in reply, reply


def test_without_an_admin_password_no_handler_can_change_the_corpus(settings: Settings) -> None:
    demo = build_app(make_assistant(settings), gate=None)
    kinds = {type(b).__name__ for b in demo.blocks.values()}
    assert "File" not in kinds
    elem_ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert "read-only-note" in elem_ids and not elem_ids & {"save-upload", "save-paste", "delete-article"}
    owners = {getattr(fn.fn, "__self__", None) for fn in demo.fns.values()}
    assert not any(isinstance(o, CorpusManager) for o in owners)


# Raw HTTP against a real server (the fake model; Gradio and uvicorn as in production).


@contextlib.contextmanager
def running(assistant: Assistant, monkeypatch: pytest.MonkeyPatch, password: str | None) -> Iterator[int]:
    """``serve`` on a free port, not blocking; yields the port."""
    if password:
        monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD", password)
    monkeypatch.setenv("ASSISTANT_ALLOWED_HOSTS", "news.lan")
    port = free_port()
    demo = serve(assistant, "127.0.0.1", port, block=False)
    try:
        yield port
    finally:
        demo.close()


def corpus_state(settings: Settings) -> dict[str, bytes]:
    return {
        p.relative_to(settings.corpus_dir).as_posix(): p.read_bytes()
        for p in settings.corpus_dir.rglob("*")
        if p.is_file()
    }


def test_server_refuses_foreign_hosts_and_origins(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(make_assistant(settings), monkeypatch, password=None) as port:
        assert http(port, "GET", "/")[0] == 200
        assert http(port, "GET", "/", headers={"Host": f"localhost:{port}"})[0] == 200
        assert (
            http(port, "GET", "/", headers={"Host": f"news.lan:{port}"})[0] == 200
        )  # ASSISTANT_ALLOWED_HOSTS
        rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        assert http(port, "GET", "/", headers=rebound)[0] == 400
        assert http(port, "GET", "/config", headers=rebound)[0] == 400
        cross_site = {"Origin": "http://evil.example"}
        assert http(port, "POST", "/gradio_api/queue/join", b"{}", cross_site)[0] == 403


def test_server_without_admin_password_is_read_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(make_assistant(settings), monkeypatch, password=None) as port:
        config = json.loads(http(port, "GET", "/config")[1])
        elem_ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
        assert "read-only-note" in elem_ids and not elem_ids & {"save-upload", "save-paste", "delete-article"}
        assert upload(port, "a.txt", b"text")[0] == 403


def test_unauthenticated_management_calls_change_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    assistant = make_assistant(replace(settings, max_file_bytes=4096))
    remove_article(settings.corpus_dir, "a.txt")
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    before = corpus_state(settings)
    with running(assistant, monkeypatch, password="correct horse battery") as port:
        assert upload(port, "evil.txt", "　　伪造的文章。".encode())[0] == 403
        assert upload(port, "evil.txt", "　　伪造的文章。".encode(), token="guessed")[0] == 403
        # A file the administrator's page uploaded, handed to the save handler by someone else.
        token = call(port, "admin-login", ["correct horse battery"])[1]
        status, paths = upload(port, "evil.txt", "　　伪造的文章。".encode(), token=token)
        assert status == 200
        [held] = json.loads(paths)
        file = {"path": held, "orig_name": "evil.txt", "meta": {"_type": "gradio.FileData"}}
        for wrong in ("", "guessed"):
            assert call(port, "save-upload", [wrong, [file]])[0] == ADMIN_REQUIRED
            assert call(port, "save-paste", [wrong, "标题", "　　伪造的文章。"])[0] == ADMIN_REQUIRED
            assert call(port, "update-index", [wrong])[0] == ADMIN_REQUIRED
            assert call(port, "delete-article", [wrong, "a.txt", True])[0] == ADMIN_REQUIRED
            # Before a login the trash list is empty, so Gradio itself refuses any name to restore.
            assert "not in the list of choices" in call(port, "restore-article", [wrong, "a.txt"])
        assert corpus_state(settings) == before
        assert not Path(held).exists(), "the refused upload is gone from Gradio's folder"
        config = json.loads(http(port, "GET", "/config")[1])
        [trash] = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "restore-choice"]
        assert trash["props"]["choices"] == [], "deleted articles' names are not shown before a login"
        # A spoofed Host with a matching Origin never reaches the handler, even with a token.
        rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        assert call(port, "save-paste", [token, "标题", "　　伪造的文章。"], rebound) == 400
        assert corpus_state(settings) == before
        # Oversized requests are refused before the body is read (a PDF may be 32 times a text's limit).
        assert upload(port, "big.pdf", b"x" * 33 * 4096, token=token)[0] == 413
        # (Gradio's File.preprocess leaves one empty temp file per file it passes on; nothing with content stays.)
        left = [p for p in (tmp_path / "gradio").rglob("*") if p.is_file() and p.stat().st_size]
        assert left == [], "no upload is left behind"
        assert "over the 0 MB limit" in call(port, "save-paste", [token, "大", "字" * 2000])[0]
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("POST", "/gradio_api/queue/join", skip_host=True)
        conn.putheader("Host", f"127.0.0.1:{port}")
        conn.putheader("Content-Length", str(10**9))
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
        assert corpus_state(settings) == before
        # The administrator's token does work over the same route.
        assert call(port, "save-paste", [token, "标题", "　　真的文章。"])[0].startswith("已加入：标题.txt")


def test_nothing_is_chosen_for_deletion_when_the_corpus_tab_opens(settings: Settings) -> None:
    from assistant.access import AdminGate

    demo = build_app(make_assistant(settings), gate=AdminGate("correct horse battery"))
    by_id = {getattr(b, "elem_id", None): b for b in demo.blocks.values()}
    assert by_id["delete-choice"].choices == [("a.txt", "a.txt")]
    assert by_id["delete-choice"].value is None and by_id["delete-confirm"].value is False


def _handler(demo: object, name: str) -> object:
    """The event handler of ``demo`` whose function is called ``name`` (one, bound to any number of events)."""
    [fn] = {f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == name}  # type: ignore[attr-defined]
    return fn


def test_a_page_opened_after_an_update_lists_the_new_articles(settings: Settings) -> None:
    from assistant.access import AdminGate

    assistant = make_assistant(settings)
    demo = build_app(assistant, gate=AdminGate("correct horse battery"))
    # Added after the app was built: by the Corpus tab of another page, or by a CLI update.
    write_article(
        settings.corpus_dir,
        "b.txt",
        "---\ntitle: 火神山\nsource: 长江日报\n---\n　　火神山医院由中建三局建设。\n",
    )
    assistant.update()
    article_menu, source_menu = _handler(demo, "fresh_menus")()  # run when a page loads
    assert ("《火神山》 b.txt", "b.txt") in article_menu["choices"]
    assert "长江日报" in source_menu["choices"]
    write_article(
        settings.corpus_dir, "c.txt", "　　保存了但尚未索引的文章。\n"
    )  # deletable before an update
    outputs = _handler(demo, "do_login")("correct horse battery")
    [deletable] = [o for o in outputs if isinstance(o, dict) and "b.txt" in str(o.get("choices"))]
    assert deletable["choices"] == ["a.txt", "b.txt", "c.txt"] and deletable["value"] is None


def test_log_out_is_offered_only_to_a_logged_in_administrator(settings: Settings) -> None:
    from assistant.access import AdminGate

    demo = build_app(make_assistant(settings), gate=AdminGate("correct horse battery"))
    logout = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "admin-logout")
    assert logout.visible is False  # a visitor was shown 退出管理 without ever logging in
    login = _handler(demo, "do_login")
    assert {"visible": False, "__type__": "update"} in login("wrong password")
    shown = login("correct horse battery")
    assert [o for o in shown if isinstance(o, dict) and o.get("visible") is True] == [
        {"visible": True, "__type__": "update"}
    ] * 2  # the panel and 退出管理
    assert {"visible": False, "__type__": "update"} in _handler(demo, "do_logout")(shown[1])


def test_a_saved_paste_leaves_the_boxes_and_a_refused_one_keeps_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(make_assistant(settings), monkeypatch, password="correct horse battery") as port:
        token = call(port, "admin-login", ["correct horse battery"])[1]
        message, title, body = call(
            port, "save-paste", [token, "赈酒", "　　龙潭河镇党委劝导村民取消了赈酒。"]
        )
        assert message.startswith("已加入：赈酒.txt") and (title, body) == (
            "",
            "",
        )  # a second click saves nothing
        message, title, body = call(port, "save-paste", [token, "只有标题", ""])
        assert message.startswith("未加入") and title == body == {
            "__type__": "update"
        }  # what was typed stays


def test_examples_follow_a_delete_from_the_corpus_tab(settings: Settings) -> None:
    from assistant.access import AdminGate

    assistant = make_assistant(settings)
    write_article(
        settings.corpus_dir,
        "b.txt",
        "---\ntitle: 天津医疗队\nquestions: 天津首批援助医疗队中有多少名党员？\n---\n"
        "　　天津首批援助湖北医疗队共138人，其中党员68名。\n",
    )
    assistant.update()
    demo = build_app(assistant, gate=AdminGate("correct horse battery"))
    asked = "天津首批援助医疗队中有多少名党员？"
    examples, _ = _handler(demo, "fresh_examples")()  # run when a page loads
    assert {"text": asked} in examples["examples"]
    token = _handler(demo, "do_login")("correct horse battery")[1]
    assert "删除 1 篇" in _handler(demo, "do_delete")(token, "b.txt", True)
    # The page that deleted it: its chat's examples and the question box's hint follow at once.
    *_, examples, hint = _handler(demo, "refresh_all")(token, None, None)
    texts = [e["text"] for e in examples["examples"]]
    assert texts and asked not in texts and hint["placeholder"] == f"输入问题，例如：{texts[0]}"
    # A page opened afterwards shows the same list.
    assert _handler(demo, "fresh_examples")()[0]["examples"] == examples["examples"]


def test_on_an_empty_corpus_examples_found_after_an_update_are_shown_and_can_be_clicked(
    settings: Settings,
) -> None:
    from assistant.access import AdminGate

    embedder = FakeEmbedder()
    update_index(settings, embedder)  # a new user's first start: no articles yet
    demo = build_app(Assistant(settings, embedder=embedder), gate=AdminGate("correct horse battery"))
    [chatbot] = [b for b in demo.blocks.values() if type(b).__name__ == "Chatbot"]
    assert not chatbot.examples  # nothing made up to fill the empty chat
    clicked = [f for f in demo.fns.values() if (chatbot._id, "example_select") in f.targets]
    assert clicked, "clicking an example shown later must ask it"
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    token = _handler(demo, "do_login")("correct horse battery")[1]
    assert "索引已更新" in _handler(demo, "do_update")(token)
    *_, examples, hint = _handler(demo, "refresh_all")(token, None, None)  # the page that updated it
    asked = "雷神山医院项目指挥部成立了什么组织？"
    assert {"text": asked} in examples["examples"] and hint["placeholder"] == f"输入问题，例如：{asked}"
    assert _handler(demo, "fresh_examples")()[0] == examples  # and pages opened later
