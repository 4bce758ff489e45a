"""Choose the hybrid fusion weights on a SQuAD-format dataset.

Usage::

    assistant eval --dataset ../shared/datasets/cmrc2018/cmrc2018_trial.json --keep-index bench/out/cmrc-index
    python bench/tune_fusion.py ../shared/datasets/cmrc2018/cmrc2018_trial.json bench/out/cmrc-index

Ranks every question once by dense and once by BM25 (depth 100), then scores
weighted reciprocal-rank fusion over a grid of (dense weight, BM25 weight, k)
by MRR@10 and recall@5, with the same gold passages as ``assistant eval``.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from assistant.embedding import Embedder
from assistant.evaluate import gold_passages, load_squad
from assistant.lexical import tokenize
from assistant.retrieval import FusionWeights, fuse
from assistant.store import load_index


def main(dataset: Path, index_dir: Path) -> None:
    articles, questions = load_squad(dataset)
    index = load_index(index_dir)
    embedder = Embedder(index.model)
    contexts = {a.id: a.text for a in articles}
    vectors = embedder.embed_queries([q.text for q in questions])
    runs = []
    for q, vector in zip(questions, vectors, strict=True):
        gold = gold_passages(index, q, contexts[q.article_id])
        runs.append((gold, index.store.search(vector, 100), index.store.search_bm25(tokenize(q.text), 100)))

    def score(weights: FusionWeights) -> tuple[float, float]:
        mrr = r5 = 0.0
        for gold, dense, lexical in runs:
            ranked = [pid for pid, _ in fuse(dense, lexical, weights)[:10]]
            first = next((r for r, pid in enumerate(ranked, 1) if pid in gold), None)
            mrr += 1 / first if first else 0.0
            r5 += bool(first and first <= 5)
        return mrr / len(runs), r5 / len(runs)

    print(
        f"{len(runs)} questions; dense only {score(FusionWeights(bm25=0.0))}, bm25 only {score(FusionWeights(dense=0.0))}"
    )
    results = []
    for dense_w, k in itertools.product((0.5, 0.75, 1.0, 1.25, 1.5, 2.0), (10, 30, 60, 100)):
        weights = FusionWeights(dense=dense_w, bm25=1.0, k=k)
        results.append((score(weights), dense_w, k))
    for (mrr, r5), dense_w, k in sorted(results, reverse=True)[:8]:
        print(f"dense {dense_w:<5} bm25 1.0  k {k:<4} MRR@10 {mrr:.4f}  recall@5 {r5:.4f}")
    base = score(FusionWeights())
    print(f"default (1.0, 1.0, k=60): MRR@10 {base[0]:.4f}  recall@5 {base[1]:.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
