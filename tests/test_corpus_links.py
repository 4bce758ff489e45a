"""Symbolic links in the corpus are not followed, an index inside the corpus is not indexed, and
names that cannot be article ids are skipped."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.corpus import article_paths, read_article
from assistant.errors import CorpusError
from assistant.indexing import update_index
from assistant.store import load_index
from tests.conftest import FakeEmbedder, write_article

A = "　　火神山医院由中建三局负责建设，十天建成。\n"
SECRET = "　　服务器上的机密文件，不应被引用。\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    write_article(folder, "secret.txt", SECRET)
    return folder


def test_symlinked_files_and_folders_are_skipped_with_a_message(settings: Settings, outside: Path) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    (settings.corpus_dir / "passwd.txt").symlink_to(outside / "secret.txt")
    (settings.corpus_dir / "linked").symlink_to(outside, target_is_directory=True)
    (settings.corpus_dir / "notes.xml").symlink_to(outside / "secret.txt")  # not an article: silent
    report = update_index(settings, FakeEmbedder())
    assert report.added == ["a.txt"]
    assert report.skipped == [
        "linked/: a symbolic link to a folder; not followed",
        "passwd.txt: a symbolic link; not followed",
    ]
    index = load_index(settings.index_dir)
    assert set(index.articles) == {"a.txt"} and "机密" not in index.passages.text
    assert str(outside) not in " ".join(report.skipped)


def test_a_file_that_became_a_link_is_refused_when_read(tmp_path: Path, outside: Path) -> None:
    (tmp_path / "a.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(CorpusError, match="a.txt: a symbolic link; not followed"):
        read_article(tmp_path / "a.txt", tmp_path)


def test_an_index_inside_the_corpus_does_not_index_itself(settings: Settings) -> None:
    inside = replace(settings, index_dir=settings.corpus_dir / "index")
    write_article(inside.corpus_dir, "a.txt", A)
    update_index(inside, FakeEmbedder())
    report = update_index(inside, FakeEmbedder())
    assert report.added == [] and report.unchanged == ["a.txt"]
    assert report.skipped == ["index/: the index folder; not indexed"]
    assert set(load_index(inside.index_dir).articles) == {"a.txt"}


def test_article_paths_lists_skips_by_corpus_path(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    write_article(root / "sub", "b.md", A)
    (root / "sub" / "c.md").symlink_to(root / "sub" / "b.md")  # even one inside the corpus
    skipped: list[str] = []
    paths = article_paths(root, skipped)
    assert [p.relative_to(root).as_posix() for p in paths] == ["sub/b.md"]
    assert skipped == ["sub/c.md: a symbolic link; not followed"]


def test_names_that_are_not_text_are_skipped_with_a_printable_message(settings: Settings) -> None:
    # A Windows zip unpacked on Linux leaves GBK bytes in names; they broke every update with a traceback.
    write_article(settings.corpus_dir, "a.txt", A)
    write_article(settings.corpus_dir, os.fsdecode("宁波".encode("gbk") + b".txt"), SECRET)
    write_article(settings.corpus_dir, "\x1b[31mred.txt", SECRET)
    (settings.corpus_dir / os.fsdecode(b"\xc4\xfe")).mkdir()
    write_article(settings.corpus_dir / os.fsdecode(b"\xc4\xfe"), "b.txt", SECRET)
    report = update_index(settings, FakeEmbedder())
    assert report.added == ["a.txt"]
    reason = "the name is not UTF-8 text or holds a control character; rename it to index it"
    assert sorted(report.skipped) == sorted(
        [f"\\xc4\\xfe/: {reason}", f"\\xc4\\xfe\\xb2\\xa8.txt: {reason}", f"\\x1b[31mred.txt: {reason}"]
    )
    assert set(load_index(settings.index_dir).articles) == {"a.txt"}
