"""The long-lived Assistant: old generations released at the swap, other processes' updates followed."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.indexing import update_index
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article

TIANJIN = "天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n"


def deleted_mappings(folder: Path) -> list[str]:
    """Lines of /proc/self/maps for files under ``folder`` that have been deleted."""
    with open("/proc/self/maps", encoding="utf-8") as handle:
        return [line for line in handle if str(folder) in line and line.rstrip().endswith("(deleted)")]


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
        assert str(live / "vectors.npy") in handle.read()  # the check above looks where mappings are
