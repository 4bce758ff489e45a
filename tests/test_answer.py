from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answer import (
    Answerer,
    AnswerSettings,
    clean_question,
    confidence_meaning,
    highlight,
    looks_like_follow_up,
)
from assistant.config import Settings
from assistant.errors import QuestionError
from assistant.indexing import update_index
from assistant.lexical import tokenize
from assistant.quoting import models
from assistant.retrieval import Retriever
from assistant.store import load_index
from tests.conftest import FakeEmbedder, answerer_over, write_article

ARTICLE = (
    "---\ntitle: 火神山<医院>\n---\n"
    "　　一月下旬，武汉开始建设火神山医院。\n"
    "　　中建三局在火神山医院项目建设指挥部成立临时党委，400余名党员在党旗下郑重宣誓。\n"
    "　　天津市组建医疗队增援武汉，74名党员进入首批援助医疗队。\n"
)


@pytest.fixture
def answerer(settings: Settings, fake_embedder: FakeEmbedder) -> Answerer:
    return answerer_over(settings, fake_embedder, ARTICLE)


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


def test_the_label_says_what_it_meant_and_the_raw_score_is_not_shown(answerer: Answerer) -> None:
    answer = answerer.ask("中建三局成立了什么组织？")
    held = models().held[answer.confidence]
    meaning = confidence_meaning(answer.confidence)
    assert f"约 {round(held * 10)} 成" in meaning or "几乎都" in meaning or "很少" in meaning
    assert f'<strong title="{meaning}' in answer.answer and f"<small>{meaning}</small>" in answer.answer
    assert "得分" not in answer.answer and f"{answer.quotes[0].score:.2f}" not in answer.answer
    assert answer.to_json()["quotes"][0]["score"] == answer.quotes[0].score


def test_a_refusal_offers_the_nearest_sentences_folded_and_unconfirmed(
    answerer: Answerer, settings: Settings
) -> None:
    refused = answerer.ask("红烧肉应该怎么做？")
    assert not refused.answered and refused.quotes == [] and refused.confidence == "无"
    assert 1 <= len(refused.nearest) <= AnswerSettings().nearest
    text = (settings.corpus_dir / "a.txt").read_text(encoding="utf-8")
    for q in refused.nearest:
        assert q.quote == text[q.start : q.end]
    # Folded (a closed <details>), labelled unconfirmed, after the refusal line.
    refusal, fold = refused.answer.split("<details>", 1)
    assert "没有找到" in refusal and "<mark>" not in refusal
    assert fold.startswith("<summary>未经确认的相关段落") and "<mark>" in fold
    assert refused.to_json()["nearest"][0]["citation"].startswith("《火神山")
    assert answerer.ask("中建三局成立了什么组织？").nearest == []


def test_follow_up_carries_terms_from_the_previous_question(answerer: Answerer) -> None:
    answer = answerer.ask("他们有多少人？", history=["天津市组建医疗队增援武汉了吗？"])
    assert "天津市" in answer.carried_terms or "天津" in answer.carried_terms
    assert "74名党员" in answer.quotes[0].quote


def test_highlight_escapes_and_marks_the_quote(answerer: Answerer) -> None:
    quote = answerer.ask("中建三局成立了什么组织？").quotes[0]
    marked = highlight(quote.passage, quote.passage_start, quote)
    assert marked.count("<mark>") == 1
    assert marked.split("<mark>")[1].split("</mark>")[0] == quote.quote


def test_sources_are_grouped_by_article_with_paragraph_and_citation(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    write_article(
        settings.corpus_dir,
        "b.txt",
        "---\ntitle: 天津医疗队出发\ndate: 2020-01-27\nsource: 人民日报\n---\n"
        "　　天津市首批援助湖北医疗队138人出发，其中74名党员。队员们在机场集结。\n",
    )
    update_index(settings, fake_embedder)
    index = load_index(settings.index_dir)
    # Every quote the candidates allow, so that both articles are quoted: grouping is what is tested.
    every_quote = AnswerSettings(further_within=1e9)
    answer = Answerer(Retriever(index, fake_embedder), every_quote).ask("天津医疗队中有多少名党员？")
    titles = {q.title for q in answer.quotes}
    assert len(titles) == 2, [q.quote for q in answer.quotes]
    for title in titles:  # one heading per article, however many of its quotes are shown
        assert answer.answer.count(f"**《{title.replace('<', '&lt;').replace('>', '&gt;')}》**") == 1
    dated = next(q for q in answer.quotes if q.article_id == "b.txt")
    assert dated.citation.startswith("《天津医疗队出发》，人民日报，2020-01-27，第1段：“")
    assert "2020-01-27 · 人民日报" in answer.answer and "<details>" in answer.answer
    text = (settings.corpus_dir / "b.txt").read_text(encoding="utf-8")
    start, paragraph = index.paragraph_text("b.txt", dated.paragraph)
    assert paragraph == text[start : start + len(paragraph)] and dated.quote in paragraph
    assert paragraph.endswith("队员们在机场集结。")


@pytest.mark.parametrize("bad", ["", "   ", "\x00\x01"])
def test_empty_questions_are_refused(bad: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        clean_question(bad, 500)


@pytest.mark.parametrize("bad", ["？？？", "😀😀🎉", "<>"])
def test_questions_of_symbols_alone_are_told_so_not_called_empty(bad: str) -> None:
    # A reader who sent 😀😀🎉 and reads 「the question is empty」 thinks the message was lost.
    with pytest.raises(QuestionError, match="没有文字.*no words"):
        clean_question(bad, 500)


def test_huge_question_is_refused_with_the_limit() -> None:
    with pytest.raises(QuestionError, match="at most 500"):
        clean_question("问" * 100_000, 500)


ALLOWED_TAGS = {"mark", "br", "blockquote", "details", "summary", "p", "code", "span", "strong", "small"}
NASTY = [
    "",
    " \t\n\u3000",
    "🎉🔥👍",
    "问" * 100_000,
    "\x00\x07\x1b[31m天津\u202e",
    "<script>alert(1)</script>火神山医院是谁建的？",
    "<img src=x onerror=alert(1)>天津医疗队有多少党员",
    "[点我](javascript:alert(1)) 天津医疗队有多少党员？",
    "**粗体** _斜体_ `代码` | 表格 ~~删~~ 红烧肉怎么做",
]


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.text(alphabet="<>[]()*_`|~&\"'火神山天津党员医疗队 ", max_size=80),
        st.sampled_from(NASTY),
    ),
    st.lists(st.sampled_from(NASTY + ["天津市组建医疗队增援武汉了吗？"]), max_size=3),
)
def test_any_question_answers_or_is_refused_and_user_text_stays_inert(
    answerer_for_property: Answerer, question: str, history: list[str]
) -> None:
    try:
        answer = answerer_for_property.ask(question, history=history)
    except QuestionError as exc:
        assert str(exc)
        return
    tags = {m.lower() for m in re.findall(r"</?\s*([a-zA-Z][\w-]*)", answer.answer)}
    assert tags <= ALLOWED_TAGS, tags
    assert not re.search(r"(?<!\\)\]\(", answer.answer)  # no live markdown link
    for q in answer.quotes:
        assert ARTICLE[q.start : q.end] == q.quote


@pytest.fixture(scope="module")
def answerer_for_property(tmp_path_factory) -> Answerer:
    root = tmp_path_factory.mktemp("prop")
    (root / "corpus").mkdir()
    s = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model=FakeEmbedder.model_id)
    return answerer_over(s, FakeEmbedder(), ARTICLE)


def test_follow_up_weights_decay_with_age_and_standalone_questions_carry_nothing(
    answerer: Answerer,
) -> None:
    history = ["火神山医院什么时候开始建设？", "天津市组建医疗队增援武汉了吗？"]
    question = "他们有多少名党员？"
    vector = answerer.retriever.embed_question(question)
    _, carried, prior = answerer._carry(question, tokenize(question), vector, history, "hybrid", None)
    f = answerer.follow_up
    assert carried["天津市"] == pytest.approx(f.carry)  # the last turn
    assert carried["建设"] == pytest.approx(f.carry * f.decay)  # one turn older
    assert "党员" not in carried  # already in the question
    assert prior == "a.txt"
    standalone = answerer.ask("中建三局在火神山医院成立了什么组织？", history=history)
    assert standalone.carried_terms == []


def test_invisible_characters_are_marked_in_the_answer_but_kept_in_the_quote(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    text = "---\ntitle: 合同\n---\n　　合同约定付款账号为\u202e1234\u202c，签字人是张\u200b三\ufeff。\n"
    write_article(settings.corpus_dir, "a.txt", text)
    update_index(settings, fake_embedder)
    answer = Answerer(Retriever(load_index(settings.index_dir), fake_embedder)).ask(
        "合同约定的付款账号是多少？"
    )
    quote = answer.quotes[0]
    assert text[quote.start : quote.end] == quote.quote and "\u202e" in quote.quote
    for code in ("202E", "202C", "200B", "FEFF"):
        assert f'<span class="ctl" title="U+{code}">⟨U+{code}⟩</span>' in answer.answer
    assert not re.search("[\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]", answer.answer)
    assert "\u202e" in answer.to_json()["quotes"][0]["quote"]


def test_words_that_only_contain_a_pronoun_do_not_make_a_follow_up() -> None:
    # 应该 holds 该, 因此 holds 此: a new question asked after another must not borrow its keywords
    # (红烧肉 after a question on 佛山 was answered, 中, with a quote on 佛山).
    for question in ("红烧肉应该怎么做？", "疫情期间因此停运的航线有多少条？", "其实火神山医院是谁设计的？"):
        assert not looks_like_follow_up(question), question
    for question in ("该医院是哪家企业负责建设的？", "他们应该怎么做才能按期交付？", "因此他们做了什么？"):
        assert looks_like_follow_up(question), question
