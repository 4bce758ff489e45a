"""The real e5 model over one PDF, one DOCX, one GBK CSV and one JSONL: each question is answered
from the right file, at the right page or record (the one slow test of the importers)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.corpus import read_article
from assistant.indexing import update_index
from assistant.service import Assistant, make_embedder
from tests.documents import PAGE_1, PAGE_2, write_docx, write_pdf
from tests.test_records import RECORDS

pytestmark = pytest.mark.slow


def test_each_format_answers_from_its_own_place(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_pdf(corpus / "要闻.pdf", [PAGE_1, PAGE_2])
    write_docx(corpus / "年报.docx")
    with (corpus / "导出.csv").open("w", encoding="gbk", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(RECORDS[0]))
        writer.writeheader()
        writer.writerows(RECORDS[:2])
    (corpus / "e.jsonl").write_text(
        json.dumps(RECORDS[2], ensure_ascii=False) + "\n{broken\n", encoding="utf-8"
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    embedder = make_embedder(settings)
    report = update_index(settings, embedder)
    assert len(report.added) == 5 and report.skipped == [
        "e.jsonl: line 2 is not valid JSON (Expecting property name enclosed in double quotes); skipped"
    ]
    assistant = Assistant(settings, embedder=embedder)
    cases = [
        ("今年全国粮食产量要保持在多少以上？", "要闻.pdf", "一万三千亿斤", 2),
        ("今年城镇新增就业目标是多少？", "要闻.pdf", "一千二百万人", 1),
        ("上海居民人均可支配收入是多少？", "年报.docx", "八万四千八百三十四元", None),
        ("港珠澳大桥全长多少公里？", "导出.csv#a1", "五十五公里", None),
        ("北斗系统由多少颗卫星组成？", "e.jsonl#a3", "五十五颗卫星", None),
    ]
    for question, article_id, answer, page in cases:
        reply = assistant.ask(question)
        assert reply.answered, question
        first = reply.quotes[0]
        assert (first.article_id, first.page) == (article_id, page), question
        assert answer in first.quote, question
        if "#" not in article_id:
            assert read_article(corpus / article_id, corpus).text[first.start : first.end] == first.quote
