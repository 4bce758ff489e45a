"""Bulk import from the CLI, and the Corpus tab's upload, for every format."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.config import Settings
from assistant.corpus import remove_article
from assistant.corpus.bulk import import_files
from assistant.errors import CorpusError
from assistant.manage import MAX_REASONS, CorpusManager
from tests.conftest import write_article
from tests.documents import PAGE_1, PAGE_2, write_docx, write_pdf
from tests.test_manage import PASSWORD, make_manager, uploaded, uploads  # noqa: F401  (uploads: a fixture)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A newsroom's folder: a PDF, a Word draft, an export, a text file, and things that are not articles."""
    folder = tmp_path / "archive"
    (folder / "2024").mkdir(parents=True)
    write_pdf(folder / "2024" / "要闻.pdf", [PAGE_1, PAGE_2])
    write_docx(folder / "年报.docx")
    (folder / "export.jsonl").write_text(
        json.dumps({"id": "7", "title": "北斗", "body": "北斗系统由五十五颗卫星组成。"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    write_article(folder, "短讯.txt", "　　天津市组建医疗队增援武汉。")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff" + bytes(20))
    (folder / "locked.pdf").write_bytes(write_pdf(folder / "x.pdf", [PAGE_1], encrypt="pw").read_bytes())
    (folder / "x.pdf").unlink()
    return folder


def test_import_copies_reports_and_indexes_and_a_rerun_copies_nothing(
    archive: Path, tmp_path: Path, fake_model: None
) -> None:
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "idx")]
    result = CliRunner().invoke(main, ["import", str(archive), *paths])
    assert result.exit_code == 0, result.output
    assert "5 files copied" in result.output and "1 left out" in result.output
    assert "photo.jpg: not a supported format" in result.output
    for article_id in (
        "archive/2024/要闻.pdf",
        "archive/年报.docx",
        "archive/export.jsonl#7",
        "archive/短讯.txt",
    ):
        assert f"added: {article_id}" in result.output
    assert "skipped: archive/locked.pdf: encrypted PDF" in result.output
    again = CliRunner().invoke(main, ["import", str(archive), *paths])
    assert again.exit_code == 0 and "0 files copied" in again.output and "5 already there" in again.output
    assert "4 unchanged" in again.output
    asked = CliRunner().invoke(main, ["ask", "全年粮食产量保持在多少以上？", "--json", *paths])
    quote = json.loads(asked.output)["quotes"][0]
    assert quote["page"] == 2 and quote["file"] == "archive/2024/要闻.pdf"


def test_import_never_overwrites_a_different_file_of_the_same_name(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_article(corpus.parent, "a.txt", "旧的。")
    import_files([tmp_path / "a.txt"], corpus)
    (tmp_path / "a.txt").write_text("新的。", encoding="utf-8")
    assert import_files([tmp_path / "a.txt"], corpus).copied == ["a-2.txt"]
    assert import_files([tmp_path / "a.txt"], corpus).present == ["a-2.txt"]
    assert (corpus / "a.txt").read_text(encoding="utf-8") == "旧的。"
    with pytest.raises(CorpusError, match="no such file or folder"):
        import_files([tmp_path / "missing"], corpus)


def test_the_corpus_tab_takes_pdf_docx_and_exports(settings: Settings, uploads: Path) -> None:  # noqa: F811
    manager: CorpusManager = make_manager(settings)
    token = manager.login(PASSWORD)[1]
    pdf = write_pdf(settings.corpus_dir.parent / "p.pdf", [PAGE_1, PAGE_2]).read_bytes()
    docx = write_docx(settings.corpus_dir.parent / "d.docx").read_bytes()
    files = [
        uploaded(uploads, "要闻.pdf", pdf, key="1"),
        uploaded(uploads, "年报.docx", docx, key="2"),
        uploaded(uploads, "坏.docx", docx[:500], key="3"),
        uploaded(uploads, "e.csv", "title,body\n北斗,北斗系统由五十五颗卫星组成。\n".encode("gbk"), key="4"),
        uploaded(uploads, "bad.jsonl", b"{not json\n", key="5"),
    ]
    saved = manager.upload(token, files)
    for name in ("要闻.pdf", "年报.docx", "e.csv"):
        assert f"已加入：{name}" in saved
    assert "未加入：坏.docx: damaged or not a Word .docx document" in saved
    assert (
        "未加入：bad.jsonl: not a JSONL export, no line of it is a JSON object (line 1 is not valid JSON"
        in saved
    )
    message = manager.update(token)
    assert "新增 3 篇" in message
    assert "e.csv" in manager.deletable() and "e.csv#1" not in manager.deletable()
    with pytest.raises(CorpusError, match="a record of the export e.csv"):
        remove_article(settings.corpus_dir, "e.csv#1")


def test_the_update_message_caps_the_reasons_it_lists(settings: Settings, uploads: Path) -> None:  # noqa: F811
    manager = make_manager(settings)
    lines = [
        json.dumps({"id": str(n), "body": f"第{n}颗北斗卫星{'发射' * n}成功。"}, ensure_ascii=False)
        for n in range(3)
    ]
    lines += [json.dumps({"id": f"x{n}", "body": ""}) for n in range(MAX_REASONS + 5)]
    (settings.corpus_dir / "e.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    message = manager.update(manager.gate.login(PASSWORD))
    assert "新增 3 篇" in message and f"跳过 {MAX_REASONS + 5} 篇" in message
    assert message.count("- 跳过：") == MAX_REASONS and "另有 5 条跳过" in message


def test_a_file_that_cannot_be_read_is_skipped_and_the_rest_imported(tmp_path: Path) -> None:
    source = tmp_path / "drive"
    source.mkdir()
    write_article(source, "a.txt", "　　天津市组建医疗队增援武汉。")
    os.mkfifo(source / "b.txt")  # reading it would wait forever
    write_article(source, "c.txt", "　　北斗系统由五十五颗卫星组成。")
    corpus = tmp_path / "corpus"
    result = import_files([source, source / "b.txt"], corpus)
    assert result.copied == ["drive/a.txt", "drive/c.txt"]
    assert [reason.split(": ")[1] for reason in result.skipped] == [
        "not a regular file (a pipe or device)"
    ] * 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions")
def test_a_file_without_read_permission_is_skipped_and_the_rest_imported(tmp_path: Path) -> None:
    source = tmp_path / "drive"
    source.mkdir()
    write_article(source, "a.txt", "　　天津市组建医疗队增援武汉。")
    write_article(source, "b.txt", "　　北斗系统由五十五颗卫星组成。").chmod(0)
    result = import_files([source], tmp_path / "corpus")
    assert result.copied == ["drive/a.txt"]
    assert result.skipped == [f"{source / 'b.txt'}: cannot be read (Permission denied); not copied"]


def test_a_folder_holding_the_corpus_and_the_index_imports_neither(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    write_article(corpus, "a.txt", "　　天津市组建医疗队增援武汉。")
    (index / "v1").mkdir(parents=True)
    write_article(index, "README.md", "# 索引\n\n这个文件夹由新闻问答维护。")
    (tmp_path / "news").mkdir()
    write_article(tmp_path / "news", "b.txt", "　　北斗系统由五十五颗卫星组成。")
    for _ in range(2):  # a rerun must not nest another copy of the corpus
        result = import_files([tmp_path], corpus, index=index)
    assert sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.*")) == [
        "a.txt",
        f"{tmp_path.name}/news/b.txt",
    ]
    assert result.skipped == [
        f"{corpus}/: the corpus folder itself; its articles are already there",
        f"{index}/: the index folder; it holds no articles",
    ]
    inside = import_files([index, index / "README.md"], corpus, index=index).skipped
    assert inside == [f"{p}: in the index folder; it holds no articles" for p in (index, index / "README.md")]


def test_names_from_a_windows_zip_are_copied_as_text(tmp_path: Path) -> None:
    # Unzipped on Linux, a Chinese Windows zip's names are GBK bytes, which no article id can hold.
    source = tmp_path / "zip"
    folder = source / os.fsdecode("要闻".encode("gbk"))
    folder.mkdir(parents=True)
    write_article(folder, os.fsdecode("短讯".encode("gbk") + b".txt"), "　　天津市组建医疗队增援武汉。")
    write_article(source, "\x1b[2Jclear.txt", "　　火神山医院十天建成。")
    corpus = tmp_path / "corpus"
    result = import_files([source], corpus)
    assert sorted(result.copied) == ["zip/_[2Jclear.txt", "zip/要闻/短讯.txt"]
    assert import_files([source], corpus).copied == []  # a rerun finds them under their new names


def test_a_copy_cut_short_leaves_no_partial_article_and_a_rerun_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import shutil

    from assistant.corpus import article_paths

    source = write_pdf(tmp_path / "要闻.pdf", [PAGE_1, PAGE_2])
    corpus = tmp_path / "corpus"
    copy = shutil.copyfile

    def disk_full(src: Path, dst: Path) -> None:  # the disk fills half-way through the copy
        Path(dst).write_bytes(Path(src).read_bytes()[:500])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(CorpusError, match="the disk is full"):
        import_files([source], corpus)
    assert article_paths(corpus) == [] and list(corpus.iterdir()) == []
    monkeypatch.setattr(shutil, "copyfile", copy)
    assert import_files([source], corpus).copied == ["要闻.pdf"]
    assert (corpus / "要闻.pdf").read_bytes() == source.read_bytes()


def test_a_corpus_on_a_drive_without_hard_links_is_still_imported_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def no_links(src: Path, dst: Path) -> None:  # exFAT, some network shares
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_article(tmp_path / "a", "a.txt", "旧的。")
    write_article(tmp_path / "b", "a.txt", "新的。")
    corpus = tmp_path / "corpus"
    assert import_files([tmp_path / "a" / "a.txt", tmp_path / "b" / "a.txt"], corpus).copied == [
        "a.txt",
        "a-2.txt",
    ]
    assert sorted(p.name for p in corpus.iterdir()) == ["a-2.txt", "a.txt"]


def test_an_import_of_nothing_readable_into_a_new_corpus_ends_without_an_error(
    tmp_path: Path, fake_model: None
) -> None:
    # A first import from a folder of photos only: the update after it said the corpus folder
    # it had just been told to fill did not exist, and exited with an error.
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"\xff\xd8\xff" + bytes(20))
    paths = ["--corpus", str(tmp_path / "new" / "corpus"), "--index", str(tmp_path / "new" / "idx")]
    result = CliRunner().invoke(main, ["import", str(tmp_path / "photos"), *paths])
    assert result.exit_code == 0, result.output
    assert "0 files copied" in result.output and "no readable articles" in result.output
