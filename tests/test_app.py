from __future__ import annotations

from assistant.app import build_app, example_questions, make_respond, user_turns
from assistant.config import Settings
from assistant.indexing import update_index
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article

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


def test_respond_answers_with_marked_quote_and_sources(settings: Settings) -> None:
    respond = make_respond(make_assistant(settings))
    reply = respond("雷神山医院项目指挥部成立了什么组织？", [])
    assert "<mark>" in reply and "临时党委" in reply and "《建设雷神山》" in reply


def test_respond_passes_history_for_follow_ups(settings: Settings) -> None:
    respond = make_respond(make_assistant(settings))
    history = [
        {"role": "user", "content": "雷神山医院项目指挥部成立了什么组织？"},
        {"role": "assistant", "content": "……"},
    ]
    reply = respond("他们在仪式上做了什么？", history)
    assert "沿用上文的关键词" in reply and "重温入党誓词" in reply


def test_respond_turns_bad_input_into_a_message(settings: Settings) -> None:
    respond = make_respond(make_assistant(settings))
    assert "empty" in respond("   ", [])
    reply = respond("<script>alert(1)</script>", [])
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
    assert example_questions(assistant) == ["雷神山医院项目指挥部成立了什么组织？"]
    assert build_app(assistant) is not None


def test_corpus_tab_uploads_pastes_updates_and_deletes(settings: Settings, tmp_path) -> None:
    from assistant.app import article_rows, delete_article, header, run_update, save_pasted, save_uploads

    assistant = make_assistant(settings)
    good = tmp_path / "天津 医疗队.txt"
    good.write_bytes("　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。".encode("gbk"))
    image = tmp_path / "photo.txt"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    saved = save_uploads(assistant, [str(good), str(image)])
    assert "已加入：天津 医疗队.txt" in saved and "未加入：photo.txt: this is a PNG image" in saved
    assert "已加入" in save_pasted(assistant, "赈酒", "　　龙潭河镇党委劝导村民取消了赈酒和嫁娶喜宴。")
    assert "未加入" in save_pasted(assistant, "", "")

    progress_calls: list[float] = []
    message = run_update(assistant, lambda fraction, desc="": progress_calls.append(fraction))
    assert "新增 2 篇" in message and progress_calls and progress_calls[-1] == 1.0
    assert "3 篇文章" in header(assistant)
    assert {row[0] for row in article_rows(assistant)} == {"a.txt", "天津 医疗队.txt", "赈酒.txt"}
    reply = assistant.ask("天津首批援助医疗队中有多少名党员？")
    assert reply.answered and reply.quotes[0].article_id == "天津 医疗队.txt"

    assert "删除 1 篇" in delete_article(assistant, "天津 医疗队.txt")
    assert "天津 医疗队.txt" not in {row[0] for row in article_rows(assistant)}
    assert not any(
        q.article_id == "天津 医疗队.txt" for q in assistant.ask("天津医疗队有多少名党员？").quotes
    )


def test_respond_applies_the_filter_panel(settings: Settings) -> None:
    write_article(
        settings.corpus_dir,
        "b.txt",
        "---\ntitle: 另一篇\nsource: 新华社\n---\n　　1月29日，中建三局雷神山医院项目指挥部成立临时党委，党员们重温入党誓词。\n",
    )
    respond = make_respond(make_assistant(settings))
    only_b = respond("雷神山医院项目指挥部成立了什么组织？", [], "b.txt", None, "", "")
    assert "《另一篇》" in only_b and "《建设雷神山》" not in only_b
    by_source = respond("雷神山医院项目指挥部成立了什么组织？", [], None, "新华社", "", "")
    assert "《另一篇》" in by_source and "新华社" in by_source
    nothing = respond("雷神山医院项目指挥部成立了什么组织？", [], None, None, "2030", "")
    assert "no article matches the filter" in nothing
