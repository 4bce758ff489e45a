"""Stable passage ids: an update touches only the passages of added, changed or removed articles."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import IndexMismatch
from assistant.indexing import update_index
from assistant.service import Assistant
from assistant.store import current_generation, load_index
from assistant.stores.faiss import FaissStore
from tests.conftest import FakeEmbedder, write_article

A = "　　火神山医院由中建三局建设。十天建成。\n　　党员突击队日夜奋战。"
B = "　　天津市组建医疗队增援武汉。74名党员进入首批医疗队。"
C = "　　雷神山医院项目指挥部成立临时党委。"


def ids_by_article(settings: Settings) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for p in load_index(settings.index_dir).passages:
        out.setdefault(p.article_id, []).append(p.id)
    return out


def test_update_sends_the_store_only_what_changed(
    settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in (("a.txt", A), ("b.txt", B), ("c.txt", C)):
        write_article(settings.corpus_dir, name, text)
    update_index(settings, fake_embedder)
    before = ids_by_article(settings)

    sent: dict[str, list[int]] = {"add": [], "delete": []}
    add, delete = FaissStore.add, FaissStore.delete

    def counting_add(self: FaissStore, ids: np.ndarray, vectors: np.ndarray, fields: list) -> None:
        sent["add"] += [int(i) for i in ids]
        add(self, ids, vectors, fields)

    def counting_delete(self: FaissStore, ids: np.ndarray) -> None:
        sent["delete"] += [int(i) for i in ids]
        delete(self, ids)

    monkeypatch.setattr(FaissStore, "add", counting_add)
    monkeypatch.setattr(FaissStore, "delete", counting_delete)
    write_article(settings.corpus_dir, "b.txt", B.replace("74名", "七十四名"))
    (settings.corpus_dir / "c.txt").unlink()
    write_article(settings.corpus_dir, "d.txt", "　　广东佛山怡景社区有十二名社区工作人员。")
    update_index(settings, fake_embedder)
    after = ids_by_article(settings)

    assert after["a.txt"] == before["a.txt"]  # kept: same ids, never sent
    assert sorted(sent["delete"]) == sorted(before["b.txt"] + before["c.txt"])
    assert sorted(sent["add"]) == sorted(after["b.txt"] + after["d.txt"])
    everything_before = {i for ids in before.values() for i in ids}
    assert min(sent["add"]) > max(everything_before)  # fresh ids, never a reused one
    assert "c.txt" not in after

    index = load_index(settings.index_dir)
    assert index.store.count() == len(index.passages)
    hit = index.store.search(fake_embedder.embed_queries(["七十四名党员"])[0], 1)
    assert index.passages.by_id(hit[0][0]).article_id == "b.txt"


def test_removed_ids_are_not_given_again(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    write_article(settings.corpus_dir, "z.txt", C)
    update_index(settings, fake_embedder)
    last = max(ids_by_article(settings)["z.txt"])
    (settings.corpus_dir / "z.txt").unlink()
    update_index(settings, fake_embedder)
    write_article(settings.corpus_dir, "b.txt", B)
    update_index(settings, fake_embedder)
    assert min(ids_by_article(settings)["b.txt"]) > last


def test_an_index_of_the_old_layout_is_rebuilt_by_an_update_without_embedding_again(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    update_index(settings, fake_embedder)
    path = current_generation(settings.index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    # As the previous version wrote it (a fresh build's vectors are in passage order, as format 3's were).
    path.write_text(json.dumps({**manifest, "format": 3}, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(IndexMismatch, match="format 3.*`assistant index update`.*reused"):
        load_index(settings.index_dir)
    upgrading = FakeEmbedder()
    report = update_index(settings, upgrading)  # an update rebuilds it in the new layout
    assert report.added == ["a.txt"] and load_index(settings.index_dir).manifest.format == 4
    assert upgrading.embedded == [], "the old index's vectors are reused"
    assert any("older version" in w for w in report.warnings)


def test_an_index_opened_with_another_store_says_how_to_fix_it(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    update_index(settings, fake_embedder)
    with pytest.raises(IndexMismatch, match="store 'faiss'.*ASSISTANT_STORE=faiss.*--full --store other"):
        Assistant(replace(settings, store="other"), embedder=fake_embedder)
