"""Damaged index and cache files: a damaged cache batch is skipped and re-embedded; a damaged
index file is a clear IndexCorrupt naming the fix, and an update rebuilds past it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.cache import EmbeddingCache
from assistant.config import Settings
from assistant.errors import IndexCorrupt
from assistant.indexing import text_hash, update_index
from assistant.store import current_generation, load_index
from tests.conftest import FakeEmbedder, write_article

A = "　　火神山医院由中建三局负责建设，十天建成。\n　　一千余名建设者日夜奋战，党员突击队冲锋在前。\n"
FIX = "assistant index build --full"


def flip_middle(path: Path) -> None:
    """Same-size damage: one byte in the middle of the file inverted."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def cached(settings: Settings) -> tuple[Settings, list[str]]:
    """A corpus whose every text sits in one cache batch, as a killed update leaves it, and no index."""
    write_article(settings.corpus_dir, "a.txt", A)
    first = FakeEmbedder()
    update_index(settings, first)
    for entry in settings.index_dir.iterdir():
        if entry.name != ".lock":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    cache = EmbeddingCache(settings.index_dir, FakeEmbedder.model_id)
    cache.add([text_hash(t) for t in first.embedded], FakeEmbedder().embed_passages(first.embedded))
    return settings, first.embedded


def batch_file(settings: Settings) -> Path:
    (path,) = EmbeddingCache.folder_of(settings.index_dir, FakeEmbedder.model_id).glob("batch-*.npz")
    return path


def test_an_intact_batch_is_reused(cached: tuple[Settings, list[str]]) -> None:
    settings, _ = cached
    embedder = FakeEmbedder()
    report = update_index(settings, embedder)
    assert embedder.embedded == [] and report.warnings == []


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _wrong_shape(path: Path) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, hashes=np.asarray(["x", "y"]), vectors=np.zeros(3, dtype=np.float32))


@pytest.mark.parametrize(
    "damage",
    [
        _truncate,
        flip_middle,
        lambda p: p.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4),
        lambda p: p.write_bytes(b""),
        _wrong_shape,
    ],
    ids=["truncated", "bit-flip", "garbage", "empty", "wrong-shape"],
)
@pytest.mark.parametrize("full", [False, True], ids=["update", "build-full"])
def test_a_damaged_cache_batch_is_skipped_and_re_embedded(
    cached: tuple[Settings, list[str]], damage, full: bool
) -> None:
    settings, texts = cached
    damage(batch_file(settings))
    embedder = FakeEmbedder()
    report = update_index(settings, embedder, full=full)
    assert sorted(embedder.embedded) == sorted(texts)
    assert report.added == ["a.txt"] and len(load_index(settings.index_dir).passages) > 0
    if not full:  # a full build deletes the cache unread
        assert len(report.warnings) == 1 and "skipped; re-embedding" in report.warnings[0]
    assert not EmbeddingCache.folder_of(settings.index_dir, FakeEmbedder.model_id).exists()


@pytest.fixture
def built(settings: Settings) -> Settings:
    write_article(settings.corpus_dir, "a.txt", A)
    update_index(settings, FakeEmbedder())
    return settings


@pytest.mark.parametrize(
    "victim",
    ["passages.npz", "bm25.npz", "passages.txt", "passage_articles.json", "bm25_vocab.json", "vectors.faiss"],
)
def test_same_size_damage_is_caught_by_the_checksum(built: Settings, victim: str) -> None:
    flip_middle(current_generation(built.index_dir) / victim)
    with pytest.raises(IndexCorrupt, match=f"{victim} does not match its checksum.*{FIX}"):
        load_index(built.index_dir)
    report = update_index(built, FakeEmbedder())
    assert "rebuilding it from the corpus" in report.warnings[0]
    assert len(load_index(built.index_dir).passages) > 0


@pytest.mark.parametrize("victim", ["vectors.npy", "sentences.npy"])
def test_mapped_vectors_are_verified_before_an_update_copies_them(built: Settings, victim: str) -> None:
    flip_middle(current_generation(built.index_dir) / victim)
    load_index(built.index_dir)  # serving maps them unread: sizes checked, not hashed
    with pytest.raises(IndexCorrupt, match=f"{victim} does not match its checksum"):
        load_index(built.index_dir, verify=True)
    embedder = FakeEmbedder()
    report = update_index(built, embedder)
    assert report.added == ["a.txt"] and embedder.embedded
    load_index(built.index_dir, verify=True)


@pytest.mark.parametrize(
    "pointer",
    [b"\xff\xfe\x00g-2026", b"../../etc", b"", "g-中文".encode()],
    ids=["binary", "escape", "empty", "utf8"],
)
def test_a_damaged_current_pointer_is_a_message(built: Settings, pointer: bytes) -> None:
    (built.index_dir / "CURRENT").write_bytes(pointer)
    with pytest.raises(IndexCorrupt, match=f"CURRENT file .*{FIX}"):
        load_index(built.index_dir)
    assert update_index(built, FakeEmbedder()).added == ["a.txt"]


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.pop("counts"),
        lambda m: m.pop("files"),
        lambda m: m["counts"].pop("passages"),
        lambda m: m.pop("model"),
        lambda m: m["files"].pop("bm25.npz"),
        lambda m: m.clear(),
    ],
    ids=["no-counts", "no-files", "no-passage-count", "no-model", "file-list", "empty"],
)
def test_a_manifest_missing_keys_is_a_message(built: Settings, edit) -> None:
    path = current_generation(built.index_dir) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match=f"manifest .* is damaged.*{FIX}"):
        load_index(built.index_dir)
    assert update_index(built, FakeEmbedder()).added == ["a.txt"]


def test_a_manifest_that_is_not_an_object_is_a_message(built: Settings) -> None:
    (current_generation(built.index_dir) / "manifest.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="not a JSON object"):
        load_index(built.index_dir)
