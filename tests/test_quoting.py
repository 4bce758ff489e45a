from __future__ import annotations

import pytest

from assistant.lexical import tokenize
from assistant.quoting import ANSWERABLE_WEIGHTS, FEATURES, QUOTE_WEIGHTS, answer_type


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
    ],
)
def test_answer_type_matches_what_the_question_asks_for(question: str, text: str, expected: float) -> None:
    assert answer_type(question, text, set(tokenize(text)), set(tokenize(question))) == expected


def test_model_weights_cover_every_feature() -> None:
    assert tuple(QUOTE_WEIGHTS) == FEATURES
    assert list(ANSWERABLE_WEIGHTS) == ["top_quote", "words", "bigrams", "dense"]
