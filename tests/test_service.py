"""The long-lived Assistant: old generations released at the swap, other processes' updates followed."""

from __future__ import annotations

import gc
import logging
import weakref
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.indexing import update_index
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article

TIANJIN = "天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n"
HUOSHENSHAN = "火神山医院由中建三局牵头建设。工地上有七千多名建设者日夜施工。\n"


def deleted_mappings(folder: Path) -> list[str]:
    """Lines of /proc/self/maps for files under ``folder`` that have been deleted."""
    with open("/proc/self/maps", encoding="utf-8") as handle:
        return [line for line in handle if str(folder) in line and line.rstrip().endswith("(deleted)")]


def quoted_articles(assistant: Assistant, question: str) -> set[str]:
    answer = assistant.ask(question)
    return {q.article_id for q in answer.quotes}


@pytest.fixture
def built(settings: Settings, fake_embedder: FakeEmbedder) -> Settings:
    write_article(settings.corpus_dir, "天津.txt", TIANJIN)
    update_index(settings, fake_embedder)
    return settings


def test_updates_release_the_old_generation_at_the_swap(built: Settings, fake_embedder: FakeEmbedder) -> None:
    assistant = Assistant(built, embedder=fake_embedder)
    assert assistant.ask("天津首批医疗队有多少名党员？").answered
    old_indexes = []
    gc.disable()  # a reference cycle would only be freed by the collector: rule it out
    try:
        for i in range(6):
            old_indexes.append(weakref.ref(assistant.answerer.retriever.index))
            write_article(
                built.corpus_dir, f"追加{i}.txt", f"第{i}批志愿者到达武汉。他们带来了{i + 3}吨物资。\n"
            )
            assistant.update()
            assistant.ask("天津首批医疗队有多少名党员？")
        assert [ref() for ref in old_indexes] == [None] * len(old_indexes)
        assert deleted_mappings(built.index_dir) == []
    finally:
        gc.enable()
    live = assistant.answerer.retriever.index.folder
    assert live is not None
    with open("/proc/self/maps", encoding="utf-8") as handle:
        assert (
            str(live) in handle.read()
        )  # the live generation is mapped: the check above looks in the right place


def test_ask_picks_up_an_update_made_by_another_process(built: Settings) -> None:
    assistant = Assistant(built, embedder=FakeEmbedder(), recheck_seconds=0)
    assert quoted_articles(assistant, "火神山医院由哪家企业牵头建设？") <= {"天津.txt"}
    write_article(built.corpus_dir, "火神山.txt", HUOSHENSHAN)
    update_index(built, FakeEmbedder())  # what `assistant index update` does beside a running serve
    assert "火神山.txt" in quoted_articles(assistant, "火神山医院由哪家企业牵头建设？")
    assert "火神山.txt" in assistant.answerer.retriever.index.articles


def test_the_page_shows_an_update_made_by_another_process_before_any_question(built: Settings) -> None:
    from assistant.app import article_rows, header

    assistant = Assistant(built, embedder=FakeEmbedder(), recheck_seconds=0)
    assert "1 篇文章" in header(assistant)
    write_article(built.corpus_dir, "火神山.txt", HUOSHENSHAN)
    update_index(built, FakeEmbedder())
    assert "2 篇文章" in header(assistant)  # a page load, no question asked
    assert [row[0] for row in article_rows(assistant)] == ["天津.txt", "火神山.txt"]


def test_the_check_for_a_new_generation_is_throttled(built: Settings) -> None:
    assistant = Assistant(built, embedder=FakeEmbedder(), recheck_seconds=3600)
    write_article(built.corpus_dir, "火神山.txt", HUOSHENSHAN)
    update_index(built, FakeEmbedder())
    assert "火神山.txt" not in quoted_articles(assistant, "火神山医院由哪家企业牵头建设？")
    assistant.recheck_seconds = 0
    assert "火神山.txt" in quoted_articles(assistant, "火神山医院由哪家企业牵头建设？")


def test_a_new_generation_that_cannot_be_loaded_keeps_the_old_one(
    built: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assistant = Assistant(built, embedder=FakeEmbedder(), recheck_seconds=0)
    old = assistant.answerer

    class OtherModel(FakeEmbedder):
        model_id = "other-model"

    write_article(built.corpus_dir, "火神山.txt", HUOSHENSHAN)
    update_index(replace(built, model=OtherModel.model_id), OtherModel())
    with caplog.at_level(logging.WARNING, logger="assistant.service"):
        answer = assistant.ask("天津首批医疗队有多少名党员？")
    assert answer.answered and answer.quotes[0].article_id == "天津.txt"
    assert assistant.answerer is old
    assert "cannot be loaded" in caplog.text and "other-model" in caplog.text
    assert len(caplog.records) == 1
    assistant.ask("天津首批医疗队有多少名党员？")  # the same broken generation is not retried
    assert len(caplog.records) == 1

    (built.index_dir / "CURRENT").write_text("g-missing", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="assistant.service"):
        assert assistant.ask("天津首批医疗队有多少名党员？").answered
    assert "g-missing" in caplog.text and assistant.answerer is old
