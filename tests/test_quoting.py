from __future__ import annotations

import numpy as np
import pytest

from assistant.lexical import BM25, tokenize
from assistant.quoting import (
    FEATURES,
    answer_type,
    answerable_probability,
    build_candidates,
    is_foreign,
    rank,
    unit_pattern,
)
from assistant.retrieval import Hit
from assistant.store import PassageRecord


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        ("火神山医院是哪家企业负责建设的？", "中建三局在火神山医院项目建设指挥部成立临时党委。", 1.0),
        ("火神山医院是哪家企业负责建设的？", "党员黄挡玉听到火神山医院项目建设消息后报名。", 0.0),
        ("中组部哪天召开了电视电话会议？", "2月3日，中组部在京召开电视电话会议。", 1.0),
        ("中组部哪天召开了电视电话会议？", "中组部召开电视电话会议，作出具体安排。", 0.0),
        ("社区有多少名工作人员？", "社区工作人员仅有5人。", 1.0),
        ("社区有多少名工作人员？", "社区工作人员很少。", 0.0),
        ("飘安集团党委书记是谁？", "陈广法带领党员职工加班加点。", 1.0),
        ("他们在仪式上做了什么？", "党员重温入党誓词。", 0.5),
        (
            "Which company built the Huoshenshan hospital?",
            "中建三局在火神山医院项目建设指挥部成立临时党委。",
            1.0,
        ),
        ("When did Yeltsin sign the decree?", "叶利钦１９９７年８月４日签署命令。", 1.0),
        ("When did Yeltsin sign the decree?", "叶利钦签署了命令。", 0.0),
        ("How many party members joined?", "74名党员进入首批援助医疗队。", 1.0),
        ("冰球沙皇最后判了多久", "在铁窗内吃１８个月的牢饭。", 1.0),
    ],
)
def test_answer_type_matches_what_the_question_asks_for(question: str, text: str, expected: float) -> None:
    assert answer_type(question, text, set(tokenize(text)), set(tokenize(question))) == expected


def test_candidates_are_sentences_and_pairs_with_one_value_per_weight() -> None:
    text = "中建三局成立临时党委。400余名党员郑重宣誓；重温入党誓词。"
    sentences = ((0, 11, 1), (11, 23, 1), (23, 30, 1))
    passage = PassageRecord(0, "a.txt", 0, 1, 0, len(text), text, "h", sentences, (0, 1, 2))
    bm25 = BM25().fit([tokenize(text)])
    question = "中建三局成立了什么组织？"
    # Sentence 0 points the way the question does; the others are e5's "unrelated" 0.8 away.
    vectors = np.asarray([[1.0, 0.0], [0.8, 0.6], [0.8, 0.6]], dtype=np.float16)
    query = np.asarray([1.0, 0.0], dtype=np.float32)
    candidates = build_candidates(question, tokenize(question), [Hit(passage, 1.0)], bm25, 5, vectors, query)
    spans = [(c.start, c.end) for c in candidates]
    assert spans == [(0, 11), (0, 23), (11, 23), (11, 30), (23, 30)]
    assert all(c.text == text[c.start : c.end] for c in candidates)
    assert all(len(c.features) == len(FEATURES) for c in candidates)
    assert [round(c.features[2], 2) for c in candidates] == [0.2, 0.2, 0.0, 0.0, 0.0]
    ranked = rank(candidates)
    assert ranked[0].candidate.start == 0
    assert abs(sum(r.share for r in ranked) - 1.0) < 1e-9
    assert 0.0 <= answerable_probability(question, ranked) <= 1.0


@pytest.mark.parametrize(
    ("question", "answer", "other"),
    [
        ("西藏这次雪灾冻死了多少头牲畜？", "冻死牲畜上千头。", "雪灾造成３人死亡。"),
        ("平遥古城门票多少钱", "门票每张４０元。", "古城有６００多年历史。"),
        ("郭晶晶今年多大了", "郭晶晶今年１６岁。", "郭晶晶排在第六位。"),
        ("法国现在的失业率是百分之几？", "失业率为１２．４％。", "失业者有３００多万人。"),
        ("张北那次地震到底有几级？", "张北发生６．２级地震。", "地震造成４９人死亡。"),
        ("这条高速公路全长多少公里？", "全长１４４公里。", "路宽２８米。"),
        ("大厅里一共挂了多少盏灯？", "大厅里挂着２００盏宫灯。", "大厅建于１９５９年。"),
        ("这次事故有几个人受伤？", "事故造成３人受伤。", "事故发生在上午９时。"),
    ],
)
def test_a_unit_named_in_the_question_must_follow_a_number(question: str, answer: str, other: str) -> None:
    pattern = unit_pattern(question)
    assert pattern is not None and pattern.search(answer) and not pattern.search(other)


@pytest.mark.parametrize(
    "question",
    [
        "火神山医院是谁建的？",
        # 哪几 asks which ones, and 那几/这几 point back: neither asks how many.
        "代表团要访问哪几座城市？",
        "那几个工厂去年的产值是多少？",
        "这几年的增速为什么越来越低？",
    ],
)
def test_questions_without_a_unit_have_no_unit_pattern(question: str) -> None:
    assert unit_pattern(question) is None


@pytest.mark.parametrize(
    ("question", "foreign"),
    [
        ("Who built the Huoshenshan hospital?", True),
        ("火神山醫院是哪家企業負責建設的？", False),
        ("TR188次航班载有多少人？", False),
        ("hello world", False),
        ("<script>alert(1)</script>", False),
    ],
)
def test_foreign_questions_are_told_by_their_letters(question: str, foreign: bool) -> None:
    assert is_foreign(question) is foreign
