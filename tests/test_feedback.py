"""Readers' votes: recorded beside the index, merged with their notes, exported as eval cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.answer import Answer, Quote
from assistant.app import record_vote
from assistant.cli import main
from assistant.config import Settings
from assistant.feedback import (
    FeedbackLog,
    RecentAnswers,
    article_finder,
    article_texts,
    export_cases,
    feedback_path,
    note_record,
    read_votes,
    summary_lines,
)
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article

ARTICLE = (
    "火神山医院建成交付\n\n"
    "　　火神山医院由中建三局牵头建设，十天建成。\n"
    "　　医院设有病床一千张，由解放军医疗队接管。\n"
)


def _answer(markdown: str, quote: str = "火神山医院由中建三局牵头建设") -> Answer:
    q = Quote(
        rank=1,
        article_id="a.txt",
        title="火神山医院建成交付",
        paragraph=1,
        start=12,
        end=12 + len(quote),
        quote=quote,
        passage=quote,
        score=0.9,
        passage_start=12,
        passage_end=12 + len(quote),
    )
    return Answer("火神山医院是谁建的？", True, markdown, [q], "高")


def _history(*turns: tuple[str, str]) -> list[dict[str, str]]:
    out = []
    for question, reply in turns:
        out += [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]
    return out


def test_a_vote_records_its_question_history_and_quotes(tmp_path: Path) -> None:
    log, recent = FeedbackLog(tmp_path / "index" / "feedback.jsonl"), RecentAnswers()
    shown = "> 火神山医院由中建三局牵头建设 [1]\n"
    recent.remember(shown, _answer(shown))
    history = _history(("武汉建了哪些医院？", "> 火神山和雷神山 [1]"), ("火神山医院是谁建的？", shown))
    vote_id = record_vote(log, recent, history, 3, False)
    assert vote_id
    [vote] = read_votes(log.path).votes
    assert vote["vote"] == "down" and vote["question"] == "火神山医院是谁建的？"
    assert vote["history"] == ["武汉建了哪些医院？"]
    assert vote["answered"] is True
    assert vote["quotes"] == [
        {"article_id": "a.txt", "start": 12, "end": 26, "quote": "火神山医院由中建三局牵头建设"}
    ]


def test_a_vote_on_a_forgotten_answer_or_a_refusal_still_counts(tmp_path: Path) -> None:
    log, recent = FeedbackLog(tmp_path / "feedback.jsonl"), RecentAnswers(size=1)
    refusal = "这些文章里没有找到能回答「天津医疗队有多少党员？」的内容。\n"
    assert record_vote(log, recent, _history(("天津医疗队有多少党员？", refusal)), 1, True)
    [vote] = read_votes(log.path).votes
    assert vote["vote"] == "up" and vote["answered"] is False and vote["quotes"] == []


def test_a_vote_on_the_reply_to_a_blank_message_is_not_pinned_on_the_question_before(tmp_path: Path) -> None:
    # The chat sends a blank or emoji-only message and shows 「请输入一个问题」 with 👍/👎; a 👎 there
    # must not become a wrong-answer case for the real question asked before it.
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    empty = "请输入一个问题（the question is empty）"
    history = _history(
        ("火神山医院是谁建的？", "> 火神山医院由中建三局牵头建设 [1]"), ("   ", empty), ("😀", empty)
    )
    for index in (3, 5):
        assert record_vote(log, RecentAnswers(), history, index, False) is None
    assert not log.path.exists()


@pytest.mark.parametrize(("index", "liked"), [(0, False), (7, False), (1, ""), (1, None), ("1", True)])
def test_votes_that_name_no_answer_are_not_recorded(tmp_path: Path, index: object, liked: object) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    history = _history(("问题？", "> 回答 [1]"))
    assert record_vote(log, RecentAnswers(), history, index, liked) is None
    assert not log.path.exists()


def test_a_failed_write_is_reported_not_raised(tmp_path: Path) -> None:
    blocked = tmp_path / "feedback.jsonl"
    blocked.mkdir()  # a folder where the file should be
    assert FeedbackLog(blocked).append({"id": "x", "vote": "up"}) is False
    assert record_vote(FeedbackLog(blocked), RecentAnswers(), _history(("问？", "> 答 [1]")), 1, True) is None


def test_notes_merge_into_their_vote_and_bad_lines_are_counted(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    vote_id = record_vote(log, RecentAnswers(), _history(("谁建的？", "> 某某 [1]")), 1, False)
    assert vote_id
    log.append(note_record(vote_id, " 引错了句子 ", "中建三局", False))
    with open(log.path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
        handle.write(json.dumps({"id": "orphan", "note": "x"}) + "\n")
    read = read_votes(log.path)
    assert read.bad_lines == 2
    [vote] = read.votes
    assert (vote["vote"], vote["note"], vote["correction"], vote["no_answer"]) == (
        "down",
        "引错了句子",
        "中建三局",
        False,
    )
    [line] = list(summary_lines(read.votes))
    assert "👎 谁建的？" in line and "正确答案：中建三局" in line


def test_export_turns_corrections_and_no_answer_votes_into_cases() -> None:
    texts = [("a.txt", "火神山医院由中建三局牵头建设。"), ("b.txt", "雷神山医院由中建三局承建。")]
    find = article_finder(texts)
    votes = [
        {"id": "1" * 32, "vote": "down", "question": "谁建的火神山？", "correction": "中建三局牵头"},
        {"id": "2" * 32, "vote": "down", "question": "门票多少钱？", "no_answer": True},
        {"id": "3" * 32, "vote": "down", "question": "病床几张？"},
        {"id": "4" * 32, "vote": "down", "question": "谁？", "correction": "不在文章里的字"},
        {"id": "5" * 32, "vote": "up", "question": "好问题"},
    ]
    export = export_cases(votes, find)
    assert export.cases == [
        {
            "id": "fb-111111111111",
            "question": "谁建的火神山？",
            "answers": ["中建三局牵头"],
            "article": "a.txt",
            "style": "feedback",
        },
        {
            "id": "fb-222222222222",
            "question": "门票多少钱？",
            "answers": [],
            "article": None,
            "style": "negative",
        },
    ]
    assert [v["question"] for v, _ in export.skipped] == ["病床几张？", "谁？"]


def test_article_texts_piece_overlapping_passages_together(
    fake_embedder: FakeEmbedder, settings: Settings
) -> None:
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    index = Assistant(settings, embedder=fake_embedder, build_if_missing=True).index
    [(article_id, text)] = list(article_texts(index.passages))
    assert article_id == "a.txt"
    assert "火神山医院由中建三局牵头建设，十天建成。" in text
    assert "医院设有病床一千张，由解放军医疗队接管。" in text


def test_cli_prints_and_exports_votes(
    fake_embedder: FakeEmbedder, settings: Settings, tmp_path: Path
) -> None:
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    Assistant(settings, embedder=fake_embedder, build_if_missing=True)
    index_dir = settings.index_dir
    runner = CliRunner()
    args = ["--index", str(index_dir), "--corpus", str(settings.corpus_dir)]
    assert "no votes" in runner.invoke(main, ["feedback", *args]).output
    log = FeedbackLog(feedback_path(index_dir))
    vote_id = record_vote(log, RecentAnswers(), _history(("谁建的？", "> 某某 [1]")), 1, False)
    assert vote_id
    log.append(note_record(vote_id, "", "中建三局牵头建设", False))
    record_vote(log, RecentAnswers(), _history(("病床几张？", "> 某某 [1]")), 1, False)
    shown = runner.invoke(main, ["feedback", *args])
    assert shown.exit_code == 0 and "谁建的？" in shown.output and "病床几张？" in shown.output
    out = tmp_path / "cases.jsonl"
    exported = runner.invoke(main, ["feedback", "--export", str(out), *args])
    assert exported.exit_code == 0, exported.output
    assert "wrote 1 case(s)" in exported.output and "skipped 「病床几张？」" in exported.output
    [case] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert case["answers"] == ["中建三局牵头建设"] and case["article"] == "a.txt"
