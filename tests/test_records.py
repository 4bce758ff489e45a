"""JSONL and CSV exports: one article per record, streamed, each with its own id and hash."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.corpus.records import iso_date, parse_fields, read_records
from assistant.errors import CorpusError
from assistant.indexing import update_index
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import FakeEmbedder
from tests.documents import PAGE_1, write_pdf

RECORDS = [
    {
        "id": "a1",
        "title": "港珠澳大桥通车",
        "date": "2018/10/24 09:00",
        "source": "新华社",
        "body": "港珠澳大桥今天正式通车运营。大桥全长五十五公里，是世界最长的跨海大桥。",
    },
    {
        "id": "a2",
        "title": "嫦娥四号着陆",
        "date": "2019-01-03",
        "source": "人民日报",
        "body": "嫦娥四号探测器成功着陆在月球背面。这是人类探测器首次在月背实现软着陆。",
    },
    {
        "id": "a3",
        "title": "北斗组网完成",
        "date": "2020年6月23日",
        "source": "央视新闻",
        "body": "北斗三号最后一颗全球组网卫星发射成功。北斗系统由五十五颗卫星组成。",
    },
]


def _write_jsonl(path: Path, records: list[dict[str, str]], broken_line: int | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    if broken_line is not None:
        lines.insert(broken_line - 1, '{"id": "x", "body": "没有结束的引号}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_with_a_malformed_line_imports_the_rest(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    _write_jsonl(settings.corpus_dir / "export.jsonl", RECORDS, broken_line=2)
    report = update_index(settings, fake_embedder)
    assert report.added == ["export.jsonl#a1", "export.jsonl#a2", "export.jsonl#a3"]
    assert len(report.skipped) == 1 and report.skipped[0].startswith("export.jsonl: line 2 is not valid JSON")
    index = load_index(settings.index_dir)
    meta = index.articles["export.jsonl#a1"]
    assert (meta.title, meta.date, meta.source, meta.record) == (
        "港珠澳大桥通车",
        "2018-10-24",
        "新华社",
        "a1",
    )
    answer = Answerer(Retriever(index, fake_embedder)).ask("嫦娥四号探测器着陆在哪里？")
    first = answer.quotes[0]
    assert first.article_id == "export.jsonl#a2" and "月球背面" in first.quote
    assert RECORDS[1]["body"][first.start : first.end] == first.quote
    assert first.citation.startswith("《嫦娥四号着陆》，人民日报，2019-01-03，export.jsonl#a2，第1段：“")


def test_gbk_csv_is_read_with_its_encoding_and_mapped_columns(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    path = settings.corpus_dir / "导出.csv"
    with path.open("w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["标题", "发布时间", "来源", "正文内容"])
        for r in RECORDS:
            writer.writerow([r["title"], r["date"], r["source"], r["body"]])
    assert "北斗".encode("gbk") in path.read_bytes()
    report = update_index(settings, fake_embedder)
    assert report.added == [] and report.skipped[0].startswith("导出.csv: no body field in record 1")
    mapped = replace(settings, record_fields="body=正文内容")
    report = update_index(mapped, fake_embedder)
    assert report.added == ["导出.csv#1", "导出.csv#2", "导出.csv#3"] and not report.skipped
    index = load_index(settings.index_dir)
    assert index.articles["导出.csv#3"].date == "2020-06-23"
    quote = Answerer(Retriever(index, fake_embedder)).ask("北斗系统由多少颗卫星组成？").quotes[0]
    assert quote.article_id == "导出.csv#3" and "北斗系统由五十五颗卫星组成。" in quote.quote


def test_changing_one_record_re_embeds_only_that_record(settings: Settings) -> None:
    path = _write_jsonl(settings.corpus_dir / "export.jsonl", RECORDS)
    update_index(settings, FakeEmbedder())
    changed = [dict(r) for r in RECORDS]
    changed[1]["body"] = "嫦娥四号探测器成功着陆在月球背面的冯卡门撞击坑。"
    _write_jsonl(path, changed)
    embedder = FakeEmbedder()
    report = update_index(settings, embedder)
    assert report.changed == ["export.jsonl#a2"]
    assert report.unchanged == ["export.jsonl#a1", "export.jsonl#a3"]
    assert embedder.embedded and all("冯卡门" in text for text in embedder.embedded)


def test_records_are_streamed_not_loaded_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for n in range(5000):
            handle.write(json.dumps({"body": f"第{n}条新闻。"}, ensure_ascii=False) + "\n")
    records = read_records(path, tmp_path, "", [], 2**20)
    first = next(records)  # a generator: one record made at a time
    assert first.id == "big.jsonl#1" and first.text == "第0条新闻。"
    assert sum(1 for _ in records) == 4999


def test_repeated_ids_and_empty_bodies_are_skipped_by_record(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "e.jsonl", [RECORDS[0], RECORDS[0], {"id": "z", "body": "  "}, 5])  # type: ignore[list-item]
    skipped: list[str] = []
    assert [a.id for a in read_records(tmp_path / "e.jsonl", tmp_path, "", skipped, 2**20)] == ["e.jsonl#a1"]
    assert skipped == [
        "e.jsonl#a1: record 2 repeats the id 'a1' of an earlier record",
        "e.jsonl#z: record 3 has no body text",
        "e.jsonl: line 4 is not a JSON object; skipped",
    ]


def test_a_bad_field_mapping_says_how_to_write_one() -> None:
    with pytest.raises(CorpusError, match="write field=column"):
        parse_fields("正文")
    assert parse_fields("body=正文内容")["body"][0] == "正文内容"


def test_dates_are_normalised_or_dropped() -> None:
    assert iso_date("2018/10/24 09:00") == "2018-10-24"
    assert iso_date("2020年6月3日") == "2020-06-03"
    assert iso_date("2020-13-45") is None and iso_date("昨天") is None


def test_a_gbk_csv_charset_normalizer_cannot_place_is_read(tmp_path: Path) -> None:
    from tests.test_corpus import UNGUESSED_GBK

    (tmp_path / "r.csv").write_bytes(f'id,body\n1,"{UNGUESSED_GBK}"\n'.encode("gbk"))
    [article] = read_records(tmp_path / "r.csv", tmp_path, "", [], 2**20)
    assert article.text == UNGUESSED_GBK


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_a_utf16_or_bom_jsonl_with_crlf_lines_is_read(tmp_path: Path, encoding: str) -> None:
    # PowerShell's Out-File writes UTF-16 with a BOM, other Windows tools without one.
    lines = [json.dumps(r, ensure_ascii=False) for r in RECORDS] + [""]
    (tmp_path / "export.jsonl").write_bytes("\r\n".join(lines).encode(encoding))
    skipped: list[str] = []
    articles = list(read_records(tmp_path / "export.jsonl", tmp_path, "", skipped, 2**20))
    assert [a.text for a in articles] == [r["body"] for r in RECORDS] and skipped == []


def test_control_characters_in_a_record_become_line_breaks_or_spaces(tmp_path: Path) -> None:
    # A CMS's JSON export: Windows line ends, JavaScript's line separator, Word's soft break, a NUL.
    body = "港珠澳大桥正式通车。\r\n大桥全长55公里。\u2028桥隧结合，\v世界最长。\x00跨海\x1b大桥。"
    (tmp_path / "e.jsonl").write_text(json.dumps({"id": "a", "body": body}) + "\n", encoding="utf-8")
    article = next(read_records(tmp_path / "e.jsonl", tmp_path, "", [], 2**20))
    assert article.text == "港珠澳大桥正式通车。\n大桥全长55公里。\n桥隧结合，\n世界最长。 跨海 大桥。"


def test_a_json_array_in_a_jsonl_is_named_and_a_huge_line_is_not_loaded(tmp_path: Path) -> None:
    array = json.dumps(RECORDS * 2000, ensure_ascii=False)  # a .json export renamed .jsonl: one line
    assert len(array.encode("utf-8")) > 8 * 2**16
    lines = [array, json.dumps(RECORDS[:1], ensure_ascii=False), json.dumps(RECORDS[1], ensure_ascii=False)]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    skipped: list[str] = []
    articles = list(read_records(tmp_path / "e.jsonl", tmp_path, "", skipped, 2**16))
    assert [a.id for a in articles] == ["e.jsonl#a2"]
    assert skipped == [
        "e.jsonl: line 1 is over 0.5 MB; a .jsonl file holds one article a line "
        "(a JSON array must be written one object a line first)",
        "e.jsonl: line 2 is a JSON array, not an object; a .jsonl file holds one article (JSON object) a line; skipped",
    ]


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "gbk"])
def test_a_csv_is_read_whatever_its_delimiter(tmp_path: Path, delimiter: str, encoding: str) -> None:
    with (tmp_path / "e.csv").open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(["标题", "正文"])
        writer.writerows([r["title"], r["body"]] for r in RECORDS)
    articles = list(read_records(tmp_path / "e.csv", tmp_path, "", [], 2**20))
    assert [(a.title, a.text) for a in articles] == [(r["title"], r["body"]) for r in RECORDS]


def test_a_line_of_json_nested_too_deeply_is_skipped(tmp_path: Path) -> None:
    nested = '{"id": "x", "body": ' + "[" * 100_000 + "]" * 100_000 + "}"
    _write_jsonl(tmp_path / "e.jsonl", RECORDS[:1])
    with (tmp_path / "e.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(nested + "\n" + json.dumps(RECORDS[1], ensure_ascii=False) + "\n")
    skipped: list[str] = []
    articles = read_records(tmp_path / "e.jsonl", tmp_path, "", skipped, 2**20)
    assert [a.id for a in articles] == ["e.jsonl#a1", "e.jsonl#a2"]
    assert skipped == ["e.jsonl: line 2 is not valid JSON (nested too deeply); skipped"]


def test_an_unclosed_quote_in_a_csv_stops_at_the_article_limit_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "open.csv"
    rows = "\n".join(f"第{n}条,正文{n}。" for n in range(2000))
    path.write_text(f'title,body\n第一条,"没有收尾的引号\n{rows}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"row 1 has a field over the .* limit .*unclosed quote"):
        list(read_records(path, tmp_path, "", [], 4096))
    # A long article within the limit is still one field.
    fine = tmp_path / "long.csv"
    fine.write_text(f'title,body\n长文,"{"很长的正文。" * 500}"\n', encoding="utf-8")
    assert len(next(read_records(fine, tmp_path, "", [], 2**20)).text) == 3000


def test_a_title_that_is_really_a_body_is_cut_short(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "t.jsonl", [{"id": "1", "title": "标题" * 300, "body": "正文。"}])
    article = next(read_records(tmp_path / "t.jsonl", tmp_path, "", [], 2**20))
    assert len(article.title) == 200 and article.title.endswith("…")


def test_a_jsonl_record_without_a_body_field_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    # JSONL records need not share their fields: one without a body must not end the file.
    _write_jsonl(tmp_path / "mixed.jsonl", [RECORDS[0], {"id": "t", "title": "只有标题"}, RECORDS[1]])
    skipped: list[str] = []
    read = [a.id for a in read_records(tmp_path / "mixed.jsonl", tmp_path, "", skipped, 2**20)]
    assert read == ["mixed.jsonl#a1", "mixed.jsonl#a2"]
    assert skipped == [
        "mixed.jsonl#t: record 2 has no body field; expected one of body, text, content, 正文, 内容 "
        "(name yours with --fields body=COLUMN)"
    ]


def test_a_jsonl_export_with_no_body_field_at_all_is_one_message(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "none.jsonl", [{"id": str(n), "正文内容": "正文。"} for n in range(3)])
    skipped: list[str] = []
    with pytest.raises(CorpusError, match=r"^none.jsonl: no body field in record 1; expected one of"):
        list(read_records(tmp_path / "none.jsonl", tmp_path, "", skipped, 2**20))
    assert skipped == []


def test_control_characters_in_a_records_title_and_source_are_dropped(tmp_path: Path) -> None:
    # An escape sequence in a title would drive the terminal of whoever runs `index info`.
    record = {
        "id": "a",
        "title": "\x1b]0;pwned\x07港珠澳\x1b[2J大桥",
        "source": "新华\x00社\r\n",
        "body": "正文。",
    }
    (tmp_path / "e.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    article = next(read_records(tmp_path / "e.jsonl", tmp_path, "", [], 2**20))
    assert (article.title, article.source) == ("]0;pwned 港珠澳 [2J大桥", "新华 社")


def test_a_file_that_is_no_export_at_all_is_one_message(tmp_path: Path) -> None:
    # A .json export pretty-printed (one object over many lines), a PDF and empty files, renamed.
    (tmp_path / "pretty.jsonl").write_text(
        json.dumps(RECORDS * 20, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    pdf = write_pdf(tmp_path / "a.pdf", [PAGE_1]).read_bytes()
    (tmp_path / "pdf.jsonl").write_bytes(pdf)
    (tmp_path / "pdf.csv").write_bytes(pdf)
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("标题,正文\r\n", encoding="utf-8")
    reasons = {}
    for name in ("pretty.jsonl", "pdf.jsonl", "pdf.csv", "empty.jsonl", "empty.csv", "header.csv"):
        skipped: list[str] = []
        with pytest.raises(CorpusError) as refused:
            list(read_records(tmp_path / name, tmp_path, "", skipped, 2**20))
        assert skipped == []
        reasons[name] = str(refused.value)
    assert reasons == {
        "pretty.jsonl": "pretty.jsonl: not a JSONL export, no line of it is a JSON object "
        "(line 1 is not valid JSON (Expecting value); 422 lines read)",
        "pdf.jsonl": "pdf.jsonl: this is a PDF document, not a JSONL export",
        "pdf.csv": "pdf.csv: this is a PDF document, not a CSV export",
        "empty.jsonl": "empty.jsonl: the export holds no records",
        "empty.csv": "empty.csv: the export holds no records",
        "header.csv": "header.csv: the export holds no records",
    }


def test_a_jsonl_with_many_bad_lines_lists_ten_and_counts_the_rest(tmp_path: Path) -> None:
    lines = ["{broken"] * 15 + [json.dumps(RECORDS[0], ensure_ascii=False)]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    skipped: list[str] = []
    assert [a.id for a in read_records(tmp_path / "e.jsonl", tmp_path, "", skipped, 2**20)] == ["e.jsonl#a1"]
    assert len(skipped) == 11 and skipped[-1] == "e.jsonl: 5 more lines skipped"


def test_a_body_given_as_a_list_of_paragraphs_is_one_paragraph_a_line(tmp_path: Path) -> None:
    # Scrapers export an article's paragraphs as a JSON array; its text was the array's JSON,
    # brackets and quotes included, in every quote.
    record = {
        "id": "p",
        "title": "北斗",
        "content": ["北斗系统由五十五颗卫星组成。", " 第二段：它覆盖全球。 "],
        "date": 20200623,
    }
    (tmp_path / "e.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    article = next(read_records(tmp_path / "e.jsonl", tmp_path, "", [], 2**20))
    assert article.text == "北斗系统由五十五颗卫星组成。\n第二段：它覆盖全球。"
