from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.corpus import (
    add_file,
    add_text,
    article_paths,
    decode_bytes,
    read_article,
    remove_article,
    restore_article,
)
from assistant.errors import CorpusError
from tests.conftest import write_article

SIMPLIFIED = "火神山医院是中建三局负责建设的。\n　　一千余名建设者日夜奋战，十天建成医院。"
TRADITIONAL = "火神山醫院是中建三局負責建設的。\n　　一千餘名建設者日夜奮戰，十天建成醫院。"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (SIMPLIFIED, "utf-8"),
        (SIMPLIFIED, "utf-8-sig"),
        (SIMPLIFIED, "gb18030"),
        (SIMPLIFIED, "gbk"),
        (TRADITIONAL, "big5"),
        (SIMPLIFIED, "utf-16"),
    ],
)
def test_encodings_are_detected_and_decoded(tmp_path: Path, text: str, encoding: str) -> None:
    path = write_article(tmp_path, "a.txt", text, encoding)
    article = read_article(path, tmp_path)
    assert article.text == text
    assert article.id == "a.txt"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n\n ", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "PNG image"),
        (bytes(range(256)) * 8, "binary"),
    ],
)
def test_unreadable_files_get_a_clear_error(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=message):
        read_article(path, tmp_path)


def test_oversized_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    path = write_article(tmp_path, "big.txt", "很长的文章。" * 1000)
    with pytest.raises(CorpusError, match="over the 0 MB limit"):
        read_article(path, tmp_path, max_bytes=1000)


def test_front_matter_gives_title_date_source_and_keeps_offsets(tmp_path: Path) -> None:
    text = "---\ntitle: 火神山医院建成\ndate: 2020-02-02\nsource: 新华社\n---\n　　正文第一句。"
    article = read_article(write_article(tmp_path, "x.md", text), tmp_path)
    assert (article.title, article.date, article.source) == ("火神山医院建成", "2020-02-02", "新华社")
    assert article.text == text
    assert article.text[article.body_start :].startswith("　　正文")


def test_title_falls_back_to_short_first_line_then_file_name(tmp_path: Path) -> None:
    headed = read_article(write_article(tmp_path, "h.txt", "　　武汉加油\n　　全国驰援武汉。"), tmp_path)
    assert headed.title == "武汉加油"
    plain = read_article(write_article(tmp_path, "新闻 稿.txt", "　　全国各地驰援武汉。"), tmp_path)
    assert plain.title == "新闻 稿"


def test_decode_prefers_utf8_when_valid() -> None:
    assert decode_bytes("新闻".encode()) == ("新闻", "utf-8")


def test_article_paths_skip_hidden_and_other_files(tmp_path: Path) -> None:
    write_article(tmp_path, "good.txt", SIMPLIFIED)
    (tmp_path / "sub").mkdir()
    write_article(tmp_path, "sub/note.md", SIMPLIFIED)
    (tmp_path / "notes.xml").write_text("<a/>", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text(SIMPLIFIED, encoding="utf-8")
    assert [p.relative_to(tmp_path).as_posix() for p in article_paths(tmp_path)] == [
        "good.txt",
        "sub/note.md",
    ]


def test_uploads_are_checked_named_safely_and_never_overwrite(tmp_path: Path) -> None:
    first = add_file(tmp_path, "../../新闻 稿", SIMPLIFIED.encode("gbk"))
    second = add_file(tmp_path, "新闻 稿.txt", SIMPLIFIED.encode("utf-8"))
    assert (first.name, second.name) == ("新闻 稿.txt", "新闻 稿-2.txt")
    assert first.read_bytes() == SIMPLIFIED.encode("gbk") and first.parent == tmp_path
    with pytest.raises(CorpusError, match="PNG image"):
        add_file(tmp_path, "photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["新闻 稿-2.txt", "新闻 稿.txt"]


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        (
            "稿.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "这是一篇文章".encode("utf-16-le") * 100,
            "old Office file",
        ),
        (
            "稿.rtf",
            rb"{\rtf1\ansi\ansicpg936 \'d5\'e2\'ca\'c7\'d2\'bb\'c6\'aa\'ce\'c4\'d5\'c2\par}",
            "RTF document",
        ),
    ],
)
def test_a_word_file_in_an_older_format_is_refused_saying_to_save_it_as_docx(
    tmp_path: Path, name: str, data: bytes, kind: str
) -> None:
    with pytest.raises(CorpusError, match=rf"this is an? {kind} \(.*save it as .docx\), not a text article"):
        add_file(tmp_path, name, data)
    assert list(tmp_path.iterdir()) == []


def test_an_upload_with_a_long_chinese_name_is_saved_under_a_shortened_name(tmp_path: Path) -> None:
    # 100 Chinese characters are 300 bytes: over the 255 a file system allows in one name.
    name = "青岛港开通至非洲东海岸的集装箱直达航线" * 5 + ".docx.txt"
    first = add_file(tmp_path, name, SIMPLIFIED.encode("utf-8"))
    second = add_file(tmp_path, name, SIMPLIFIED.encode("utf-8"))
    assert first.suffix == second.suffix == ".txt" and second.stem == f"{first.stem}-2"
    assert name.startswith(first.stem) and len(second.name.encode("utf-8")) <= 255
    assert read_article(first, tmp_path).text == SIMPLIFIED


def test_uploads_of_one_name_at_the_same_moment_all_keep_their_files(tmp_path: Path) -> None:
    uploads = [f"　　第{n}篇稿件。{'内容' * 50000}\n".encode() for n in range(16)]
    for trial in range(10):
        folder = tmp_path / str(trial)
        start = threading.Barrier(len(uploads))

        def save(data: bytes, folder: Path = folder, start: threading.Barrier = start) -> Path:
            start.wait()
            return add_file(folder, "稿.txt", data)

        with ThreadPoolExecutor(len(uploads)) as pool:
            saved = list(pool.map(save, uploads))
        assert sorted(p.read_bytes() for p in saved) == sorted(uploads)


def test_an_article_deleted_meanwhile_by_another_request_is_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = add_text(tmp_path, "驰援武汉", "　　天津市组建医疗队增援武汉。")
    rename = Path.rename

    def deleted_first(self: Path, target: Path) -> Path:
        rename(self, tmp_path / "elsewhere.txt")  # the other request's delete won the race
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", deleted_first)
    with pytest.raises(CorpusError, match=f"^{path.name}: no such article in ") as raised:
        remove_article(tmp_path, path.name)
    assert raised.value.__cause__ is None  # the API's 404, not a failed write's 500


@pytest.mark.parametrize("name", ["a\x00b.txt", "长" * 200 + ".txt", "../outside.txt", "e.jsonl#\x00"])
def test_a_name_no_article_can_have_is_not_found(tmp_path: Path, name: str) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "outside.txt").write_text("　　正文。", encoding="utf-8")
    with pytest.raises(CorpusError, match="no such article in "):
        remove_article(tmp_path / "corpus", name)
    with pytest.raises(CorpusError, match="no such article in the trash"):
        restore_article(tmp_path / "corpus", name)


def test_pasted_text_gets_front_matter_and_removal_goes_to_trash(tmp_path: Path) -> None:
    path = add_text(tmp_path, "驰援 武汉", "　　天津市组建医疗队增援武汉。")
    assert read_article(path, tmp_path).title == "驰援 武汉"
    with pytest.raises(CorpusError, match="title and a body"):
        add_text(tmp_path, "", "正文")
    moved = remove_article(tmp_path, path.name)
    assert moved.parent.name == ".trash" and not path.exists()
    assert article_paths(tmp_path) == []
    with pytest.raises(CorpusError, match="no such article"):
        remove_article(tmp_path, "../outside.txt")


@pytest.mark.parametrize(
    ("body", "reason"),
    [("\x00\x00", "no body text"), ("。。。！", "no body text"), ("\x07" * 50 + "正文", "binary data")],
)
def test_a_pasted_text_the_index_would_skip_is_refused_unsaved(
    tmp_path: Path, body: str, reason: str
) -> None:
    # Saved, it was skipped by every update: a file in the corpus that nobody sees in the Corpus tab.
    with pytest.raises(CorpusError, match=reason):
        add_text(tmp_path, "标题", body)
    assert list(tmp_path.iterdir()) == []


def test_a_few_nuls_and_terminal_escapes_are_removed_with_a_warning(tmp_path: Path) -> None:
    data = "标题\n　　火神山\x00医院\x1b[31m十天\x1b[0m建成。\n".encode()
    article = read_article(write_article_bytes(tmp_path, "x.txt", data), tmp_path)
    assert article.text == "标题\n　　火神山医院十天建成。\n"
    assert article.warnings == ("x.txt: removed 1 NUL characters and 2 terminal escape sequences",)


def test_mixed_utf8_and_gbk_lines_are_each_decoded_with_a_warning(tmp_path: Path) -> None:
    data = "武汉加油\n　　火神山医院十天建成。\n".encode() + "　　天津市组建医疗队增援武汉。\n".encode("gbk")
    article = read_article(write_article_bytes(tmp_path, "m.txt", data), tmp_path)
    assert article.text == "武汉加油\n　　火神山医院十天建成。\n　　天津市组建医疗队增援武汉。\n"
    assert article.title == "武汉加油"
    assert (
        len(article.warnings) == 1 and "mixed encodings, 1 of 4 lines read as gb18030" in article.warnings[0]
    )


@pytest.mark.parametrize("lines", [1, 3], ids=["one-line", "three-lines"])
def test_utf8_with_a_few_bad_bytes_is_read_as_utf8_with_a_warning(tmp_path: Path, lines: int) -> None:
    # A character cut by a bad copy, then two stray bytes: the rest of the line is still UTF-8, not GBK.
    body = "　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。" * 3
    good = ("标题\n" * (lines - 1) + body).encode()
    cut = len(("标题\n" * (lines - 1) + "　　天津市").encode()) + 1  # inside 组
    data = good[:cut] + b"\xff\xfe" + good[cut + 2 :]
    article = read_article(write_article_bytes(tmp_path, "d.txt", data), tmp_path)
    assert article.text == "标题\n" * (lines - 1) + "　　天津市\ufffd\ufffd\ufffd" + body[6:]
    assert article.encoding == "utf-8" and article.warnings == ("d.txt: 3 undecodable bytes shown as \ufffd",)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        bytes(range(256)) * 8,
        bytes((i * 7919 + 13) % 251 for i in range(5000)),
        "标题\n".encode() + bytes((i * 7919 + 13) % 251 for i in range(5000)),
    ],
    ids=["png", "all-bytes", "pseudo-random", "utf8-line-then-random"],
)
def test_real_binaries_are_still_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(CorpusError, match="PNG|binary"):
        read_article(write_article_bytes(tmp_path, "b.txt", data), tmp_path)


def test_unterminated_front_matter_never_gives_the_title_dashes(tmp_path: Path) -> None:
    article = read_article(write_article(tmp_path, "u.txt", "---\n\n　　火神山医院十天建成。"), tmp_path)
    assert article.title == "u" and article.body_start == 0
    ruled = read_article(write_article(tmp_path, "r.txt", "---\n火神山医院\n　　十天建成。"), tmp_path)
    assert ruled.title == "火神山医院"


def test_an_article_with_only_front_matter_is_refused_as_no_body(tmp_path: Path) -> None:
    path = write_article(tmp_path, "e.md", "---\ntitle: 空稿\ndate: 2020-02-02\n---\n\n")
    with pytest.raises(CorpusError, match="e.md: no body text"):
        read_article(path, tmp_path)


def write_article_bytes(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# Real People's Daily text (January 1998) for which charset-normalizer finds no encoding in GBK.
UNGUESSED_GBK = (
    "１∶３失利。两人各自的冠军称号都是在１９９６年获得的。这也是刘国梁在擂台赛中连续第二场失利，"
    "上一场他以２∶３输给上海小将郭瑾浩。\n刘国梁赛后表示，近两个月他南征北战，连续参加比赛，身体有些疲劳，"
    "加上没有系统训练，技术上没有新的东西，因此他对输球有心理准备。刘国梁准备在下一阶段的冬训中，"
    "与教练好好配合，把特长技术练得更精，同时尽力弥补薄弱环节。\n３日的女单比赛也是全国冠军击败“世界冠军”，"
    "近期状态不错的削"
)


def test_gbk_text_charset_normalizer_cannot_place_is_read_as_gb18030() -> None:
    from charset_normalizer import from_bytes

    data = UNGUESSED_GBK.encode("gbk")
    assert from_bytes(data, cp_isolation=["gb18030", "big5"]).best() is None  # the case this guards
    assert decode_bytes(data) == (UNGUESSED_GBK, "gb18030")


def test_control_characters_in_a_title_are_dropped_and_the_text_kept(tmp_path: Path) -> None:
    text = "---\ntitle: 港珠澳\x07大桥\x08\nsource: 新华\x01社\n---\n" + "正文。" * 100
    (tmp_path / "a.md").write_bytes(text.encode("utf-8"))
    (tmp_path / "b.txt").write_bytes("港珠澳\x07大桥\n正文。\n".encode())
    front, first_line = read_article(tmp_path / "a.md"), read_article(tmp_path / "b.txt")
    assert (front.title, front.source, front.text) == ("港珠澳 大桥", "新华 社", text)
    assert first_line.title == "港珠澳 大桥" and first_line.text == "港珠澳\x07大桥\n正文。\n"


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_a_web_page_saved_as_txt_is_refused_saying_to_name_it_html(tmp_path: Path, encoding: str) -> None:
    # A browser's "save page" or wget output named .txt: indexed as text, its tags, scripts and
    # styles would be passages and quotes.
    from tests.test_html import news_page

    (tmp_path / "网页.txt").write_bytes(b"\r\n" + news_page(charset=encoding).encode(encoding))
    with pytest.raises(
        CorpusError, match=r"^网页.txt: this is a web page \(HTML\), not a text article; rename it"
    ):
        read_article(tmp_path / "网页.txt", tmp_path)
    write_article(tmp_path, "note.md", "<b>重要</b>：城南水厂二期工程正式通水。")  # Markdown may hold tags
    assert read_article(tmp_path / "note.md", tmp_path).text.startswith("<b>重要</b>")


def test_a_paste_cut_short_leaves_no_article_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server is stopped (Ctrl-C, a kill) half-way through writing a pasted article: the
    # half written must not be left under the article's name, to be indexed as if whole.
    write = Path.write_bytes

    def cut_short(self: Path, data: bytes) -> int:
        write(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", cut_short)
    with pytest.raises(KeyboardInterrupt):
        add_text(tmp_path, "驰援武汉", "　　天津市组建医疗队增援武汉。" * 20)
    monkeypatch.setattr(Path, "write_bytes", write)
    assert list(tmp_path.iterdir()) == []
    path = add_text(tmp_path, "驰援武汉", "　　天津市组建医疗队增援武汉。")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
