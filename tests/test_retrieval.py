from __future__ import annotations

import numpy as np

from assistant.lexical import BM25, tokenize
from assistant.retrieval import FusionWeights, fuse


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
