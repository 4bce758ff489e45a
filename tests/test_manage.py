from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from assistant.access import AdminGate
from assistant.app import article_rows, header
from assistant.config import Settings
from assistant.corpus import remove_article, restore_article, trashed_articles
from assistant.errors import CorpusError
from assistant.indexing import update_index
from assistant.manage import ADMIN_REQUIRED, MAX_UPLOADS, CorpusManager, public_message
from assistant.service import Assistant
from assistant.store import current_generation
from tests.conftest import FakeEmbedder, write_article

PASSWORD = "correct horse battery"
ARTICLE = "---\ntitle: 建设雷神山\n---\n　　1月28日下午，中建三局雷神山医院项目指挥部火速成立临时党委。\n"
TIANJIN = "　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。"


@pytest.fixture
def uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Gradio's upload folder, in the test's temp dir."""
    folder = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(folder))
    return folder


def uploaded(uploads: Path, name: str, data: bytes, key: str = "0") -> str:
    """A file as Gradio leaves it for a handler: <upload folder>/<hash>/<name>."""
    path = uploads / key / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def make_manager(settings: Settings) -> CorpusManager:
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    embedder = FakeEmbedder()
    update_index(settings, embedder)
    return CorpusManager(Assistant(settings, embedder=embedder), AdminGate(PASSWORD, failure_delay=0))


def snapshot(settings: Settings) -> dict[str, bytes]:
    """Every file under the corpus, and which index generation is live."""
    files = {
        p.relative_to(settings.corpus_dir).as_posix(): p.read_bytes()
        for p in settings.corpus_dir.rglob("*")
        if p.is_file()
    }
    return {**files, "CURRENT": current_generation(settings.index_dir).name.encode()}


def test_every_management_action_refuses_a_missing_wrong_or_expired_token(
    settings: Settings, uploads: Path
) -> None:
    manager = make_manager(settings)
    remove_article(settings.corpus_dir, "a.txt")  # something in the trash to (not) restore
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    before = snapshot(settings)
    expired = manager.gate.login(PASSWORD)
    manager.gate.logout(expired)
    for token in (None, "", "guessed", expired, PASSWORD):
        file = uploaded(uploads, "新.txt", TIANJIN.encode())
        assert manager.upload(token, [file]) == ADMIN_REQUIRED
        assert not Path(file).exists(), "a refused upload leaves nothing in Gradio's folder"
        assert manager.paste(token, "标题", TIANJIN) == (ADMIN_REQUIRED, False)
        assert manager.update(token) == ADMIN_REQUIRED
        assert manager.delete(token, "a.txt", True) == ADMIN_REQUIRED
        assert manager.restore(token, "a.txt") == ADMIN_REQUIRED
    assert snapshot(settings) == before


def test_admin_uploads_pastes_updates_deletes_and_restores(settings: Settings, uploads: Path) -> None:
    manager = make_manager(settings)
    assert manager.login("wrong")[1] == ""
    message, token = manager.login(PASSWORD)
    assert token and "已登录" in message
    good = uploaded(uploads, "天津 医疗队.txt", TIANJIN.encode("gbk"), key="1")
    image = uploaded(uploads, "photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(100), key="2")
    saved = manager.upload(token, [good, image])
    assert "已加入：天津 医疗队.txt" in saved and "未加入：photo.txt: this is a PNG image" in saved
    assert list(uploads.rglob("*")) == [], "accepted and refused uploads are both cleaned up"
    message, saved = manager.paste(token, "赈酒", "　　龙潭河镇党委劝导村民取消了赈酒和嫁娶喜宴。")
    assert "已加入：赈酒.txt" in message and saved
    message, saved = manager.paste(token, "", "")
    assert "未加入" in message and not saved

    progress_calls: list[float] = []
    message = manager.update(token, lambda fraction, desc="": progress_calls.append(fraction))
    assert "新增 2 篇" in message and progress_calls and progress_calls[-1] == 1.0
    assistant = manager.assistant
    assert "3 篇文章" in header(assistant)
    assert {row[0] for row in article_rows(assistant)} == {"a.txt", "天津 医疗队.txt", "赈酒.txt"}
    reply = assistant.ask("天津首批援助医疗队中有多少名党员？")
    assert reply.answered and reply.quotes[0].article_id == "天津 医疗队.txt"

    # Nothing is deleted without a choice and a confirmation.
    assert "请先选择" in manager.delete(token, None, True)
    assert "确认删除 天津 医疗队.txt" in manager.delete(token, "天津 医疗队.txt", False)
    assert (settings.corpus_dir / "天津 医疗队.txt").exists()
    message = manager.delete(token, "天津 医疗队.txt", True)
    assert "删除 1 篇" in message and ".trash/天津 医疗队.txt" in message
    assert str(settings.corpus_dir.parent) not in message, "no absolute server path in the UI"
    assert "天津 医疗队.txt" not in {row[0] for row in article_rows(assistant)}
    assert trashed_articles(settings.corpus_dir) == ["天津 医疗队.txt"]

    message = manager.restore(token, "天津 医疗队.txt")
    assert "已恢复：天津 医疗队.txt" in message and "新增 1 篇" in message
    assert trashed_articles(settings.corpus_dir) == []
    assert assistant.ask("天津首批援助医疗队中有多少名党员？").quotes[0].article_id == "天津 医疗队.txt"
    assert "请先选择" in manager.restore(token, None)
    assert "恢复失败" in manager.restore(token, "../a.txt")


def test_uploads_are_bounded_in_size_and_count(settings: Settings, uploads: Path) -> None:
    manager = make_manager(replace(settings, max_file_bytes=1000))
    token = manager.gate.login(PASSWORD)
    big = uploaded(uploads, "big.txt", "长".encode() * 400, key="big")  # 1200 bytes
    assert "未加入：big.txt: 0.0 MB is over" in manager.upload(token, [big])
    many = [uploaded(uploads, f"{n}.txt", TIANJIN.encode(), key=str(n)) for n in range(MAX_UPLOADS + 1)]
    assert f"一次最多保存 {MAX_UPLOADS} 个文件" in manager.upload(token, many)
    assert list(uploads.rglob("*.txt")) == [] and sorted(p.name for p in settings.corpus_dir.iterdir()) == [
        "a.txt"
    ]


def test_a_path_outside_gradios_upload_folder_is_never_deleted(
    settings: Settings, uploads: Path, tmp_path: Path
) -> None:
    manager = make_manager(settings)
    outside = tmp_path / "keep.txt"
    outside.write_text(TIANJIN, encoding="utf-8")
    manager.upload(None, [str(outside)])
    manager.upload(manager.gate.login(PASSWORD), [str(outside)])
    assert outside.read_text(encoding="utf-8") == TIANJIN


def test_an_oversized_paste_is_refused_before_anything_is_written(settings: Settings) -> None:
    manager = make_manager(settings)
    token = manager.gate.login(PASSWORD)
    message, saved = manager.paste(token, "九兆", "字" * (3 * 2**20))  # 9 MB of UTF-8
    assert "未加入" in message and "over the 2 MB limit" in message and not saved
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt"]


def test_restore_puts_an_article_back_in_its_folder_and_never_overwrites(settings: Settings) -> None:
    corpus = settings.corpus_dir
    (corpus / "2020").mkdir()
    write_article(corpus / "2020", "a.txt", ARTICLE)
    moved = remove_article(corpus, "2020/a.txt")
    assert moved == corpus / ".trash" / "2020" / "a.txt"
    assert trashed_articles(corpus) == ["2020/a.txt"]
    write_article(corpus / "2020", "a.txt", "新的同名文章。")
    restored = restore_article(corpus, "2020/a.txt")
    assert restored == corpus / "2020" / "a-2.txt" and restored.read_text(encoding="utf-8") == ARTICLE
    assert (corpus / "2020" / "a.txt").read_text(encoding="utf-8") == "新的同名文章。"
    assert trashed_articles(corpus) == []
    with pytest.raises(CorpusError, match="no such article in the trash"):
        restore_article(corpus, "2020/a.txt")


def test_public_message_names_server_folders_relatively(settings: Settings) -> None:
    message = (
        f"{settings.corpus_dir.resolve()}/x.txt: cannot read; index {settings.index_dir.resolve()} locked"
    )
    assert public_message(message, settings) == "corpus/x.txt: cannot read; index index locked"


def test_an_article_the_indexer_skips_can_still_be_deleted(settings: Settings) -> None:
    manager = make_manager(settings)
    (settings.corpus_dir / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    token = manager.gate.login(PASSWORD)
    assert "跳过 1 篇" in manager.update(token)
    assert manager.deletable() == ["a.txt", "photo.txt"]
    assert "已把 photo.txt 移到回收站" in manager.delete(token, "photo.txt", True)
    assert manager.deletable() == ["a.txt"] and trashed_articles(settings.corpus_dir) == ["photo.txt"]
