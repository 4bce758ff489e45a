"""The chat's reply and sources panel: answer first, articles opened at their quotes."""

from __future__ import annotations

from assistant.answer import Answer, Quote
from assistant.chat_view import CONTEXT_CHARS, PANEL_EMPTY, chat_reply, marked, render_panel
from assistant.config import Settings
from assistant.indexing import update_index
from assistant.span import AnswerSpan
from assistant.store import load_index
from tests.conftest import FakeEmbedder, write_article

TEXT = "第一段说别的。\n中建三局<牵头>建设火神山医院。\n十天建成，交付使用。"


def _quote(rank: int, needle: str, article: str = "a.txt", title: str = "建设火神山") -> Quote:
    start = TEXT.index(needle)
    return Quote(rank, article, title, 2, start, start + len(needle), needle, TEXT, 0.8, 0, len(TEXT))


def _text(article_id: str) -> tuple[int, str]:
    return 0, TEXT


def test_every_quote_is_marked_in_its_article_escaped_with_its_number() -> None:
    html = marked(TEXT, 0, [_quote(2, "十天建成"), _quote(1, "中建三局<牵头>")])
    assert "<mark>中建三局&lt;牵头&gt;</mark><sup>[1]</sup>" in html
    assert "<mark>十天建成</mark><sup>[2]</sup>" in html
    assert "第一段说别的。<br>" in html and "……" not in html


def test_a_long_article_is_cut_around_its_quotes() -> None:
    text = "前" * (CONTEXT_CHARS + 500) + "引文。" + "后" * (CONTEXT_CHARS + 500)
    start = text.index("引文")
    q = Quote(1, "a.txt", "t", 1, start, start + 3, "引文。", text, 0.8, 0, len(text))
    html = marked(text, 0, [q])
    assert html.startswith("……") and html.endswith("……")
    assert html.count("前") == CONTEXT_CHARS and html.count("后") == CONTEXT_CHARS


def test_an_answer_reads_first_in_the_chat_and_its_sources_open_in_the_panel() -> None:
    quotes = [_quote(1, "中建三局<牵头>建设火神山医院。"), _quote(2, "十天建成", "b.txt", "另一篇")]
    answer = Answer("谁建的？", True, "(whole markdown)", quotes, "高")
    reply, panel = chat_reply(answer, _text)
    assert reply.startswith("> 中建三局")
    assert "[1] 《建设火神山》，第2段" in reply and "[2] 《另一篇》，第2段" in reply
    assert "来源：2 篇文章" in panel and panel.count('class="src-article"') == 2
    assert panel.index("《建设火神山》") < panel.index("《另一篇》")


def test_the_answer_span_comes_first_in_bold_and_is_marked_inside_the_quote_in_the_panel() -> None:
    quote = _quote(1, "中建三局<牵头>建设火神山医院。")
    start = TEXT.index("中建三局")
    span = AnswerSpan(start, start + 4, "中建三局", 0.97)
    answer = Answer("谁建的？", True, "(whole markdown)", [quote], "高", answer_span=span)
    reply, panel = chat_reply(answer, _text)
    assert reply.startswith("**中建三局**\n\n> ")
    assert (
        '<mark><span class="answer">中建三局</span>&lt;牵头&gt;建设火神山医院。</mark><sup>[1]</sup>' in panel
    )


def test_a_refusal_keeps_its_reply_and_its_nearest_sentences_are_marked_unconfirmed() -> None:
    refusal = Answer("门票多少钱？", False, "没有找到……", [], "无", nearest=[_quote(1, "十天建成")])
    reply, panel = chat_reply(refusal, _text)
    assert reply == "没有找到……"
    assert "未经确认的相关段落" in panel and "<mark>十天建成</mark>" in panel and "来源：" not in panel
    assert chat_reply(Answer("?", False, "没有找到", []), _text)[1] == PANEL_EMPTY
    assert render_panel([], _text).count("src-article") == 0


def test_article_text_keeps_every_offset_across_paragraph_breaks(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    paragraphs = [
        f"　　第{i}段讲了第{i}件事，共有{i * 7}人参加。随后大家又谈到了第{i}个问题。" for i in range(1, 30)
    ]
    write_article(settings.corpus_dir, "a.txt", "标题\n\n" + "\n".join(paragraphs) + "\n")
    update_index(settings, fake_embedder)
    index = load_index(settings.index_dir)
    start, text = index.article_text("a.txt")
    passages = [index.passages[int(i)] for i in index.passages.rows_of({"a.txt"})]
    assert len(passages) > 3
    for p in passages:
        assert text[p.start - start : p.end - start] == p.text
        for a, b, paragraph in p.sentences:
            first, whole = index.paragraph_text("a.txt", paragraph)
            assert whole[a - first : b - first] == text[a - start : b - start]
