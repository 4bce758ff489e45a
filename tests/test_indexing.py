"""Incremental updates, duplicates, bad files, the lock, a kill -9 and a swap under load."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.errors import IndexBusy
from assistant.indexing import index_lock, update_index
from assistant.lexical import tokenize
from assistant.retrieval import Retriever
from assistant.service import Assistant
from assistant.store import load_index
from tests.conftest import FakeEmbedder, write_article

ROOT = Path(__file__).resolve().parents[1]
A = "　　火神山医院由中建三局负责建设，十天建成。\n　　一千余名建设者日夜奋战，党员突击队冲锋在前。\n"
B = "　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。\n"
C = "　　湖南慈利县龙潭河镇党委劝导村民取消了赈酒和嫁娶喜宴。\n"


def article_ids(settings: Settings) -> set[str]:
    return {p.article_id for p in load_index(settings.index_dir).passages}


def test_update_embeds_only_added_and_changed_articles(settings: Settings) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    write_article(settings.corpus_dir, "b.txt", B)
    update_index(settings, FakeEmbedder())

    write_article(settings.corpus_dir, "c.txt", C)
    write_article(settings.corpus_dir, "b.txt", B.replace("74名", "七十四名"))
    (settings.corpus_dir / "a.txt").unlink()
    embedder = FakeEmbedder()
    report = update_index(settings, embedder)

    assert (report.added, report.changed, report.removed, report.unchanged) == (
        ["c.txt"],
        ["b.txt"],
        ["a.txt"],
        [],
    )
    assert all("火神山" not in t for t in embedder.embedded)
    assert any("七十四名" in t for t in embedder.embedded) and any("赈酒" in t for t in embedder.embedded)
    index = load_index(settings.index_dir)
    assert article_ids(settings) == {"b.txt", "c.txt"}
    assert index.store.search_bm25(tokenize("中建三局"), 10) == []
    assert set(index.articles) == {"b.txt", "c.txt"}

    again = FakeEmbedder()
    report = update_index(settings, again)
    assert again.embedded == [] and report.unchanged == ["b.txt", "c.txt"]
    assert report.embedded == 0 and report.reused == report.passages + report.sentences


def test_full_rebuild_embeds_everything_again(settings: Settings) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    update_index(settings, FakeEmbedder())
    embedder = FakeEmbedder()
    report = update_index(settings, embedder, full=True)
    assert report.added == ["a.txt"] and report.embedded == len(embedder.embedded) > 0


def test_duplicates_are_indexed_once_and_listed(settings: Settings) -> None:
    story = A * 3 + B
    write_article(settings.corpus_dir, "新华社 稿件.txt", "---\ntitle: 原稿\n---\n" + story)
    write_article(settings.corpus_dir, "copy.txt", "---\ntitle: 原稿\n---\n" + story)
    write_article(
        settings.corpus_dir, "wire.txt", "---\ntitle: 另一个标题\n---\n" + story + "（记者 张三）\n"
    )
    report = update_index(settings, FakeEmbedder())
    assert report.added == ["copy.txt"]
    assert any(d.startswith("新华社 稿件.txt: the same file as copy.txt") for d in report.duplicates)
    assert any(d.startswith("wire.txt: a near-duplicate") for d in report.duplicates)
    index = load_index(settings.index_dir)
    assert set(index.articles) == {"copy.txt"}
    assert index.articles["copy.txt"].also_in == ("wire.txt", "新华社 稿件.txt")


def test_bad_and_foreign_encoded_files(settings: Settings) -> None:
    traditional = "　　北京市按照分類服務管理的原則，就重點人群、場所和單位的防控工作作出再部署。\n"
    write_article(settings.corpus_dir, "gbk.txt", A, "gbk")
    write_article(settings.corpus_dir, "gb18030.txt", C, "gb18030")
    write_article(settings.corpus_dir, "big5.txt", traditional, "big5")
    write_article(settings.corpus_dir, "utf16.txt", B, "utf-16")
    (settings.corpus_dir / "empty.txt").write_bytes(b"")
    (settings.corpus_dir / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (settings.corpus_dir / "random.md").write_bytes(os.urandom(4096))
    report = update_index(settings, FakeEmbedder())
    assert sorted(report.added) == ["big5.txt", "gb18030.txt", "gbk.txt", "utf16.txt"]
    reasons = "\n".join(report.skipped)
    assert "empty.txt: the file is empty" in reasons and "image.txt: this is a PNG image" in reasons
    assert "random.md" in reasons
    index = load_index(settings.index_dir)
    texts = {"gbk.txt": A, "gb18030.txt": C, "big5.txt": traditional, "utf16.txt": B}
    for p in index.passages:
        assert texts[p.article_id][p.start : p.end] == p.text


def test_a_second_update_is_refused_while_one_runs(settings: Settings) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    with index_lock(settings.index_dir), pytest.raises(IndexBusy, match="another update"):
        update_index(settings, FakeEmbedder())
    update_index(settings, FakeEmbedder())


CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from assistant.config import Settings
from assistant.indexing import update_index
from tests.conftest import FakeEmbedder

class Slow(FakeEmbedder):
    def embed_passages(self, texts, show_progress=False):
        time.sleep(0.4)
        return super().embed_passages(texts)

settings = Settings(corpus_dir=Path({corpus!r}), index_dir=Path({index!r}), model=FakeEmbedder.model_id)
update_index(settings, Slow())
"""


def test_killed_update_keeps_the_old_index_and_resumes(settings: Settings, tmp_path: Path) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    update_index(settings, FakeEmbedder())
    for i in range(40):
        write_article(
            settings.corpus_dir,
            f"n{i:02}.txt",
            f"　　第{i}篇新闻。" + "".join(f"第{i}篇第{j}句讲了一件事。" for j in range(12)),
        )
    script = CHILD.format(root=str(ROOT), corpus=str(settings.corpus_dir), index=str(settings.index_dir))
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    cache = settings.index_dir / ".cache"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(cache.glob("*/batch-*.npz"))) < 2:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    cached = len(list(cache.glob("*/batch-*.npz")))
    assert cached >= 2, "the child never got two batches in"

    index = load_index(settings.index_dir)
    assert set(index.articles) == {"a.txt"}
    answer = Answerer(Retriever(index, FakeEmbedder())).ask("火神山医院由哪家企业建设？")
    assert answer.answered and "中建三局" in answer.quotes[0].quote

    resumed = FakeEmbedder()
    report = update_index(settings, resumed)
    total = report.passages + report.sentences - 2 - 1  # a.txt's passage and sentences were indexed
    batch = settings.embed_batch
    assert len(resumed.embedded) <= total - cached * batch + batch
    assert 0 < len(resumed.embedded) < total
    assert len(article_ids(settings)) == 41
    assert not list(cache.glob("*/batch-*.npz"))


def test_answers_keep_coming_while_an_update_swaps_the_index(settings: Settings) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    embedder = FakeEmbedder()
    update_index(settings, embedder)
    assistant = Assistant(settings, embedder=embedder)
    failures: list[BaseException] = []
    answered = 0
    stop = threading.Event()

    def ask_forever() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                assert assistant.ask("火神山医院由哪家企业建设？").answered
                answered += 1
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                failures.append(exc)

    thread = threading.Thread(target=ask_forever)
    thread.start()
    try:
        for i in range(3):
            write_article(settings.corpus_dir, f"new{i}.txt", C.replace("龙潭河镇", f"第{i}镇"))
            assistant.update()
    finally:
        stop.set()
        thread.join()
    assert failures == [] and answered > 0
    reply = assistant.ask("龙潭河镇党委劝导村民取消了什么？")
    assert reply.answered and reply.quotes[0].article_id.startswith("new")


def test_traditional_and_simplified_match_each_other(settings: Settings) -> None:
    write_article(settings.corpus_dir, "simplified.txt", A)
    write_article(
        settings.corpus_dir, "traditional.txt", "　　湖南慈利縣龍潭河鎮黨委勸導村民取消了賑酒和嫁娶喜宴。\n"
    )
    embedder = FakeEmbedder()
    update_index(settings, embedder)
    answerer = Answerer(Retriever(load_index(settings.index_dir), embedder))
    to_simplified = answerer.ask("火神山醫院由哪家企業建設？")
    assert to_simplified.answered and to_simplified.quotes[0].article_id == "simplified.txt"
    to_traditional = answerer.ask("龙潭河镇党委劝导村民取消了什么？")
    assert to_traditional.answered and to_traditional.quotes[0].article_id == "traditional.txt"
    assert "賑酒" in to_traditional.quotes[0].quote


def test_a_20_mb_article_is_refused_with_the_limit_and_the_rest_indexed(settings: Settings) -> None:
    write_article(settings.corpus_dir, "a.txt", A)
    (settings.corpus_dir / "dump.txt").write_bytes(("很长的文章。" * 1_200_000).encode("utf-8"))
    report = update_index(settings, FakeEmbedder())
    assert report.added == ["a.txt"]
    assert any("dump.txt: 20.6 MB is over the 2 MB limit" in s for s in report.skipped)


def test_bodiless_articles_are_skipped_not_near_duplicates(settings: Settings) -> None:
    for n in range(3):
        write_article(settings.corpus_dir, f"empty{n}.md", f"---\ntitle: 空稿{n}\n---\n")
    write_article(settings.corpus_dir, "a.txt", A)
    write_article(settings.corpus_dir, "short1.txt", "---\ntitle: 图一\n---\n图片\n")
    write_article(settings.corpus_dir, "short2.txt", "---\ntitle: 图二\n---\n图片 \n")
    report = update_index(settings, FakeEmbedder())
    assert report.duplicates == []
    assert report.skipped == [f"empty{n}.md: no body text" for n in range(3)]
    assert report.added == ["a.txt", "short1.txt", "short2.txt"]


def test_repaired_articles_are_indexed_with_a_warning_in_the_report(settings: Settings) -> None:
    (settings.corpus_dir / "nul.txt").write_bytes(A.replace("十天", "十\x00天").encode())
    report = update_index(settings, FakeEmbedder())
    assert report.added == ["nul.txt"] and report.warnings == ["nul.txt: removed 1 NUL characters"]
    assert list(load_index(settings.index_dir).articles["nul.txt"].warnings) == report.warnings


SHARD_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from assistant.config import Settings
from assistant.indexing import embed_shard
from tests.conftest import FakeEmbedder

settings = Settings(corpus_dir=Path({corpus!r}), index_dir=Path({index!r}), model=FakeEmbedder.model_id)
embedder = FakeEmbedder()
embed_shard(settings, embedder, {shard}, 2)
print(json.dumps(embedder.embedded))
"""


def test_two_shard_processes_embed_disjoint_halves_and_the_update_embeds_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    for i in range(8):
        body = f"　　第{i}篇：中建三局承建火神山医院，十天建成。第{i}篇独有的一句话，共{i}人。\n"
        write_article(settings.corpus_dir, f"{i}.txt", f"第{i}篇\n\n{body}")
    update_index(settings, FakeEmbedder())  # a live index: its texts are never embedded again
    write_article(settings.corpus_dir, "new.txt", "新文章\n\n　　天津医疗队有74名党员。他们第二天出发。\n")
    # What one process would do: an update of a copy of the same index.
    single = Settings(corpus_dir=settings.corpus_dir, index_dir=tmp_path / "single", model=settings.model)
    shutil.copytree(settings.index_dir, single.index_dir)
    reference = FakeEmbedder()
    update_index(single, reference)

    root = str(Path(__file__).resolve().parents[1])
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SHARD_CHILD.format(
                    root=root, corpus=str(settings.corpus_dir), index=str(settings.index_dir), shard=shard
                ),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for shard in (0, 1)
    ]
    halves = [set(json.loads(child.communicate(timeout=120)[0])) for child in children]
    assert all(child.returncode == 0 for child in children)
    assert halves[0] and halves[1] and not halves[0] & halves[1], "no text is embedded twice"
    assert halves[0] | halves[1] == set(reference.embedded)

    final = FakeEmbedder()
    report = update_index(settings, final)
    assert final.embedded == [] and report.added == ["new.txt"]
    sharded, alone = load_index(settings.index_dir), load_index(single.index_dir)
    assert [(p.id, p.text_hash) for p in sharded.passages] == [(p.id, p.text_hash) for p in alone.passages]
    assert sharded.sentence_hashes == alone.sentence_hashes
    assert (sharded.sentence_vectors == alone.sentence_vectors).all()
