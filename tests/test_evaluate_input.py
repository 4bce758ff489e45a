"""``assistant eval`` input: malformed SQuAD JSON is a message, and ``\\r\\n`` contexts are read
by the corpus's line-ending rule with their answer offsets moved along."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import CorpusError
from assistant.evaluate import evaluate, load_squad
from tests.conftest import FakeEmbedder

CONTEXT = "火神山医院\r\n　　中建三局成立临时党委。\r\n　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。\r\n"


def squad(context: str, answer: str) -> dict:
    qas = [
        {
            "id": "q1",
            "question": "多少名党员进入首批医疗队？",
            "answers": [{"text": answer, "answer_start": context.index(answer)}],
        }
    ]
    return {"data": [{"title": "火神山", "paragraphs": [{"id": "c1", "context": context, "qas": qas}]}]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a SQuAD-format JSON file"),
        ("[1, 2]", "not a SQuAD-format JSON file"),
        ('{"data": 5}', "not a SQuAD-format JSON file"),
        ('{"data": [{"paragraphs": [{"qas": []}]}]}', "missing field 'context'"),
        ('{"data": [{"paragraphs": [{"context": "正文。", "qas": [{"id": "q"}]}]}]}', "missing field"),
        ('{"data": [{"paragraphs": [{"context": "正文。", "qas": [{"answers": [7]}]}]}]}', "not a SQuAD"),
        ('{"data": ["text"]}', "not a SQuAD-format JSON file"),
        ('{"data": {}}', "no answered questions"),
        ('{"data": [{"paragraphs": [{"context": "正文。", "qas": []}]}]}', "no answered questions"),
    ],
)
def test_malformed_squad_is_a_message_not_a_traceback(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load_squad(path)


def test_crlf_contexts_follow_the_line_ending_rule(tmp_path: Path) -> None:
    path = tmp_path / "crlf.json"
    path.write_text(json.dumps(squad(CONTEXT, "74名"), ensure_ascii=False), encoding="utf-8")
    articles, questions = load_squad(path)
    text = articles[0].text
    assert "\r" not in text and text == CONTEXT.replace("\r\n", "\n")
    ((answer, start),) = questions[0].answers
    assert text[start : start + len(answer)] == "74名"


def test_eval_runs_on_crlf_contexts(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "crlf.json"
    path.write_text(json.dumps(squad(CONTEXT, "74名"), ensure_ascii=False), encoding="utf-8")
    metrics = evaluate(path, FakeEmbedder(), settings)
    assert metrics["hybrid"]["recall@5"] == 1.0
