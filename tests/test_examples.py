"""Example questions: made from sentences that hold a fact, and shown only when answered."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.examples import LiveExamples, question_from
from assistant.indexing import update_index
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article


@pytest.mark.parametrize(
    ("sentence", "question", "fact"),
    [
        ("仪式上，120余名党员面对鲜红的党旗，高举右拳。", "多少名党员面对鲜红的党旗？", "120余名"),
        (
            "南京军区前线话剧团演出的《虎踞钟山》已是第５次进京。",
            "南京军区前线话剧团演出的《虎踞钟山》已是第几次进京？",
            "５次",
        ),
        (
            "中国和南非于1998年1月1日起建立大使级外交关系，互派大使。",
            "中国和南非于哪天起建立大使级外交关系？",
            "1998年",
        ),
        # A clause that starts with 是 takes the clause before it as its subject.
        (
            "十五大确定了目标，是总体部署的十二项重要任务之一。",
            "十五大确定了目标，是总体部署的多少项重要任务之一？",
            "十二项",
        ),
    ],
)
def test_a_fact_becomes_the_question_word(sentence: str, question: str, fact: str) -> None:
    made = question_from(sentence)
    assert made is not None
    text, start, end = made
    assert text == question and sentence[start:end].startswith(fact.rstrip("次项名"))


@pytest.mark.parametrize(
    "sentence",
    [
        "新华社北京１月１２日电（记者张宿堂）国务院三峡建委第七次会议今天召开。",  # dateline
        "世界游泳锦标赛首日中国队板台兼收（附图片２张）",  # picture note, no closing 。
        "香港首届立法会选举5月24日举行",  # headline: no closing 。
        "她是一个富商的女儿，在意大利长大。",  # 一个 is an article, not a count
        "会议今天在北京召开，气氛热烈。",  # no number, no date
        "两国于1月3日起建立大使级外交关系。",  # which two? a clause without its subject
    ],
)
def test_sentences_without_a_fact_to_ask_make_no_question(sentence: str) -> None:
    assert question_from(sentence) is None


def test_examples_the_assistant_would_refuse_are_never_shown(settings: Settings) -> None:
    write_article(
        settings.corpus_dir,
        "a.txt",
        "---\ntitle: 建设雷神山\nquestions: 红烧肉应该怎么做？ | 雷神山医院项目指挥部成立了什么组织？\n---\n"
        "　　1月28日下午，中建三局雷神山医院项目指挥部成立临时党委。\n",
    )
    embedder = FakeEmbedder()
    update_index(settings, embedder)
    assert LiveExamples(Assistant(settings, embedder=embedder)).questions() == [
        "雷神山医院项目指挥部成立了什么组织？"
    ]


LEISHENSHAN = (
    "---\ntitle: 建设雷神山\nquestions: 雷神山医院项目指挥部成立了什么组织？\n---\n"
    "　　1月28日下午，中建三局雷神山医院项目指挥部成立临时党委。\n"
)
TIANJIN = (
    "---\ntitle: 天津医疗队\nquestions: 天津首批援助医疗队中有多少名党员？\n---\n"
    "　　天津首批援助湖北医疗队共138人，其中党员68名。\n"
)


def test_examples_follow_an_update_made_beside_the_server(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(settings.corpus_dir, "a.txt", LEISHENSHAN)
    write_article(settings.corpus_dir, "b.txt", TIANJIN)
    embedder = FakeEmbedder()
    update_index(settings, embedder)
    assistant = Assistant(settings, embedder=embedder, recheck_seconds=0)
    asked: list[str] = []
    ask = assistant.ask
    monkeypatch.setattr(assistant, "ask", lambda question: asked.append(question) or ask(question))
    live = LiveExamples(assistant)
    listed = ["雷神山医院项目指挥部成立了什么组织？", "天津首批援助医疗队中有多少名党员？"]
    assert live.questions()[:2] == listed
    before = len(asked)
    assert live.questions()[:2] == listed and len(asked) == before, "nothing asked on the same index"

    (settings.corpus_dir / "b.txt").unlink()
    update_index(settings, FakeEmbedder())  # `assistant index update` in another process
    shown = live.questions()
    assert shown[0] == listed[0] and not any("天津" in q for q in shown), shown
    before = len(asked)
    live.questions()
    assert len(asked) == before

    write_article(settings.corpus_dir, "b.txt", TIANJIN)  # restored: its listed question is tried again
    update_index(settings, FakeEmbedder())
    assert live.questions()[:2] == listed
