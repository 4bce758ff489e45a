from __future__ import annotations

import numpy as np
import pytest

from assistant.lexical import BM25, tokenize
from assistant.quoting import QUOTE_WEIGHTS, answer_type, answerable_probability, build_candidates
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
    assert all(len(c.features) == len(QUOTE_WEIGHTS) for c in candidates)
    assert [round(c.features[2], 2) for c in candidates] == [0.2, 0.2, 0.0, 0.0, 0.0]
    assert max(candidates, key=lambda c: c.probability()).start == 0
    assert 0.0 <= answerable_probability(candidates, 0.5) <= 1.0
