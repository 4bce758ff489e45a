"""`assistant eval` over a natural-question dataset: a corpus folder plus a JSONL of questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import service
from assistant.cli import main
from assistant.config import Settings
from assistant.errors import CorpusError
from assistant.eval_natural import evaluate_natural, load_questions, locate
from tests.conftest import FakeEmbedder, write_article

ARTICLE = (
    "---\ntitle: 驰援武汉\ndate: 2020-01-28\n---\n"
    "　　天津市组建医疗队增援武汉。\n"
    "　　74名党员进入首批援助医疗队。\n"
    "　　中建三局在火神山医院项目建设指挥部成立临时党委。\n"
)
QUESTIONS = [
    {
        "id": "q1",
        "question": "天津首批援助医疗队里有多少名党员？",
        "answers": ["74名党员"],
        "article": "a.txt",
        "style": "paraphrase",
    },
    {
        "id": "q2",
        "question": "中建三局 临时党委",
        "answers": ["临时党委"],
        "article": "a.txt",
        "style": "keyword",
    },
    {"id": "q3", "question": "红烧肉应该怎么做？", "answers": [], "article": None, "style": "negative"},
]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "natural"
    (folder / "articles").mkdir(parents=True)
    write_article(folder / "articles", "a.txt", ARTICLE)
    lines = [json.dumps(q, ensure_ascii=False) for q in QUESTIONS]
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_every_style_is_reported_and_misses_are_put_down_to_a_stage(
    dataset: Path, settings: Settings, fake_embedder: FakeEmbedder, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.jsonl"
    result = evaluate_natural(dataset, fake_embedder, settings, dump=dump)
    assert result["questions"] == 3
    assert set(result["styles"]) == {"paraphrase", "keyword", "negative"}
    assert result["styles"]["keyword"]["answer_in_quote@1"] == 1.0
    assert result["styles"]["negative"] == {"n": 1, "refused": 1.0}
    answerable = result["answerable"]
    assert answerable["n"] == 2 and answerable["retrieved"] == 1.0
    assert sum(answerable["lost_in"].values()) == round(2 * (1 - answerable["answer_in_quote@1"]))
    assert result["abstention"]["recall"] == 1.0
    rows = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
    assert [r["style"] for r in rows] == ["paraphrase", "keyword", "negative"]
    assert any(c["has_answer"] for c in rows[0]["candidates"])
    assert not any(c["has_answer"] for c in rows[2]["candidates"])


def test_a_jsonl_takes_its_articles_from_the_corpus_option(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "make_embedder", lambda settings: FakeEmbedder())
    questions = tmp_path / "elsewhere" / "mine.jsonl"
    questions.parent.mkdir()
    questions.write_text((dataset / "questions.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["eval", "--dataset", str(questions), "--corpus", str(dataset / "articles"), "--json"],
        env={"ASSISTANT_MODEL": FakeEmbedder.model_id},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert report["answerable"]["n"] == 2 and report["abstention"]["negatives"] == 1
    table = CliRunner().invoke(
        main, ["eval", "--dataset", str(dataset)], env={"ASSISTANT_MODEL": FakeEmbedder.model_id}
    )
    assert table.exit_code == 0, table.output
    assert "keyword" in table.output and "misses lost in retrieval" in table.output


def test_bad_question_files_are_named_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "好", "answers": []}\n{"answers": ["x"]}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="line 2"):
        load_questions(bad)
    with pytest.raises(CorpusError, match="article folder"):
        locate(bad)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"question": "谁建的？", "answers": "中建三局"}', "'answers' must be a list of texts"),
        ('{"question": "谁建的？", "answers": [3]}', "'answers' must be a list of texts"),
        ('{"question": 12, "answers": []}', "'question' must be a non-empty text"),
        ('{"question": "  ", "answers": []}', "'question' must be a non-empty text"),
        ('{"question": "谁建的？", "answers": ["中建"], "article": 7}', "'article' must be a file name"),
    ],
)
def test_a_question_line_of_the_wrong_types_is_named_not_scored(
    tmp_path: Path, line: str, message: str
) -> None:
    # A string of answers was scored by its characters: a quote holding any one of them counted.
    bad = tmp_path / "q.jsonl"
    bad.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=f"line 1: .*{message}"):
        load_questions(bad)


def test_a_question_file_with_no_questions_is_a_message(tmp_path: Path) -> None:
    empty = tmp_path / "q.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no questions in the file"):
        load_questions(empty)


def test_the_answer_span_is_scored_by_whether_it_holds_a_gold_answer(
    dataset: Path, settings: Settings, fake_embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import answer, span

    # The span is each quote's first four characters, whatever the fitted model would pick.
    def first_four(question: str, sentence: str, offset: int, quote_score: float) -> span.AnswerSpan:
        start = len(sentence) - len(sentence.lstrip())
        return span.AnswerSpan(offset + start, offset + start + 4, sentence[start : start + 4], 0.9)

    monkeypatch.setattr(answer, "answer_span", first_four)
    result = evaluate_natural(dataset, fake_embedder, settings)["span"]
    assert result["answered"] == 2 and result["shown"] == 2 and result["shown_share"] == 1.0
    assert result["shown_on_negatives"] == 0
    # The spans are 74名党 and 中建三局: a span shorter than the gold answer (74名党员) does not
    # contain it, nor does one beside it (临时党委), so neither counts.
    assert result["contains_answer"] == 0.0
