"""PDF and Word articles: real files written by reportlab and python-docx, read, indexed and quoted."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.corpus import read_article
from assistant.errors import CorpusError
from assistant.indexing import update_index
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import FakeEmbedder
from tests.documents import (
    HEADER,
    PAGE_1,
    PAGE_2,
    write_docx,
    write_edited_docx,
    write_pdf,
    write_scanned_pdf,
    write_unmapped_pdf,
)


def _answerer(settings: Settings, embedder: FakeEmbedder) -> Answerer:
    return Answerer(Retriever(load_index(settings.index_dir), embedder))


def test_pdf_text_joins_wrapped_lines_and_drops_headers_footers_and_page_numbers(tmp_path: Path) -> None:
    article = read_article(write_pdf(tmp_path / "要闻.pdf", [PAGE_1, PAGE_2]), tmp_path)
    paragraphs = [p.strip("\u3000") for p in PAGE_1 + PAGE_2]
    assert article.text == "\n".join(paragraphs)  # verbatim, no space where a line wrapped
    assert HEADER not in article.text and "- 2 -" not in article.text
    assert article.pages == (0, article.text.index("报告指出"))
    assert article.format == "pdf" and article.title == "要闻"  # reportlab's title is "untitled"


def test_a_one_page_pdfs_header_in_small_type_is_dropped(tmp_path: Path) -> None:
    article = read_article(write_pdf(tmp_path / "一页.pdf", [PAGE_1]), tmp_path)
    assert article.text == "\n".join(p.strip("\u3000") for p in PAGE_1)  # nothing repeats, yet no header
    assert article.title == "一页"


def test_pdf_answer_on_page_two_is_quoted_with_its_page(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    path = write_pdf(settings.corpus_dir / "要闻.pdf", [PAGE_1, PAGE_2])
    report = update_index(settings, fake_embedder)
    assert report.added == ["要闻.pdf"] and not report.skipped
    answer = _answerer(settings, fake_embedder).ask("全年粮食产量保持在多少以上？")
    first = answer.quotes[0]
    assert "全年粮食产量保持在一万三千亿斤以上" in first.quote
    assert first.page == 2 and first.file == "要闻.pdf"
    assert read_article(path, settings.corpus_dir).text[first.start : first.end] == first.quote
    assert f"要闻.pdf 第2页，第3段：“{first.quote}”" in first.citation
    assert answer.to_json()["quotes"][0]["page"] == 2
    assert "第 2 页 · 第 3 段" in answer.answer


def test_encrypted_scanned_and_truncated_pdfs_are_skipped_with_their_reason(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    write_pdf(settings.corpus_dir / "locked.pdf", [PAGE_1], encrypt="secret")
    write_scanned_pdf(settings.corpus_dir / "scan.pdf")
    whole = write_pdf(settings.corpus_dir / "ok.pdf", [PAGE_2]).read_bytes()
    (settings.corpus_dir / "cut.pdf").write_bytes(whole[: len(whole) // 2])
    report = update_index(settings, fake_embedder)
    assert report.added == ["ok.pdf"]
    reasons = dict(r.split(": ", 1) for r in report.skipped)
    assert reasons["locked.pdf"].startswith("encrypted PDF")
    assert "scanned PDF with no text layer" in reasons["scan.pdf"]
    assert reasons["cut.pdf"].startswith("damaged PDF, cannot be read")


def test_a_pdf_protected_only_against_editing_is_read(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=write_pdf(tmp_path / "plain.pdf", [PAGE_1, PAGE_2]))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    with (tmp_path / "restricted.pdf").open("wb") as handle:
        writer.write(handle)
    restricted = read_article(tmp_path / "restricted.pdf", tmp_path)
    assert restricted.text == read_article(tmp_path / "plain.pdf", tmp_path).text


def test_docx_paragraphs_and_table_rows_in_order(tmp_path: Path) -> None:
    article = read_article(write_docx(tmp_path / "年报.docx"), tmp_path)
    assert article.title == "上海经济年报"  # the first heading: the properties name none
    assert article.text.splitlines() == [
        "上海经济年报",
        "上海市统计局今天发布年度经济数据。",
        "区域 | 生产总值 | 增速",
        "浦东新区 | 一万六千亿元 | 百分之五点五",
        "黄浦区 | 三千二百亿元 | 百分之四点九",
        "全市居民人均可支配收入达到八万四千八百三十四元，比上年增长百分之六点六。",
    ]
    assert read_article(write_docx(tmp_path / "b.docx", title="年度报告"), tmp_path).title == "年度报告"


def test_docx_table_row_is_quoted_and_a_corrupt_docx_is_skipped(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    write_docx(settings.corpus_dir / "年报.docx")
    whole = write_docx(settings.corpus_dir / "broken.docx").read_bytes()
    (settings.corpus_dir / "broken.docx").write_bytes(whole[: len(whole) // 2])
    report = update_index(settings, fake_embedder)
    assert report.added == ["年报.docx"]
    assert report.skipped == [
        "broken.docx: damaged or not a Word .docx document (a .doc must be saved as .docx first)"
    ]
    quote = _answerer(settings, fake_embedder).ask("浦东新区生产总值增速是多少？").quotes[0]
    assert quote.quote == "浦东新区 | 一万六千亿元 | 百分之五点五"
    assert quote.file == "年报.docx" and quote.page is None


@pytest.mark.parametrize("name", ["fake.pdf", "fake.docx"])
def test_a_renamed_text_file_is_refused_with_a_message(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("这不是文档。", encoding="utf-8")
    with pytest.raises(CorpusError, match=f"^{name}: "):
        read_article(tmp_path / name, tmp_path)


def test_a_docx_that_unpacks_to_too_much_is_refused_before_it_is_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    from assistant.corpus import docx

    # A zip bomb: a valid Word file whose document.xml is padded with a comment of blanks.
    packed = zipfile.ZipFile(write_docx(tmp_path / "x.docx"))
    with zipfile.ZipFile(tmp_path / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in packed.infolist():
            data = packed.read(info)
            if info.filename == "word/document.xml":
                cut = data.index(b"<w:body>")
                data = data[:cut] + b"<!--" + b" " * 2**22 + b"-->" + data[cut:]
            bomb.writestr(info.filename, data)
    assert (tmp_path / "bomb.docx").stat().st_size < 2**16
    assert "上海经济年报" in read_article(tmp_path / "bomb.docx", tmp_path).text  # within the limit
    monkeypatch.setattr(docx, "MAX_UNPACKED_BYTES", 2**22)
    with pytest.raises(CorpusError, match=r"^bomb.docx: unpacks to 5 MB, over the 4 MB"):
        read_article(tmp_path / "bomb.docx", tmp_path)


def test_layout_gaps_between_chinese_characters_are_not_text() -> None:
    from assistant.corpus.pdf import _lines

    assert _lines("国务院 总理作 政府工作报告 。\n2024 年 GDP 增长\n　　本报讯") == [
        "国务院总理作政府工作报告。",
        "2024 年 GDP 增长",
        "　　本报讯",
    ]


def test_a_wrap_is_a_space_only_between_latin_characters() -> None:
    from assistant.corpus.pdf import _join

    lines = ["　　Growth in the first half of the", "year was strong——北京、上海等地", "—增速领先。"]
    assert _join([lines]) == (
        "Growth in the first half of the year was strong——北京、上海等地—增速领先。",
        (0,),
    )


def test_a_pdf_holding_only_headers_and_page_numbers_is_not_called_a_scan(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="only running headers, footers or page numbers"):
        read_article(write_pdf(tmp_path / "空白.pdf", [[], [], []]), tmp_path)


def test_an_edited_docx_keeps_insertions_content_controls_text_boxes_and_fields(tmp_path: Path) -> None:
    article = read_article(write_edited_docx(tmp_path / "稿件.docx"), tmp_path)
    assert article.text.splitlines() == [
        "全年粮食产量保持在一万三千亿斤以上，确保国家粮食安全。",  # the insertion in, the deletion out
        "城镇新增就业一千二百万人以上。",
        "会议期间，",
        "雷神山医院今天交付使用。",  # once: Word stores a text box twice (shape and VML copy)
        "详见表一所列数据。",
    ]


def test_a_pdf_whose_fonts_have_no_unicode_map_is_skipped_not_indexed_as_garbage(tmp_path: Path) -> None:
    # pypdf gives such a font's glyph numbers as characters: 䣱䣱栅潜懚⇕Ẹⴙ… for 本报北京三月五日电…
    write_unmapped_pdf(tmp_path / "方正.pdf", write_pdf(tmp_path / "plain.pdf", [PAGE_1, PAGE_2]))
    with pytest.raises(CorpusError, match=r"^方正.pdf: its fonts have no Unicode map"):
        read_article(tmp_path / "方正.pdf", tmp_path)


def test_a_web_page_named_pdf_is_refused_as_not_a_pdf(tmp_path: Path) -> None:
    from tests.test_html import news_page

    (tmp_path / "页.pdf").write_text(news_page(), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"^页.pdf: not a PDF document \(no %PDF header"):
        read_article(tmp_path / "页.pdf", tmp_path)


@pytest.mark.parametrize("name", ["空.pdf", "空.docx", "空.html"])
def test_a_zero_byte_document_is_called_empty(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(CorpusError, match=f"^{name}: the file is empty$"):
        read_article(tmp_path / name, tmp_path)
