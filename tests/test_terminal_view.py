"""`assistant ask` prints text for a terminal: no HTML, quotes verbatim, nothing that drives the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.terminal_view import marked_quote, render_reply
from tests.conftest import write_article

# A right-to-left override inside the article's text (the reader already drops ANSI escapes).
ARTICLE = (
    "---\ntitle: 驰援武汉\ndate: 2020-01-28\nsource: 人民日报\n---\n"
    "　　天津市组建医疗队增援武汉。74名党员进入首批援助医疗队。\n\n"
    "　　医疗队在武汉工作了\u202e两个月。\n"
)


@pytest.fixture
def ask(tmp_path: Path, fake_model: None) -> tuple[CliRunner, list[str], Path]:
    corpus = tmp_path / "articles"
    corpus.mkdir()
    write_article(corpus, "tianjin.txt", ARTICLE)
    paths = ["--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    runner = CliRunner()
    assert runner.invoke(main, ["index", "build", *paths]).exit_code == 0
    return runner, paths, corpus


def test_an_answer_is_text_with_its_quote_verbatim_and_its_citation(
    ask: tuple[CliRunner, list[str], Path],
) -> None:
    runner, paths, corpus = ask
    reply = json.loads(runner.invoke(main, ["ask", "天津首批医疗队有多少名党员？", "--json", *paths]).output)
    assert reply["answered"], reply
    shown = runner.invoke(main, ["ask", "天津首批医疗队有多少名党员？", *paths])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "<" not in out and "**" not in out, "no HTML or markdown reaches the terminal"
    quote = reply["quotes"][0]
    text = (corpus / "tianjin.txt").read_text(encoding="utf-8")
    assert quote["quote"] == text[quote["start"] : quote["end"]] and f"  {quote['quote']} [1]" in out
    assert "《驰援武汉》 · 2020-01-28 · 人民日报 · 第 1 段" in out and quote["citation"] in out
    assert f"置信度：{reply['confidence']}" in out
    markdown = runner.invoke(main, ["ask", "天津首批医疗队有多少名党员？", "--markdown", *paths]).output
    assert markdown.rstrip("\n") == reply["answer"].rstrip("\n"), "--markdown prints the chat's markdown"


def test_bidi_characters_are_shown_not_sent(ask: tuple[CliRunner, list[str], Path]) -> None:
    runner, paths, _ = ask
    shown = runner.invoke(main, ["ask", "医疗队在武汉工作了多久？", *paths], color=True)
    assert shown.exit_code == 0, shown.output
    assert "  医疗队在武汉工作了⟨U+202E⟩两个月。 [1]" in shown.output and "\u202e" not in shown.output


def test_an_escape_from_a_server_never_reaches_the_terminal() -> None:
    """A reply from ``--server`` is another program's output: an ANSI escape in it is shown, not sent."""
    quote = {
        "rank": 1,
        "title": "标题\x1b]0;x\x07",
        "paragraph": 1,
        "start": 0,
        "end": 8,
        "quote": "清屏\x1b[2J之后",
        "citation": "《标题》，第1段：“清屏\x1b[2J之后”",
    }
    reply = {"question": "问？", "answered": True, "quotes": [quote], "confidence": "高", "answer_span": None}
    out = click.unstyle(render_reply(reply))
    assert "\x1b" not in out and "\x07" not in out
    assert "清屏⟨U+001B⟩[2J之后 [1]" in out and "《标题⟨U+001B⟩]0;x⟨U+0007⟩》" in out


def test_the_answer_span_is_marked_by_style_only() -> None:
    quote = {"quote": "中建三局在火神山成立临时党委。", "start": 100, "end": 115}
    span = {"start": 100, "end": 104, "text": "中建三局", "score": 0.9}
    marked = marked_quote(quote, span)
    assert marked != quote["quote"] and click.unstyle(marked) == quote["quote"]
    assert marked.startswith(click.style("中建三局", bold=True, underline=True))
    outside = {"start": 90, "end": 94, "text": "别处", "score": 0.9}
    assert marked_quote(quote, outside) == quote["quote"]


def test_a_refusal_offers_the_nearest_sentences_as_unconfirmed() -> None:
    nearest = {
        "rank": 1,
        "title": "驰援武汉",
        "paragraph": 2,
        "quote": "医疗队在武汉工作。",
        "citation": "《驰援武汉》，第2段：“医疗队在武汉工作。”",
        "date": None,
        "source": None,
        "file": "a.pdf",
        "page": 3,
    }
    reply = {"question": "红烧肉怎么做？", "answered": False, "quotes": [], "nearest": [nearest]}
    out = render_reply(reply)
    assert out.startswith("这些文章里没有找到能回答「红烧肉怎么做？」的内容")
    assert "未经确认的相关段落（1 处，可能并不回答这个问题）" in out
    assert "[1] 《驰援武汉》 · a.pdf · 第 3 页 · 第 2 段\n    医疗队在武汉工作。" in out
    assert "未经确认" not in render_reply({**reply, "nearest": []})
