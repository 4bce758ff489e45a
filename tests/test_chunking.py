from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.chunking import chunk_article, sentences, split_sentences
from assistant.config import ChunkSettings
from assistant.corpus import parse_article, read_article
from tests.conftest import SEED_DIR


def article_of(text: str):
    return parse_article(text, "t.txt", Path("t.txt"), "utf-8", "0")


def spans_text(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


def test_sentences_end_at_chinese_punctuation_with_closing_quotes() -> None:
    text = "“我志愿加入中国共产党，拥护党的纲领……”中建三局成立临时党委。他说：“干！”真的吗？好；走"
    assert spans_text(text, split_sentences(text, 0, len(text), 500)) == [
        "“我志愿加入中国共产党，拥护党的纲领……”",
        "中建三局成立临时党委。",
        "他说：“干！”",
        "真的吗？",
        "好；",
        "走",
    ]


def test_long_sentences_are_cut_at_commas_within_the_limit() -> None:
    text = "，".join(["这是一个相当长的分句"] * 40) + "。"
    spans = split_sentences(text, 0, len(text), 60)
    assert "".join(spans_text(text, spans)) == text
    assert all(e - s <= 60 for s, e in spans)
    assert all(text[e - 1] in "，。" for s, e in spans)


def test_full_width_indentation_is_outside_every_span() -> None:
    text = "标题\n\n　　第一段第一句。第二句！\n　　第二段。\n"
    article = article_of(text)
    sents = sentences(article, 200)
    assert spans_text(text, [(s.start, s.end) for s in sents]) == [
        "标题",
        "第一段第一句。",
        "第二句！",
        "第二段。",
    ]
    assert [s.paragraph for s in sents] == [1, 2, 2, 3]


def test_seed_passages_round_trip_and_cover_every_sentence() -> None:
    chunk = ChunkSettings()
    for path in sorted(SEED_DIR.glob("*.txt")):
        article = read_article(path, SEED_DIR)
        passages = chunk_article(article, chunk)
        assert passages, path
        covered = set()
        for p in passages:
            assert p.text == article.text[p.start : p.end]
            assert p.paragraph == p.sentences[0].paragraph
            assert len(p.text) <= chunk.max_chars or len(p.sentences) == 1
            for s in p.sentences:
                assert p.start <= s.start < s.end <= p.end
                assert article.text[s.start] not in "　 \n"
                covered.add(s.start)
        assert covered == {s.start for s in sentences(article, chunk.max_chars)}
        assert article.text[passages[0].start :].startswith(article.text[passages[0].start : passages[0].end])


def test_passages_overlap_by_one_sentence_inside_a_paragraph() -> None:
    text = "　　" + "".join(f"第{i}句话说了一件相当具体的事情，内容足够长以便分段。" for i in range(30))
    passages = chunk_article(article_of(text), ChunkSettings(target_chars=100, min_chars=40, max_chars=160))
    assert len(passages) > 3
    for a, b in zip(passages, passages[1:], strict=False):
        assert b.sentences[0] == a.sentences[-1]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="新闻中国党旗医院。！？；…”」，、\n　 ab1", max_size=400))
def test_any_text_chunks_into_exact_substrings(text: str) -> None:
    article = article_of(text)
    for p in chunk_article(article, ChunkSettings(target_chars=40, min_chars=10, max_chars=60)):
        assert p.text == text[p.start : p.end]
        for s in p.sentences:
            assert text[s.start : s.end].strip()


class CountingText(str):
    """A str that counts the characters chunking reads from it, by index or by slice."""

    reads = 0

    def __getitem__(self, key):  # type: ignore[override]
        piece = str.__getitem__(self, key)
        CountingText.reads += len(piece)
        return piece


def reads_to_chunk(text: str) -> int:
    CountingText.reads = 0
    article = parse_article(CountingText(text), "t.txt", Path("t.txt"), "utf-8", "0")
    chunk_article(article, ChunkSettings())
    return CountingText.reads


@pytest.mark.parametrize(
    "unit",
    ["火神山医院由中建三局负责建设", "abcdefghij", "，", "。", "　", "中建三局，" + "党员" * 80],
    ids=["han", "ascii", "commas", "terminators", "blanks", "rare-commas"],
)
def test_chunking_reads_each_character_a_bounded_number_of_times(unit: str) -> None:
    small, large = (unit * (n // len(unit)) for n in (20_000, 80_000))
    ratio = reads_to_chunk(large) / reads_to_chunk(small)
    assert ratio < 4.4  # 4× the text, 4× the work: linear


def test_an_over_long_run_without_punctuation_is_hard_cut_within_max_chars() -> None:
    text = "火神山医院由中建三局负责建设" * 10_000
    chunk = ChunkSettings()
    passages = chunk_article(article_of(text), chunk)
    assert all(0 < p.end - p.start <= chunk.max_chars for p in passages)
    assert all(s.end - s.start <= chunk.max_chars for p in passages for s in p.sentences)
    assert "".join(text[s.start : s.end] for p in passages for s in p.sentences[:1]) == text
