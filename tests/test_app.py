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
    assert "沿用上一问的关键词" in reply and "重温入党誓词" in reply


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
