from __future__ import annotations

import numpy as np
import pytest

from assistant.answer import Answerer
from assistant.config import Settings
from assistant.errors import QuestionError
from assistant.indexing import update_index
from assistant.lexical import BM25, tokenize
from assistant.retrieval import MODES, Filter, FusionWeights, Retriever, fuse
from assistant.store import load_index
from tests.conftest import FakeEmbedder, write_article


def test_fuse_rewards_agreement_and_respects_weights() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    lexical = [(2, 9.0), (4, 5.0), (1, 1.0)]
    ranked = [pid for pid, _ in fuse(dense, lexical, FusionWeights())]
    assert ranked[0] == 2 and set(ranked) == {1, 2, 3, 4}
    only_dense = [pid for pid, _ in fuse(dense, lexical, FusionWeights(dense=1.0, bm25=0.0))]
    assert only_dense[:3] == [1, 2, 3]


def test_bm25_ranks_by_rare_terms_and_skips_non_matches() -> None:
    docs = [tokenize(t) for t in ["火神山医院建设", "雷神山医院建设", "天津医疗队出发", "医院 医院 医院"]]
    bm25 = BM25().fit(docs)
    hits = bm25.search(tokenize("火神山医院"), 10)
    assert hits[0][0] == 0
    assert 2 not in [i for i, _ in hits]
    assert bm25.search(tokenize("红烧肉"), 10) == []
    assert bm25.idf("火神") > bm25.idf("医院")


def test_bm25_scores_match_the_formula() -> None:
    docs = [["a", "b"], ["a"], ["c", "c", "a"]]
    bm25 = BM25(k1=1.2, b=0.75).fit(docs)
    n, avg = 3, 2.0
    idf_c = np.log1p((n - 1 + 0.5) / 1.5)
    expected = idf_c * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / avg))
    assert np.isclose(bm25.scores(["c"])[2], expected)


def test_bm25_save_load(tmp_path) -> None:
    bm25 = BM25().fit([tokenize("火神山医院"), tokenize("雷神山医院")])
    bm25.save(tmp_path)
    again = BM25.load(tmp_path)
    assert np.allclose(again.scores(["医院"]), bm25.scores(["医院"]))


def test_bm25_term_weights_scale_contributions() -> None:
    bm25 = BM25().fit([tokenize("火神山医院建设"), tokenize("天津医疗队出发")])
    plain = bm25.scores(["火神山", "天津"])
    damped = bm25.scores(["火神山", "天津"], {"天津": 0.25})
    assert np.isclose(damped[0], plain[0]) and np.isclose(damped[1], plain[1] * 0.25)
    allowed = np.array([False, True])
    assert [i for i, _ in bm25.search(["火神山", "天津"], 5, allowed=allowed)] == [1]


DATED = {
    "a.txt": "---\ntitle: 甲\ndate: 2020-01-27\nsource: 人民日报\n---\n　　天津医疗队出发，其中74名党员。\n",
    "b.txt": "---\ntitle: 乙\ndate: 2020-02-10\nsource: 新华社\n---\n　　天津第二批医疗队出发，其中90名党员。\n",
    "c.txt": "---\ntitle: 丙\n---\n　　天津第三批医疗队出发，其中120名党员。\n",
}


@pytest.fixture
def dated_retriever(settings: Settings, fake_embedder: FakeEmbedder) -> Retriever:
    for name, text in DATED.items():
        write_article(settings.corpus_dir, name, text)
    update_index(settings, fake_embedder)
    return Retriever(load_index(settings.index_dir), fake_embedder)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (Filter(), {"a.txt", "b.txt", "c.txt"}),
        (Filter(article="b.txt"), {"b.txt"}),
        (Filter(article="丙"), {"c.txt"}),
        (Filter(source="人民日报"), {"a.txt"}),
        (Filter(since="2020-02"), {"b.txt"}),
        (Filter(until="2020-01"), {"a.txt"}),
        (Filter(since="2020-01-01", until="2020-02-29"), {"a.txt", "b.txt"}),
    ],
)
def test_filters_restrict_both_rankings(
    dated_retriever: Retriever, where: Filter, expected: set[str]
) -> None:
    for mode in MODES:
        hits = dated_retriever.search("天津医疗队有多少名党员？", k=10, mode=mode, where=where)
        assert {h.passage.article_id for h in hits} == expected, (mode, where)


def test_prior_article_moves_its_passages_up(dated_retriever: Retriever) -> None:
    question = "天津医疗队有多少名党员？"
    plain = dated_retriever.search(question, k=3)
    last = plain[-1].passage.article_id
    favoured = dated_retriever.search(question, k=3, prior_article=last, prior_weight=1.0)
    assert favoured[0].passage.article_id == last


def test_answer_to_an_impossible_filter_says_so(dated_retriever: Retriever) -> None:
    with pytest.raises(QuestionError, match="no article matches the filter"):
        Answerer(dated_retriever).ask("天津医疗队有多少名党员？", where=Filter(source="路透社"))


def test_bm25_from_kept_rows_and_new_tokens_equals_a_fit_from_scratch(tmp_path) -> None:
    a, b, c, d = (
        tokenize(t) for t in ["火神山医院建设", "雷神山医院授旗", "天津医疗队出发", "山东医疗队出发"]
    )
    old = BM25().fit([a, b, c])
    updated = BM25().from_rows([2, d, 0], old)  # keep c and a, drop b, add d
    scratch = BM25().fit([c, d, a])
    assert "授旗" not in updated.vocab  # only the dropped passage used it
    assert set(updated.vocab) == set(scratch.vocab)
    for query in (["医疗队", "出发"], ["火神", "医院"], ["山东"]):
        assert np.allclose(updated.scores(query), scratch.scores(query))
    updated.save(tmp_path)
    assert np.allclose(BM25.load(tmp_path).scores(["医疗队"]), scratch.scores(["医疗队"]))


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("2020-02-30", None),
        (None, "2020-13"),
        ("2020-2", None),
        ("20200205", None),
        ("2月", None),
        ("2020-03", "2020-02-28"),
    ],
)
def test_filter_refuses_impossible_or_malformed_dates(since: str | None, until: str | None) -> None:
    with pytest.raises(QuestionError, match="date"):
        Filter(since=since, until=until)


def test_filter_accepts_real_dates_at_every_precision() -> None:
    assert Filter(since="2020-02-29", until="2020-02")  # a leap day; a day within the month
    assert Filter(since="2020", until="2020-12-31")


def test_a_traditional_question_is_embedded_in_the_script_of_the_articles(settings: Settings) -> None:
    class Recording(FakeEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.queries: list[str] = []

        def embed_queries(self, texts: list[str]) -> np.ndarray:
            self.queries.extend(texts)
            return super().embed_queries(texts)

    write_article(
        settings.corpus_dir, "a.txt", "---\ntitle: 火神山医院\n---\n　　中建三局负责建设火神山医院。\n"
    )
    embedder = Recording()
    update_index(settings, embedder)
    Retriever(load_index(settings.index_dir), embedder).embed_question("火神山醫院是哪家企業負責建設的？")
    assert embedder.queries[-1] == "火神山医院是哪家企业负责建设的？"

    (settings.corpus_dir / "a.txt").write_text(
        "---\ntitle: 火神山醫院\n---\n　　中建三局負責建設火神山醫院。\n", "utf-8"
    )
    update_index(settings, embedder)
    Retriever(load_index(settings.index_dir), embedder).embed_question("火神山醫院是哪家企業負責建設的？")
    assert embedder.queries[-1] == "火神山醫院是哪家企業負責建設的？"  # traditional articles: as written
