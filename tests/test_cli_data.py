"""The CLI on damaged or unwritable index folders and repaired articles: messages, never tracebacks."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import assistant.store
from assistant.cache import EmbeddingCache
from assistant.cli import main
from tests.conftest import FakeEmbedder, write_article

A = "　　天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n"


@pytest.fixture
def cli(tmp_path: Path, fake_model: None) -> tuple[CliRunner, list[str], Path]:
    corpus = tmp_path / "articles"
    corpus.mkdir()
    write_article(corpus, "a.txt", A)
    return CliRunner(), ["--corpus", str(corpus), "--index", str(tmp_path / "idx")], tmp_path / "idx"


def test_warnings_are_shown(cli: tuple[CliRunner, list[str], Path], tmp_path: Path) -> None:
    runner, paths, _ = cli
    (tmp_path / "articles" / "nul.txt").write_bytes("　　火神山\x00医院十天建成。\n".encode())
    result = runner.invoke(main, ["index", "update", *paths])
    assert result.exit_code == 0, result.output
    assert "warning: nul.txt: removed 1 NUL characters" in result.output


@pytest.mark.parametrize("command", [["index", "update"], ["index", "build", "--full"]])
def test_a_damaged_cache_batch_does_not_stop_a_build(
    cli: tuple[CliRunner, list[str], Path], command: list[str]
) -> None:
    runner, paths, index = cli
    cache = EmbeddingCache(index, FakeEmbedder.model_id)
    cache.add(["0" * 40], FakeEmbedder().embed_passages(["x"]))
    (batch,) = cache.folder.glob("batch-*.npz")
    batch.write_bytes(batch.read_bytes()[:100])
    result = runner.invoke(main, [*command, *paths])
    assert result.exit_code == 0, result.output
    assert result.exception is None and "1 added" in result.output


def test_disk_full_is_one_plain_line(
    cli: tuple[CliRunner, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, paths, index = cli

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(assistant.store.np, "save", full)
    result = runner.invoke(main, ["index", "update", *paths])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "Error: disk full: the new index could not be written" in result.output
    assert list(index.glob(".tmp-g-*")) == []


def test_a_damaged_current_is_a_message_when_asking(cli: tuple[CliRunner, list[str], Path]) -> None:
    runner, paths, index = cli
    assert runner.invoke(main, ["index", "update", *paths]).exit_code == 0
    (index / "CURRENT").write_bytes(b"\xff\xfe")
    result = runner.invoke(main, ["ask", "天津医疗队有多少党员？", *paths])
    assert result.exit_code == 1 and "assistant index build --full" in result.output
