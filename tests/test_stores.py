"""The store contract, run against every engine: FAISS, a Milvus Lite file, and Milvus Lite's
gRPC server started here on a free port and reached as a network client. Real engines."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.config import Settings
from assistant.errors import IndexCorrupt, IndexMismatch, StoreUnavailable
from assistant.indexing import update_index
from assistant.lexical import tokenize
from assistant.retrieval import Filter, Retriever
from assistant.store import load_index
from assistant.stores import PassageFields, Where, new_store
from assistant.stores.faiss import FaissStore
from assistant.stores.milvus import NOISY_LOGGERS, MilvusStore, where_expression
from tests.conftest import FakeEmbedder, write_article
from tests.gradio_http import free_port

TEXTS = [
    ("a.txt", "2020-02-05", "新华社", "火神山医院由中建三局承建，十天建成。"),
    ("a.txt", "2020-02-05", "新华社", "党员突击队日夜奋战在工地上。"),
    ("b.txt", "2020-03-01", "人民日报", "天津市组建医疗队增援武汉，七十四名党员进入首批医疗队。"),
    ("c.txt", "", "人民日报", "红烧肉的做法：五花肉切块，冰糖炒色。"),
]


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from milvus_lite.adapter.grpc.server import start_server_in_thread

    server, db, port = start_server_in_thread(str(tmp_path_factory.mktemp("milvus") / "server.db"), port=0)
    yield f"http://127.0.0.1:{port}"
    server.stop(grace=0)
    db.close()


@pytest.fixture(params=["faiss", "milvus-lite", "milvus-server"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "faiss":
        return "faiss"
    if request.param == "milvus-lite":
        return f"milvus://{tmp_path / 'passages.db'}"
    return request.getfixturevalue("milvus_server")


def filled(spec: str, embedder: FakeEmbedder) -> object:
    store = new_store(spec, embedder.dim)
    fields = [PassageFields(a, 1, 0, len(t), d, s, t) for a, d, s, t in TEXTS]
    store.add(np.arange(10, 14), embedder.embed_passages([t for *_, t in TEXTS]), fields)
    return store


def ids(ranking: list[tuple[int, float]]) -> list[int]:
    return [pid for pid, _ in ranking]


def test_dense_search_count_and_vectors(spec: str, fake_embedder: FakeEmbedder) -> None:
    store = filled(spec, fake_embedder)
    assert store.count() == 4
    query = fake_embedder.embed_queries(["天津医疗队党员"])[0]
    found = store.search(query, 2)
    assert found[0][0] == 12 and len(found) == 2
    expected = float(fake_embedder.embed_passages([TEXTS[2][3]])[0] @ query)
    assert found[0][1] == pytest.approx(expected, abs=1e-5)
    stored = store.vectors_of(np.asarray([13, 10]))
    np.testing.assert_allclose(stored[1], fake_embedder.embed_passages([TEXTS[0][3]])[0], atol=1e-6)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Where(articles=frozenset({"b.txt", "c.txt"})), {12, 13}),
        (Where(source="新华社"), {10, 11}),
        (Where(since="2020-03"), {12}),
        (Where(until="2020-02"), {10, 11}),  # 2020-02-05 lies within until 2020-02; undated c.txt never
        (Where(since="2020", until="2020-03-01", source="人民日报"), {12}),
        (Where(articles=frozenset({"c.txt"}), since="2019"), set()),
    ],
)
def test_filters_run_in_the_store(
    spec: str, fake_embedder: FakeEmbedder, where: Where, expected: set
) -> None:
    store = filled(spec, fake_embedder)
    query = fake_embedder.embed_queries(["医院"])[0]
    assert set(ids(store.search(query, 10, where))) == expected
    lexical = store.search_bm25(["党员", "医院", "五花肉"], 10, where=where)
    assert set(ids(lexical)) <= expected and all(score > 0 for _, score in lexical)


def test_bm25_ranks_by_terms_and_weights(spec: str, fake_embedder: FakeEmbedder) -> None:
    store = filled(spec, fake_embedder)
    assert ids(store.search_bm25(tokenize("红烧肉怎么做"), 5))[0] == 13
    assert ids(store.search_bm25(tokenize("火神山医院"), 5))[0] == 10
    assert store.search_bm25(["不存在的词语"], 5) == []
    # A carried-over term weighs less than the question's own.
    ranked = store.search_bm25(["党员", "红烧肉"], 5, weights={"党员": 0.1})
    assert ranked[0][0] == 13
    assert store.idf("红烧肉") > store.idf("党员") > 0


def test_idf_agrees_with_our_bm25(spec: str, fake_embedder: FakeEmbedder) -> None:
    ours = filled("faiss", fake_embedder)
    store = filled(spec, fake_embedder)
    for term in ("党员", "医院", "红烧肉", "没有的词"):
        assert store.idf(term) == pytest.approx(ours.idf(term))


def test_deleted_passages_stop_being_found(spec: str, fake_embedder: FakeEmbedder) -> None:
    store = filled(spec, fake_embedder)
    store.delete(np.asarray([12, 99]))
    store.finish()
    query = fake_embedder.embed_queries(["天津医疗队党员"])[0]
    assert 12 not in ids(store.search(query, 10)) and 12 not in ids(store.search_bm25(["天津"], 10))
    assert store.count() == 3 and store.search_bm25(["天津"], 10) == []


def test_the_assistant_answers_the_same_through_every_store(
    spec: str, settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(settings, store=spec)
    for name, text in (("a.txt", TEXTS[0][3] + TEXTS[1][3]), ("b.txt", TEXTS[2][3]), ("c.txt", TEXTS[3][3])):
        write_article(settings.corpus_dir, name, "　　" + text)
    update_index(settings, fake_embedder)
    index = load_index(settings.index_dir)
    retriever = Retriever(index, fake_embedder)
    assert retriever.search("七十四名党员", k=1)[0].passage.article_id == "b.txt"
    assert {h.passage.article_id for h in retriever.search("党员", where=Filter(article="a"))} == {"a.txt"}
    before = {p.article_id: p.id for p in index.passages}

    cls = FaissStore if spec == "faiss" else MilvusStore
    sent: dict[str, list[int]] = {"add": [], "delete": []}
    add, delete = cls.add, cls.delete
    monkeypatch.setattr(cls, "add", lambda s, i, v, f: (sent["add"].extend(i.tolist()), add(s, i, v, f))[1])
    monkeypatch.setattr(cls, "delete", lambda s, i: (sent["delete"].extend(i.tolist()), delete(s, i))[1])
    write_article(settings.corpus_dir, "b.txt", "　　天津市组建医疗队增援武汉，九十名党员进入首批医疗队。")
    update_index(settings, fake_embedder)
    index = load_index(settings.index_dir)
    after = {p.article_id: p.id for p in index.passages}
    assert sent == {"add": [after["b.txt"]], "delete": [before["b.txt"]]}
    assert after["a.txt"] == before["a.txt"] and after["c.txt"] == before["c.txt"]
    hit = Retriever(index, fake_embedder).search("九十名党员", k=1)[0]
    assert hit.passage.article_id == "b.txt" and "九十名" in hit.passage.text


def test_a_filter_becomes_a_milvus_expression() -> None:
    where = Where(frozenset({'a"b.txt'}), "新华社", "2020", "2020-02")
    assert where_expression(where) == (
        'article_id in ["a\\"b.txt"] and source == "新华社" and date != "" '
        'and date >= "2020" and date <= "2020-02~"'
    )
    assert where_expression(None) == ""


def lite_collections(spec: str) -> list[str]:
    from pymilvus import MilvusClient

    return sorted(MilvusClient(spec.removeprefix("milvus://")).list_collections())


def lite_index(settings: Settings, embedder: FakeEmbedder, tmp_path: Path) -> tuple[Settings, str]:
    """An index of one article in a Milvus Lite file, and its collection's name."""
    settings = replace(settings, store=f"milvus://{tmp_path / 'passages.db'}")
    write_article(settings.corpus_dir, "a.txt", "　　" + TEXTS[0][3])
    update_index(settings, embedder)
    return settings, load_index(settings.index_dir).store.describe()["collection"]


def test_a_full_rebuild_leaves_only_its_own_collection(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    settings, first = lite_index(settings, fake_embedder, tmp_path)
    other = replace(settings, index_dir=tmp_path / "other-index")  # another index, same Lite file
    update_index(other, fake_embedder)
    theirs = load_index(other.index_dir).store.describe()["collection"]
    write_article(settings.corpus_dir, "b.txt", "　　" + TEXTS[2][3])
    update_index(settings, fake_embedder, full=True)
    index = load_index(settings.index_dir)
    ours = index.store.describe()["collection"]
    assert ours != first and lite_collections(settings.store) == sorted([ours, theirs])
    assert index.store.count() == len(index.passages) == 2
    assert Retriever(index, fake_embedder).search("七十四名党员", k=1)[0].passage.article_id == "b.txt"


def test_a_collection_an_interrupted_rebuild_left_is_dropped_by_the_next_update(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.indexing

    settings, live = lite_index(settings, fake_embedder, tmp_path)

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(assistant.indexing, "save_index", crash)
        with pytest.raises(KeyboardInterrupt):
            update_index(settings, fake_embedder, full=True)
    assert len(lite_collections(settings.store)) == 2  # the live one and the interrupted one
    assert load_index(settings.index_dir).store.describe()["collection"] == live
    write_article(settings.corpus_dir, "b.txt", "　　" + TEXTS[2][3])
    update_index(settings, fake_embedder)
    assert lite_collections(settings.store) == [live]


def test_a_rebuild_into_another_store_names_the_collection_it_leaves(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    lite, collection = lite_index(settings, fake_embedder, tmp_path)
    report = update_index(settings, fake_embedder, full=True)
    assert any(collection in w and "no longer used" in w for w in report.warnings)
    assert lite_collections(lite.store) == [collection]  # another engine's: named, never dropped
    assert update_index(settings, fake_embedder, full=True).warnings == []  # named once


IN_A_NEW_PROCESS = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from assistant.config import Settings
from assistant.errors import IndexCorrupt, IndexMismatch, StoreUnavailable
from assistant.indexing import update_index
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import FakeEmbedder

settings = Settings(corpus_dir=Path({corpus!r}), index_dir=Path({index!r}), store={store!r})
if sys.argv[1] == "build":
    update_index(settings, FakeEmbedder())
else:
    print(Retriever(load_index(settings.index_dir), FakeEmbedder()).search("七十四名党员", k=1)[0].passage.article_id)
"""


def test_a_lite_index_built_by_one_process_answers_in_the_next(settings: Settings, tmp_path: Path) -> None:
    """A process that opens a Lite file finds its collection released, and must load it."""
    write_article(settings.corpus_dir, "a.txt", "　　" + TEXTS[0][3])
    write_article(settings.corpus_dir, "b.txt", "　　" + TEXTS[2][3])
    script = IN_A_NEW_PROCESS.format(
        root=str(Path(__file__).resolve().parents[1]),
        corpus=str(settings.corpus_dir),
        index=str(settings.index_dir),
        store=f"milvus://{tmp_path / 'passages.db'}",
    )
    for step in ("build", "ask"):
        done = subprocess.run(
            [sys.executable, "-c", script, step], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "b.txt"


def test_a_milvus_server_that_does_not_answer_is_a_message(tmp_path: Path, fake_model: None) -> None:
    (tmp_path / "corpus").mkdir()
    write_article(tmp_path / "corpus", "a.txt", "　　" + TEXTS[0][3])
    nobody = f"http://127.0.0.1:{free_port()}"
    paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"), "--store", nobody]
    result = CliRunner().invoke(main, ["index", "build", *paths])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"Error: the Milvus server at {nobody} did not answer as expected" in result.output
    assert "ASSISTANT_MILVUS_TOKEN" in result.output
    cache = tmp_path / "index" / ".cache"
    assert not [p for p in cache.rglob("*") if p.is_file()], "it failed before embedding, not after"


def test_a_login_token_reaches_the_server_and_is_written_nowhere(
    settings: Settings, milvus_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "root:s3cret-never-on-disk"
    monkeypatch.setenv("ASSISTANT_MILVUS_TOKEN", secret)
    write_article(settings.corpus_dir, "b.txt", "　　" + TEXTS[2][3])
    settings = replace(settings, store=milvus_server)
    update_index(settings, FakeEmbedder())
    index = load_index(settings.index_dir)
    assert Retriever(index, FakeEmbedder()).search("七十四名党员", k=1)[0].passage.article_id == "b.txt"
    written = [p for p in settings.index_dir.rglob("*") if p.is_file()]
    assert written and not [p for p in written if secret.encode() in p.read_bytes()]


@pytest.fixture
def engine_logs() -> None:
    """The engine's loggers as a process that has made no Milvus client yet has them."""
    for name in ("pymilvus", *NOISY_LOGGERS):
        logging.getLogger(name).setLevel(logging.WARNING)


@pytest.mark.usefixtures("engine_logs")
def test_the_engine_logs_no_traceback(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Milvus Lite's gRPC server logs one for every call it does not implement (creating a
    collection's indexes), and pymilvus one for every failed call: the user gets our message."""
    settings, _ = lite_index(settings, fake_embedder, tmp_path)
    with pytest.raises(StoreUnavailable):
        load_index(settings.index_dir).store.client.get("no_such_collection", ids=[0])
    logged = [r for r in caplog.records if r.name.startswith(("grpc", "pymilvus"))]
    assert not [r for r in logged if r.exc_info or "Traceback" in r.getMessage()], logged


def outside_the_index(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.relative_to(root).parts[0] != "index")


def foreign_folder(db: Path) -> None:
    db.mkdir()
    (db / "notes.txt").write_text("mine", encoding="utf-8")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing" / "passages.db", "the folder it is in does not exist"),
        (lambda tmp: Path("/proc/passages.db"), "it cannot be created"),  # unwritable even by root
        (
            lambda tmp: (tmp / "passages.db", (tmp / "passages.db").write_text("x", encoding="utf-8"))[0],
            "is a file, not a Milvus Lite database",
        ),
        (lambda tmp: (tmp / "passages.db", foreign_folder(tmp / "passages.db"))[0], "not a Milvus Lite"),
    ],
    ids=["no-folder", "unwritable", "a-file", "a-foreign-folder"],
)
def test_a_lite_path_that_cannot_be_a_database_is_refused_before_embedding(
    tmp_path: Path, fake_model: None, make: Callable[[Path], Path], message: str
) -> None:
    (tmp_path / "corpus").mkdir()
    write_article(tmp_path / "corpus", "a.txt", "　　" + TEXTS[0][3])
    db = make(tmp_path)
    before = outside_the_index(tmp_path)
    paths = [
        "--corpus",
        str(tmp_path / "corpus"),
        "--index",
        str(tmp_path / "index"),
        "--store",
        f"milvus://{db}",
    ]
    result = CliRunner().invoke(main, ["index", "build", *paths])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert (
        "Error: the Milvus Lite file passages.db cannot be used" in result.output and message in result.output
    )
    cache = tmp_path / "index" / ".cache"
    assert not [p for p in cache.rglob("*") if p.is_file()], "it failed before embedding, not after"
    assert outside_the_index(tmp_path) == before, "nothing written into what was there"


def test_a_lite_collection_that_lost_its_passages_is_damage_the_next_update_repairs(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    """The .db removed, replaced by an older copy or its collection dropped, while the index
    folder is whole: asking says so, and an update rebuilds instead of keeping a store that
    answers nothing."""
    settings, collection = lite_index(settings, fake_embedder, tmp_path)
    load_index(settings.index_dir).store.client.drop_collection(collection)
    with pytest.raises(IndexCorrupt, match="holds 0 of the index's 1 passages"):
        load_index(settings.index_dir)
    report = update_index(settings, fake_embedder)
    assert any("rebuilding it from the corpus" in w for w in report.warnings)
    index = load_index(settings.index_dir)
    assert Retriever(index, fake_embedder).search("火神山医院", k=1)[0].passage.article_id == "a.txt"


def test_a_lite_file_another_process_holds_says_so(tmp_path: Path, fake_model: None) -> None:
    """``assistant serve`` holds its Lite file; an ``index update`` from another terminal is told
    why it cannot open it, not "Open local milvus failed"."""
    import fcntl

    (tmp_path / "corpus").mkdir()
    write_article(tmp_path / "corpus", "a.txt", "　　" + TEXTS[0][3])
    db = tmp_path / "held.db"  # never opened in this process: Lite reuses an engine it opened
    (db / "collections").mkdir(parents=True)
    with open(db / "LOCK", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the other process's Lite holds it
        paths = ["--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index")]
        result = CliRunner().invoke(main, ["index", "update", *paths, "--store", f"milvus://{db}"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "held.db cannot be used: another process has it open" in result.output
    assert "assistant serve" in result.output


def test_a_damaged_lite_file_is_a_damaged_index_the_next_update_repairs(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    from milvus_lite.server_manager import server_manager_instance

    settings, _ = lite_index(settings, fake_embedder, tmp_path)
    db = tmp_path / "passages.db"
    server_manager_instance.release_server(str(db))  # as a new process would open it
    for data in db.rglob("*.parquet"):
        data.write_bytes(data.read_bytes()[:100])
    with pytest.raises(IndexCorrupt) as raised:
        load_index(settings.index_dir)
    assert "passages.db" in str(raised.value) and "index build --full" in str(raised.value)
    assert str(tmp_path) not in str(raised.value)  # the chat shows no server paths
    report = update_index(settings, fake_embedder)
    assert any("rebuilding it from the corpus" in w for w in report.warnings)
    index = load_index(settings.index_dir)
    assert Retriever(index, fake_embedder).search("火神山医院", k=1)[0].passage.article_id == "a.txt"


@pytest.mark.parametrize("other", ["faiss", "another.db"])
def test_an_update_with_another_store_selected_is_refused(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path, other: str
) -> None:
    """A forgotten --store (or ASSISTANT_STORE not set in a new terminal) re-embedded the whole
    corpus into the other store and switched the index to it; only --full switches stores."""
    settings, collection = lite_index(settings, fake_embedder, tmp_path)
    live = (settings.index_dir / "CURRENT").read_text(encoding="utf-8")
    spec = other if other == "faiss" else f"milvus://{tmp_path / other}"
    write_article(settings.corpus_dir, "b.txt", "　　" + TEXTS[2][3])
    with pytest.raises(
        IndexMismatch, match=f"select its store with --store / ASSISTANT_STORE={settings.store}"
    ):
        update_index(replace(settings, store=spec), fake_embedder)
    assert (settings.index_dir / "CURRENT").read_text(encoding="utf-8") == live
    assert load_index(settings.index_dir).store.describe()["collection"] == collection
    update_index(replace(settings, store=spec), fake_embedder, full=True)  # as the message says
    assert load_index(settings.index_dir).store.describe().get("spec", "faiss") == spec


@pytest.mark.usefixtures("engine_logs")
def test_a_server_that_goes_away_logs_no_traceback(
    settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """pymilvus logs its failed reconnection, traceback and all, through its own handler on
    stderr: a server stopped while ``assistant serve`` runs filled its terminal with them."""
    from milvus_lite.adapter.grpc.server import start_server_in_thread

    server, db, port = start_server_in_thread(str(tmp_path / "server.db"), port=0)
    write_article(settings.corpus_dir, "b.txt", "　　" + TEXTS[2][3])
    settings = replace(settings, store=f"http://127.0.0.1:{port}")
    update_index(settings, fake_embedder)
    retriever = Retriever(load_index(settings.index_dir), fake_embedder)
    server.stop(grace=0)
    db.close()
    capfd.readouterr()
    with pytest.raises(StoreUnavailable, match="did not answer as expected"):
        retriever.search("七十四名党员", k=1)
    assert "Traceback" not in capfd.readouterr().err
