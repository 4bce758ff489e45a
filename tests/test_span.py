from __future__ import annotations

import html
import json

import pytest

from assistant.answer import Answer, Answerer, Quote, highlight, render_answer
from assistant.api_models import AskReply
from assistant.config import Settings
from assistant.span import AnswerSpan, answer_span, asked_type, candidates, rank
from assistant.span_metrics import char_f1, exact_match
from tests.conftest import FakeEmbedder, answerer_over

# Real sentences: the seed corpus, People's Daily (natural-news) and DRCD's traditional script.
SENTENCES = [
    "“我志愿加入中国共产党，拥护党的纲领……”中建三局在火神山、雷神山医院项目建设指挥部成立临时党委，"
    "集中党员骨干组成突击队，400余名党员在党旗下郑重宣誓，重温入党誓词。",
    "俄罗斯总统叶利钦于１９９７年８月４日签署命令，决定从１９９８年１月１日起发行新卢布。",
    "今年５８岁的俞福柏行医３５年，治好了许多病人。",
    "威武陳元帥廟位於西莒島青帆村。主祀陳元帥，神諱陳湯銘，為長樂鶴上人，以昭穆推算為玉溪陳氏第25世。",
    "据《人民日报》报道，「幸福工程」用小额低息贷款扶持贫困母亲。",
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_every_candidate_is_cut_verbatim_from_the_sentence(sentence: str) -> None:
    found = candidates("这是谁在什么时候做的？", sentence)
    assert found
    for c in found:
        assert c.text == sentence[c.start : c.end] and c.text.strip()


def test_the_span_has_the_article_offsets_of_its_text() -> None:
    article = "前言一段。\n" + SENTENCES[1]
    offset = article.index(SENTENCES[1])
    span = answer_span("叶利钦什么时候签署了命令？", SENTENCES[1], offset, 0.9, show_above=0.0)
    assert span is not None
    assert article[span.start : span.end] == span.text


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("叶利钦是什么时候签署这项命令的？", SENTENCES[1], "１９９７年８月４日"),
        ("俞福柏行医多少年了？", SENTENCES[2], "３５年"),
        ("火神山医院是哪家企业负责建设的？", SENTENCES[0], "中建三局"),
        ("青岛至蒙巴萨的航线单程要航行多少天？", "该航线单程航行时间约28天，每周一班。", "28天"),
        ("金价为什么下跌？", "由于美元走强，国际金价持续下跌。", "美元走强"),
    ],
)
def test_the_best_span_is_the_one_the_question_asks_for(question: str, sentence: str, expected: str) -> None:
    best = rank(question, sentence)[0][1]
    assert expected in best.text and len(best.text) <= len(expected) + 4, best.text


def test_question_types_are_read_in_either_script() -> None:
    assert asked_type("火神山醫院是哪家企業負責建設的？") == "org"
    assert asked_type("叶利钦是什么时候签署命令的？") == "time"
    assert asked_type("迎泽大桥是不是全国最宽的城市特大桥？") == "yesno"
    assert asked_type("蒙特利尔那场冰暴是怎么形成的？") == "why"


def test_no_span_when_the_quote_is_unlikely_to_hold_the_answer() -> None:
    # An off-topic quote: the question's words are nowhere in it and its score is low.
    assert answer_span("红烧肉应该怎么做？", "天津市组建医疗队增援武汉。", 0, 0.05) is None
    assert answer_span("", "", 0, 0.9) is None


def test_span_metrics_follow_the_official_cmrc_script() -> None:
    assert exact_match("《人象石柱》", ["人象石柱"]) == 1.0
    assert exact_match("中建三局", ["中建三局负责"]) == 0.0
    assert char_f1("中建三局", ["中建三局"]) == 1.0
    assert char_f1("中建三局负责", ["中建三局"]) == pytest.approx(0.8)
    # Latin runs are one word each: nba|火|箭 against nba|休|士|顿|火|箭, longest common run 火箭.
    assert char_f1("NBA 火箭", ["nba休士顿火箭"]) == pytest.approx(2 * (2 / 3) * (2 / 6) / (2 / 3 + 2 / 6))
    assert char_f1("无关", ["中建三局"]) == 0.0


ARTICLE = (
    "---\ntitle: 航线\n---\n"
    "　　青岛港开通至非洲东海岸的集装箱直达航线。\n"
    "　　该航线单程航行时间约28天，每周一班。\n"
)


@pytest.fixture
def answerer(settings: Settings, fake_embedder: FakeEmbedder) -> Answerer:
    return answerer_over(settings, fake_embedder, ARTICLE)


def test_json_and_api_carry_the_span_or_null(answerer: Answerer) -> None:
    refused = answerer.ask("红烧肉应该怎么做？")
    assert not refused.answered and refused.to_json()["answer_span"] is None
    reply = answerer.ask("青岛至蒙巴萨的航线单程要航行多少天？")
    data = reply.to_json()
    assert "answer_span" in data
    AskReply.model_validate(json.loads(json.dumps(data, ensure_ascii=False)))
    shown = {**data, "answer_span": {"start": 40, "end": 43, "text": "28天", "score": 0.9}}
    assert AskReply.model_validate(shown).answer_span.text == "28天"
    if reply.answer_span:
        span = reply.answer_span
        assert ARTICLE[span.start : span.end] == span.text == data["answer_span"]["text"]


def _quote(text: str, start: int) -> Quote:
    return Quote(1, "a.txt", "标题", 1, start, start + len(text), text, text, 0.9, start, start + len(text))


def test_the_chat_shows_the_span_in_bold_first_then_marks_it_inside_the_highlight() -> None:
    sentence = "据<b>报道</b>，航线单程约28天<到达>，每周一班。"
    quote = _quote(sentence, 100)
    x = sentence.index("28天<到达>")
    span = AnswerSpan(100 + x, 100 + x + len("28天<到达>"), "28天<到达>", 0.9)
    rendered = render_answer([quote], "高", [], lambda article, paragraph: (100, sentence), span)
    lines = rendered.splitlines()
    assert lines[0] == "**28天&lt;到达&gt;**"
    assert lines[2].startswith("> ") and '<span class="answer">28天&lt;到达&gt;</span>' in lines[2]
    assert "<b>" not in rendered and "&lt;b&gt;报道&lt;/b&gt;" in rendered
    marked = highlight(sentence, 100, quote, span)
    inside = marked.split("<mark>")[1].split("</mark>")[0]
    assert inside == (
        html.escape(sentence[:x])
        + '<span class="answer">28天&lt;到达&gt;</span>'
        + html.escape(sentence[x + 7 :])
    )
    plain = render_answer([quote], "高", [], lambda article, paragraph: (100, sentence))
    assert 'class="answer"' not in plain and plain.startswith("> ")

    assert Answer("问", False, "x").to_json()["answer_span"] is None


def test_longer_answers_are_candidates_whole_and_numbers_keep_their_commas() -> None:
    sentence = "本地的体育场所是王子体育场。达曼是沙特大陆桥计划的东段终点，西端终点在吉达港。生长于海拔200米至2,400米的地区。"
    found = {c.text: c.kinds for c in candidates("沙特大陆桥计划的东段和西端终点分别是哪里？", sentence)}
    assert "sentence" in found["达曼是沙特大陆桥计划的东段终点，西端终点在吉达港"]
    assert (
        "clauses" in found["生长于海拔200米至2,400米的地区"]
        or "sentence" in found["生长于海拔200米至2,400米的地区"]
    )
    assert "2,400米" in found
    assert not any(text.startswith("的") or text.endswith("的") for text in found)


def test_a_noun_phrase_extends_over_its_modifier() -> None:
    sentence = "他是美国职棒大联盟的尼加拉瓜籍投手，目前是自由球员。"
    found = {c.text: c.kinds for c in candidates("他是哪个国家的运动员？", sentence)}
    assert "phrase" in found["美国职棒大联盟的尼加拉瓜籍投手"]
    assert "clauses" not in found["目前是自由球员"]
