"""HNSW recall against exact search, on every real e5 vector the other benches left behind.

Usage::

    python bench/build_overhead.py    # a real 12.4k-passage People's Daily index: ~57k vectors
    python bench/inews.py             # 46.7k inews passage vectors, in its embedding cache
    python bench/hnsw_recall.py [--index bench/out/build-overhead/index] [--cache bench/out/inews/index]

Vectors come from built indexes (passage and sentence vectors) and from the
embedding caches of index folders (what ``bench/inews.py`` embeds), duplicates
removed. Questions are real text embedded as queries by the model: the opening
clauses of random passages of the first index, and inews headlines. For each
HNSW setting: build time, recall@10 against ``IndexFlatIP`` over the same
vectors, and time per query beside the exact search's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import faiss
import numpy as np
from inews import articles
from scale import questions

from assistant.cache import EmbeddingCache
from assistant.config import HnswSettings
from assistant.embedding import Embedder
from assistant.store import load_index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, nargs="+", default=[Path("bench/out/build-overhead/index")])
    parser.add_argument("--cache", type=Path, nargs="*", default=[Path("bench/out/inews/index")])
    parser.add_argument("--questions", type=int, default=200, help="Questions of each kind.")
    args = parser.parse_args()
    indexes = [load_index(folder) for folder in args.index]
    embedder = Embedder(indexes[0].model)
    parts = [
        v
        for i in indexes
        for v in (i.store.vectors_of(i.passages.ids), i.sentence_vectors.astype(np.float32))
    ]
    for folder in args.cache:
        cache = EmbeddingCache(folder, embedder.model_id)
        parts.append(np.stack(list(cache.vectors.values())).astype(np.float32))
    real = np.unique(np.concatenate(parts), axis=0)
    rng = np.random.default_rng(11)
    headlines = [h for h, _ in articles()]
    asked = {
        "passage openings": questions(indexes[0], args.questions, rng),
        "inews headlines": [
            headlines[int(i)] for i in rng.choice(len(headlines), args.questions, replace=False)
        ],
    }
    query_vectors = {kind: embedder.embed_queries(qs).astype(np.float32) for kind, qs in asked.items()}

    exact = faiss.IndexFlatIP(real.shape[1])
    exact.add(real)
    truth, exact_ms = {}, []
    for kind, vectors in query_vectors.items():
        started = time.perf_counter()
        truth[kind] = exact.search(vectors, 10)[1]
        exact_ms.append((time.perf_counter() - started) * 1000 / len(vectors))
    kinds = list(asked)
    print(
        f"{len(real):,} distinct real e5 vectors; {args.questions} questions of each kind: {', '.join(kinds)}"
    )
    print(f"exact search (IndexFlatIP): {statistics.mean(exact_ms):.2f} ms/query\n")
    print(f"| M | efConstruction | build | efSearch | recall@10 ({' / '.join(kinds)}) | ms/query |")
    print("|---:|---:|---:|---:|---:|---:|")
    chosen = HnswSettings()
    for m, ef_construction in ((32, 80), (chosen.m, chosen.ef_construction)):
        hnsw = faiss.IndexHNSWFlat(real.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = ef_construction
        started = time.perf_counter()
        hnsw.add(real)
        build = time.perf_counter() - started
        for ef in (128, 256, 512, 1024):
            hnsw.hnsw.efSearch = ef
            recalls, elapsed = [], 0.0
            for kind, vectors in query_vectors.items():
                started = time.perf_counter()
                found = hnsw.search(vectors, 10)[1]
                elapsed += time.perf_counter() - started
                hits = [len(set(a) & set(b)) / 10 for a, b in zip(found, truth[kind], strict=True)]
                recalls.append(f"{statistics.mean(hits):.4f}")
            ms = elapsed * 1000 / sum(len(v) for v in query_vectors.values())
            print(f"| {m} | {ef_construction} | {build:.1f} s | {ef} | {' / '.join(recalls)} | {ms:.2f} |")


if __name__ == "__main__":
    main()
