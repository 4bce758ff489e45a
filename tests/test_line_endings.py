"""CRLF, CR-only and mixed line endings: quotes are ``article_text[start:end]`` of the text as read.

The rule (assistant/corpus.py): an article's text is its decoded bytes with every line
ending normalised to ``\\n``. A file saved on Windows quotes the same as its Unix twin.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.corpus import parse_article, read_article
from assistant.indexing import index_articles, update_index
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import FakeEmbedder

UNIX = (
    "---\ntitle: 火神山医院\n---\n"
    "　　一月下旬，武汉开始建设火神山医院。\n\n"
    "　　中建三局在火神山医院项目建设指挥部成立临时党委，400余名党员在党旗下郑重宣誓。\n"
    "　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。\n"
)
QUESTIONS = ["中建三局成立了什么组织？", "天津医疗队有多少名党员？", "武汉什么时候开始建设火神山医院？"]


def _mixed(text: str) -> str:
    lines = text.split("\n")
    ends = ["\r\n", "\r", "\n"]
    return "".join(line + ends[n % 3] for n, line in enumerate(lines[:-1])) + lines[-1]


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (UNIX.replace("\n", "\r\n"), "utf-8"),
        (UNIX.replace("\n", "\r"), "utf-8"),
        (_mixed(UNIX), "utf-8"),
        (UNIX.replace("\n", "\r\n"), "gbk"),
    ],
    ids=["crlf", "cr", "mixed", "gbk-crlf"],
)
def test_line_endings_round_trip_verbatim(
    settings: Settings, fake_embedder: FakeEmbedder, raw: str, encoding: str
) -> None:
    path = settings.corpus_dir / "a.txt"
    path.write_bytes(raw.encode(encoding))
    article = read_article(path, settings.corpus_dir)
    assert article.text == UNIX and article.title == "火神山医院"
    assert article.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()

    report = update_index(settings, fake_embedder)
    assert report.added == ["a.txt"]
    index = load_index(settings.index_dir)
    for p in index.passages:
        assert article.text[p.start : p.end] == p.text
    answerer = Answerer(Retriever(index, fake_embedder))
    quoted = 0
    for question in QUESTIONS:
        for q in answerer.ask(question).quotes:
            assert article.text[q.start : q.end] == q.quote
            assert article.text[q.passage_start : q.passage_end] == q.passage
            quoted += 1
    assert quoted >= len(QUESTIONS)
    # A second update finds nothing to do: the index is not bricked and not rebuilt.
    again = FakeEmbedder()
    assert update_index(settings, again).unchanged == ["a.txt"] and again.embedded == []


def test_an_index_holding_carriage_returns_still_loads_and_heals(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    """An index written before the rule has "\\r" in passages.txt: it loads, and the next
    update re-reads the article so its offsets follow the rule."""
    raw = UNIX.replace("\n", "\r\n")
    path = settings.corpus_dir / "a.txt"
    path.write_bytes(raw.encode("utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    legacy = parse_article(raw, "a.txt", path, "utf-8", digest)  # not normalised, like old indexes
    index_articles([legacy], settings, fake_embedder)
    index = load_index(settings.index_dir)
    assert "\r" in index.passages.text
    assert all(raw[p.start : p.end] == p.text for p in index.passages)

    report = update_index(settings, FakeEmbedder())
    assert report.changed == ["a.txt"]
    index = load_index(settings.index_dir)
    assert "\r" not in index.passages.text
    assert all(UNIX[p.start : p.end] == p.text for p in index.passages)


def test_pasted_text_and_unix_file_read_identically(tmp_path: Path) -> None:
    (tmp_path / "u.txt").write_bytes(UNIX.encode("utf-8"))
    (tmp_path / "w.txt").write_bytes(UNIX.replace("\n", "\r\n").encode("utf-8"))
    unix, windows = read_article(tmp_path / "u.txt", tmp_path), read_article(tmp_path / "w.txt", tmp_path)
    assert (unix.text, unix.body_start, unix.title) == (windows.text, windows.body_start, windows.title)
    assert unix.content_hash != windows.content_hash
