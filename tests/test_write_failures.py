"""A full disk or a read-only folder: a plain message, nothing partial left behind, and a retry
that works once space is back. Tests run as root, where chmod blocks nothing, so the failures
are injected by raising the OSError the kernel would."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

import assistant.cache
import assistant.indexing
import assistant.store
from assistant.config import Settings
from assistant.corpus import add_file, add_text, remove_article
from assistant.errors import CorpusError, IndexWriteError
from assistant.indexing import update_index
from assistant.store import current_generation, load_index
from tests.conftest import FakeEmbedder, write_article

A = "　　火神山医院由中建三局负责建设，十天建成。\n　　一千余名建设者日夜奋战，党员突击队冲锋在前。\n"
B = "　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。\n"


def fail_with(code: int):
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    return fail


@pytest.fixture
def built(settings: Settings) -> Settings:
    write_article(settings.corpus_dir, "a.txt", A)
    update_index(settings, FakeEmbedder())
    return settings


def test_disk_full_while_saving_is_plain_and_leaves_no_partial_generation(
    built: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = current_generation(built.index_dir)
    write_article(built.corpus_dir, "b.txt", B)
    monkeypatch.setattr(assistant.store.np, "save", fail_with(errno.ENOSPC))
    with pytest.raises(IndexWriteError, match="^disk full: the new index could not be written") as caught:
        update_index(built, FakeEmbedder())
    assert str(built.index_dir) not in str(caught.value)
    assert list(built.index_dir.glob(".tmp-g-*")) == []
    assert current_generation(built.index_dir) == live and len(load_index(built.index_dir).articles) == 1

    monkeypatch.undo()  # space is back: the retry embeds nothing again, the cache kept b.txt's vectors
    embedder = FakeEmbedder()
    report = update_index(built, embedder)
    assert report.added == ["b.txt"] and embedder.embedded == []


def test_stale_temporary_generations_are_removed_before_an_update_writes(
    built: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = built.index_dir / ".tmp-g-20260101T000000-abcdef"
    stale.mkdir()
    (stale / "vectors.npy").write_bytes(bytes(4096))
    (built.index_dir / ".CURRENT.tmp").write_bytes(b"g-x")
    seen: list[list[Path]] = []
    save = assistant.indexing.save_index

    def watching_save(root: Path, data: object) -> Path:
        seen.append(sorted(root.glob(".tmp-g-*")) + sorted(root.glob(".CURRENT.tmp")))
        return save(root, data)  # type: ignore[arg-type]

    monkeypatch.setattr(assistant.indexing, "save_index", watching_save)
    write_article(built.corpus_dir, "b.txt", B)
    update_index(built, FakeEmbedder())
    assert seen == [[]]


def test_disk_full_while_caching_vectors_is_plain_and_leaves_no_temporary_batch(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    monkeypatch.setattr(assistant.cache.np, "savez", fail_with(errno.ENOSPC))
    with pytest.raises(IndexWriteError, match="^disk full: the embedding cache"):
        update_index(settings, FakeEmbedder())
    assert [p.name for p in (settings.index_dir / ".cache").rglob("*.npz")] == []


@pytest.mark.parametrize(
    ("code", "message"),
    [(errno.EROFS, "on a read-only file system"), (errno.EACCES, "without write permission")],
)
def test_a_read_only_index_folder_is_a_message(
    built: Settings, monkeypatch: pytest.MonkeyPatch, code: int, message: str
) -> None:
    real_open = os.open

    def open_but_not_the_lock(path: object, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".lock"):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(assistant.indexing.os, "open", open_but_not_the_lock)
    with pytest.raises(
        IndexWriteError, match=f"the index folder cannot be written: it is {message}"
    ) as caught:
        update_index(built, FakeEmbedder())
    assert str(built.index_dir) not in str(caught.value)


def test_a_read_only_generation_write_is_a_message(built: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    write_article(built.corpus_dir, "b.txt", B)
    monkeypatch.setattr(Path, "mkdir", fail_with(errno.EROFS))
    with pytest.raises(IndexWriteError, match="read-only"):
        update_index(built, FakeEmbedder())


@pytest.mark.parametrize(
    ("code", "message"), [(errno.EROFS, "corpus folder is read-only"), (errno.ENOSPC, "disk is full")]
)
def test_writing_into_a_read_only_or_full_corpus_is_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, message: str
) -> None:
    kept = add_text(tmp_path, "留下", "　　正文。")
    monkeypatch.setattr(Path, "write_bytes", fail_with(code))
    with pytest.raises(CorpusError, match=f"new.txt: cannot be saved, the {message}"):
        add_file(tmp_path, "new.txt", "　　火神山医院。".encode())
    with pytest.raises(CorpusError, match=message):
        add_text(tmp_path, "标题", "　　正文。")
    monkeypatch.setattr(Path, "rename", fail_with(code))
    with pytest.raises(CorpusError, match=message):
        remove_article(tmp_path, kept.name)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [kept.name]


def test_a_partial_article_is_removed_when_the_disk_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Path.write_bytes

    def half_then_full(self: Path, data: bytes) -> int:
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    with pytest.raises(CorpusError, match="disk is full"):
        add_file(tmp_path, "new.txt", "　　火神山医院。".encode())
    assert list(tmp_path.iterdir()) == []


def test_a_no_change_update_writes_no_generation(built: Settings) -> None:
    pointer = (built.index_dir / "CURRENT").read_bytes()
    live = current_generation(built.index_dir)
    files = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in live.iterdir()}
    report = update_index(built, FakeEmbedder())
    assert report.unchanged == ["a.txt"] and report.embedded == 0
    assert report.folder == str(live) and report.passages == len(load_index(built.index_dir).passages)
    assert (built.index_dir / "CURRENT").read_bytes() == pointer
    assert sorted(p.name for p in built.index_dir.glob("g-*")) == [live.name]
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in live.iterdir()} == files
    assert np.isfinite(report.seconds)


def test_an_update_with_a_new_duplicate_still_writes(built: Settings) -> None:
    live = current_generation(built.index_dir)
    write_article(built.corpus_dir, "copy.txt", A)
    report = update_index(built, FakeEmbedder())
    assert report.duplicates and current_generation(built.index_dir) != live
    assert load_index(built.index_dir).articles["a.txt"].also_in == ("copy.txt",)


def _faiss_full(index: object, path: str) -> None:
    # What faiss.write_index raises when the disk fills (a RuntimeError, the path inside).
    raise RuntimeError(
        "Error in void faiss::write_index(const Index*, IOWriter*, int) at index_write.cpp:499: "
        f"Error: 'ret == (size * 4)' failed: write error in {path}: 122835 != 3072000 "
        "(No space left on device)"
    )


def _short_write(*args: object, **kwargs: object) -> None:
    # What numpy's tofile raises when fwrite stops short on a full disk: no errno.
    raise OSError("48384 requested and 40896 written")


@pytest.mark.parametrize("where", ["faiss", "numpy"])
def test_a_full_disk_reported_without_an_errno_is_still_disk_full(
    built: Settings, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import faiss

    live = current_generation(built.index_dir)
    write_article(built.corpus_dir, "b.txt", B)
    if where == "faiss":
        monkeypatch.setattr(faiss, "write_index", _faiss_full)
    else:
        monkeypatch.setattr(assistant.store.np, "save", _short_write)
    with pytest.raises(IndexWriteError, match="^disk full: the new index could not be written") as caught:
        update_index(built, FakeEmbedder())
    assert str(built.index_dir) not in str(caught.value)
    assert list(built.index_dir.glob(".tmp-g-*")) == []
    assert current_generation(built.index_dir) == live
