from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answer import Answerer, AnswerSettings, clean_question, highlight
from assistant.config import Settings
from assistant.errors import QuestionError
from assistant.indexing import update_index
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import FakeEmbedder, write_article

ARTICLE = (
    "---\ntitle: 火神山<医院>\n---\n"
    "　　一月下旬，武汉开始建设火神山医院。\n"
    "　　中建三局在火神山医院项目建设指挥部成立临时党委，400余名党员在党旗下郑重宣誓。\n"
    "　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。\n"
)


@pytest.fixture
def answerer(settings: Settings, fake_embedder: FakeEmbedder) -> Answerer:
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    update_index(settings, fake_embedder)
    return Answerer(Retriever(load_index(settings.index_dir), fake_embedder))


def test_quote_is_the_answering_sentence_at_exact_offsets(answerer: Answerer, settings: Settings) -> None:
    answer = answerer.ask("中建三局成立了什么组织？")
    assert answer.answered
    text = (settings.corpus_dir / "a.txt").read_text(encoding="utf-8")
    first = answer.quotes[0]
    assert "临时党委" in first.quote
    assert first.quote == text[first.start : first.end]
    assert first.passage == text[first.passage_start : first.passage_end]
    assert first.paragraph == 2 and first.title == "火神山<医院>"
    assert "&lt;医院&gt;" in answer.answer and "<mark>" in answer.answer


def test_off_topic_question_abstains(answerer: Answerer) -> None:
    answer = answerer.ask("红烧肉应该怎么做？")
    assert not answer.answered and answer.quotes == []
    assert "没有找到" in answer.answer


def test_follow_up_carries_terms_from_the_previous_question(answerer: Answerer) -> None:
    answer = answerer.ask("他们有多少人？", history=["天津市组建医疗队增援武汉了吗？"])
    assert "天津市" in answer.carried_terms or "天津" in answer.carried_terms
    assert "74名党员" in answer.quotes[0].quote


def test_highlight_escapes_and_marks_the_quote(answerer: Answerer) -> None:
    quote = answerer.ask("中建三局成立了什么组织？").quotes[0]
    marked = highlight(quote)
    assert marked.count("<mark>") == 1
    assert marked.split("<mark>")[1].split("</mark>")[0] == quote.quote


@pytest.mark.parametrize("bad", ["", "   ", "？？？", "\x00\x01"])
def test_empty_questions_are_refused(bad: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        clean_question(bad, 500)


def test_huge_question_is_refused_with_the_limit() -> None:
    with pytest.raises(QuestionError, match="at most 500"):
        clean_question("问" * 100_000, 500)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_question_answers_or_raises_question_error(answerer_for_property, question: str) -> None:
    try:
        answer = answerer_for_property.ask(question)
    except QuestionError:
        return
    assert "<script" not in answer.answer
    for q in answer.quotes:
        assert q.quote in ARTICLE


@pytest.fixture(scope="module")
def answerer_for_property(tmp_path_factory) -> Answerer:
    root = tmp_path_factory.mktemp("prop")
    (root / "corpus").mkdir()
    write_article(root / "corpus", "a.txt", ARTICLE)
    s = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model=FakeEmbedder.model_id)
    embedder = FakeEmbedder()
    update_index(s, embedder)
    return Answerer(Retriever(load_index(s.index_dir), embedder), AnswerSettings())
