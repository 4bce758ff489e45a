from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.config import HnswSettings, Settings
from assistant.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from assistant.indexing import titled, update_index
from assistant.manifest import Counts
from assistant.service import Assistant
from assistant.store import PassageRecord, PassageTable, current_generation, load_index, stitch
from assistant.stores.faiss import build_faiss, faiss_kind
from tests.conftest import FakeEmbedder, write_article


@pytest.fixture
def built(settings: Settings, fake_embedder: FakeEmbedder) -> Settings:
    write_article(
        settings.corpus_dir, "a.txt", "　　火神山医院由中建三局建设。十天建成。\n　　党员突击队日夜奋战。"
    )
    write_article(settings.corpus_dir, "b.txt", "　　天津市组建医疗队增援武汉。74名党员进入首批医疗队。")
    update_index(settings, fake_embedder)
    return settings


def test_save_and_load_round_trip(built: Settings, fake_embedder: FakeEmbedder) -> None:
    index = load_index(built.index_dir)
    counts = Counts(articles=2, passages=len(index.passages), sentences=len(index.sentence_vectors))
    assert index.manifest.counts == counts and counts.sentences == 5
    assert index.store.count() == len(index.passages)
    assert set(index.articles) == {"a.txt", "b.txt"}
    for p in index.passages:
        text = (built.corpus_dir / p.article_id).read_text(encoding="utf-8")
        assert text[p.start : p.end] == p.text
        np.testing.assert_allclose(
            index.store.vectors_of(np.asarray([p.id]))[0],
            fake_embedder.embed_passages([p.text])[0],
            rtol=1e-6,
        )
        for (start, end, _), row in zip(p.sentences, p.sentence_rows, strict=True):
            expected = fake_embedder.embed_passages(
                [titled(index.articles[p.article_id].title, text[start:end])]
            )
            np.testing.assert_allclose(index.sentence_vectors[row], expected[0], atol=2e-3)
    top = index.store.search(fake_embedder.embed_queries(["天津医疗队"])[0], 1)
    assert index.passages.by_id(top[0][0]).article_id == "b.txt"


def test_rebuild_reuses_vectors_of_unchanged_passages(built: Settings) -> None:
    again = FakeEmbedder()
    write_article(built.corpus_dir, "c.txt", "　　雷神山医院项目指挥部成立临时党委。")
    report = update_index(built, again)
    sentence = "雷神山医院项目指挥部成立临时党委。"
    assert sorted(again.embedded) == sorted([sentence, titled("c", sentence)])
    assert report.embedded == 2 and report.reused == report.passages - 1 + report.sentences - 1
    assert len(list(built.index_dir.glob("g-*"))) == 1


def test_missing_index_says_how_to_build(settings: Settings) -> None:
    with pytest.raises(IndexNotFound, match="assistant index build"):
        load_index(settings.index_dir)


@pytest.mark.parametrize(
    "victim",
    [
        "vectors.npy",
        "vectors.faiss",
        "store_rows.npz",
        "store_articles.json",
        "passages.npz",
        "passages.txt",
        "passage_articles.json",
        "bm25.npz",
        "sentences.npy",
        "sentence_hashes.json",
    ],
)
def test_truncated_file_is_reported_as_corrupt(built: Settings, victim: str) -> None:
    path = current_generation(built.index_dir) / victim
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(IndexCorrupt, match="index build --full"):
        load_index(built.index_dir)


def test_garbage_manifest_is_reported_as_corrupt(built: Settings) -> None:
    (current_generation(built.index_dir) / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="index build --full"):
        load_index(built.index_dir)


def test_index_of_another_model_is_refused_with_the_fix(built: Settings, fake_embedder: FakeEmbedder) -> None:
    with pytest.raises(IndexMismatch, match="fake-bigram-hash.*index build --full"):
        Assistant(replace(built, model="other/model"), embedder=fake_embedder)


def test_passage_table_round_trips_every_field(tmp_path: Path) -> None:
    records = [
        PassageRecord(
            0, "甲 篇.txt", 0, 1, 4, 12, "第一句。第二句；", "a" * 40, ((4, 8, 1), (8, 12, 1)), (0, 1)
        ),
        PassageRecord(1, "乙.md", 0, 3, 0, 5, "短句子。\n", "b" * 40, ((0, 4, 3),), (2,)),
        PassageRecord(2, "甲 篇.txt", 1, 2, 14, 20, "第三句😀。", "c" * 40, ((14, 20, 2),), (3,)),
    ]
    table = PassageTable.from_records(records)
    table.save(tmp_path)
    again = PassageTable.load(tmp_path)
    assert list(again) == records and again[-1] == records[-1] and again[1:] == records[1:]
    assert list(again.rows_of({"甲 篇.txt"})) == [0, 2] and again.text_hashes()[1] == "b" * 40
    assert list(again.ids_of({"甲 篇.txt"})) == [0, 2] and again.by_id(1) == records[1]
    with pytest.raises(KeyError):
        again.by_id(3)
    with pytest.raises(IndexError):
        again[3]


def test_article_and_paragraph_text_read_from_the_columns_are_those_of_the_records(
    built: Settings, fake_embedder: FakeEmbedder
) -> None:
    # a.txt changes after b.txt was indexed, so its rows now come after b.txt's.
    body = (
        "　　火神山医院由中建三局建设。十天建成。\n\n　　党员突击队日夜奋战！病床一千张。\n　　医院交付使用。"
    )
    write_article(built.corpus_dir, "a.txt", body)
    write_article(built.corpus_dir, "c.txt", "　　雷神山医院开始收治病人。")
    update_index(built, fake_embedder)
    index = load_index(built.index_dir)
    rows = index.passages.rows_of({"a.txt"})
    assert list(index.passages.rows_of({"a.txt", "c.txt"})) == sorted(
        [*rows, *index.passages.rows_of({"c.txt"})]
    )
    assert len(index.passages.rows_of({"gone.txt"})) == 0
    for article_id in ("a.txt", "b.txt", "c.txt"):
        text = (built.corpus_dir / article_id).read_bytes().decode("utf-8")
        start, stitched = index.article_text(article_id)
        records = [index.passages[int(r)] for r in index.passages.rows_of({article_id})]
        assert (start, stitched) == stitch(records)
        assert all(stitched[p.start - start : p.end - start] == text[p.start : p.end] for p in records)
        for paragraph in {para for p in records for _, _, para in p.sentences}:
            first, para_text = index.paragraph_text(article_id, paragraph)
            sentences = [(a, b) for p in records for a, b, para in p.sentences if para == paragraph]
            assert first == min(a for a, _ in sentences)
            assert para_text == text[first : max(b for _, b in sentences)]
    assert index.paragraph_text("a.txt", 99) == (0, "")


def test_faiss_index_is_exact_when_small_and_hnsw_when_large() -> None:
    import faiss

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    exact = build_faiss(vectors, hnsw=HnswSettings(from_passages=1000))
    graph = build_faiss(vectors, hnsw=HnswSettings(from_passages=100))
    assert isinstance(faiss.downcast_index(exact.index), faiss.IndexFlatIP)
    assert isinstance(faiss.downcast_index(graph.index), faiss.IndexHNSWFlat)
    assert faiss_kind(400, HnswSettings(from_passages=1000)) == "IndexIDMap(IndexFlatIP)"
    assert faiss_kind(400, HnswSettings(from_passages=100)).startswith("IndexIDMap(IndexHNSWFlat(M=32")
    _, truth = exact.search(vectors[:20], 5)
    _, found = graph.search(vectors[:20], 5)
    assert (truth[:, 0] == np.arange(20)).all() and (found[:, 0] == np.arange(20)).all()
