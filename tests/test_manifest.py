"""The typed manifest: what a build writes reads back to the same bytes, and a bad one is named."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from assistant.config import Settings
from assistant.errors import IndexCorrupt
from assistant.indexing import update_index
from assistant.manifest import ArticleRecord, Counts, Manifest, ManifestProblem
from assistant.store import current_generation, read_manifest
from tests.conftest import FakeEmbedder, write_article


@pytest.fixture
def raw(settings: Settings, fake_embedder: FakeEmbedder) -> dict[str, Any]:
    """The manifest.json of a real two-article build, one of them with a copy."""
    write_article(settings.corpus_dir, "a.txt", "　　火神山医院由中建三局建设。十天建成。")
    write_article(settings.corpus_dir, "copy.txt", "　　火神山医院由中建三局建设。十天建成。")
    write_article(settings.corpus_dir, "b.txt", "　　天津市组建医疗队增援武汉。74名党员进入首批医疗队。")
    update_index(settings, fake_embedder)
    return json.loads((current_generation(settings.index_dir) / "manifest.json").read_text(encoding="utf-8"))


def test_a_written_manifest_reads_back_to_the_same_bytes(settings: Settings, raw: dict[str, Any]) -> None:
    manifest = Manifest.from_json(raw)
    on_disk = (current_generation(settings.index_dir) / "manifest.json").read_text(encoding="utf-8")
    assert json.dumps(manifest.to_json(), ensure_ascii=False, indent=1) == on_disk
    assert manifest.counts == Counts(articles=2, passages=manifest.counts.passages, sentences=4)
    assert manifest.articles["a.txt"].also_in == ("copy.txt",) and manifest.articles["b.txt"].passages == 1
    assert read_manifest(settings.index_dir) == manifest


def test_unknown_keys_are_kept_as_they_are(raw: dict[str, Any]) -> None:
    older = {k: v for k, v in raw.items() if k not in ("store", "sha256")}
    older = {**older, "format": 3, "faiss": {"kind": "flat"}}
    manifest = Manifest.from_json(older)
    assert manifest.store is None and manifest.extra == {"faiss": {"kind": "flat"}}
    assert manifest.to_json() == older


def test_a_changed_record_is_a_new_one(raw: dict[str, Any]) -> None:
    record = Manifest.from_json(raw).articles["b.txt"]
    assert replace(record, also_in=("c.txt",)).to_json()["also_in"] == ["c.txt"] and record.also_in == ()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda m: m.pop("counts"), "no 'counts'"),
        (lambda m: m.update(counts={"passages": "12"}), "no passage count"),
        (lambda m: m.update(model=4), "no 'model'"),
        (lambda m: m.update(store=None), "no 'store'"),
        (lambda m: m["files"].pop("passages.txt"), "the file list is incomplete"),
        (lambda m: m.pop("dimension"), "no 'dimension'"),
        (lambda m: m.update(skipped="x"), "a bad 'skipped'"),
        (lambda m: m.update(skipped=[1]), "a bad 'skipped'"),
        (lambda m: m["articles"].update({"b.txt": []}), "article 'b.txt': not a JSON object"),
        (lambda m: m["articles"]["b.txt"].pop("title"), "article 'b.txt': no 'title'"),
        (lambda m: m["articles"]["b.txt"].update(date=2020), "article 'b.txt': a bad 'date'"),
        (lambda m: m["articles"]["b.txt"].update(also_in=[None]), "article 'b.txt': a bad 'also_in'"),
    ],
)
def test_a_bad_manifest_is_named(raw: dict[str, Any], edit: Any, problem: str) -> None:
    edit(raw)
    with pytest.raises(ManifestProblem) as caught:
        Manifest.from_json(raw)
    assert str(caught.value) == problem


def test_a_bad_manifest_on_disk_is_a_message(settings: Settings, raw: dict[str, Any]) -> None:
    raw["articles"]["a.txt"]["pages"] = "1,2"
    (current_generation(settings.index_dir) / "manifest.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(
        IndexCorrupt, match=r"is damaged \(article 'a.txt': a bad 'pages'\); run `assistant index"
    ):
        read_manifest(settings.index_dir)


def test_an_article_record_needs_only_a_title_and_a_hash() -> None:
    record = ArticleRecord.from_json({"title": "标题", "content_hash": "0" * 64})
    assert (record.format, record.pages, record.date) == ("text", (), None)
