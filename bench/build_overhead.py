"""What a full build spends outside the model's encode, at ≥ 10k real passages.

Usage::

    python bench/update_speed.py                 # once: the 700-article index in bench/out/update
    python bench/build_overhead.py [--add 400]   # grows a copy of it, then times a full build

A full build from scratch at this size is ~40 min of encoding, nearly all of
it already paid by ``update_speed.py``. So this grows a copy of that index by
``--add`` more People's Daily articles with ``update_index`` (embedding only the
new texts, timed: the model's own encode), then builds the whole grown corpus
again into a fresh folder whose embedding cache already holds every vector.
That second build does everything a full build does (read, hash and
deduplicate every file, chunk, tokenise, BM25, FAISS, save) except encode,
so its time is the overhead a cold build would add to the encode.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
from people_daily import write_corpus

from assistant.cache import EmbeddingCache
from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.indexing import update_index
from assistant.lexical import tokenize
from assistant.store import load_index


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path("bench/out/update"))
    parser.add_argument("--add", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("bench/out/build-overhead"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    grown = Settings(corpus_dir=args.out / "corpus", index_dir=args.out / "index")
    shutil.copytree(args.source / "corpus", grown.corpus_dir)
    shutil.copytree(args.source / "index", grown.index_dir)
    before = len(list(grown.corpus_dir.glob("pd-*.txt")))
    write_corpus(grown.corpus_dir, args.add, skip=before)
    embedder = Embedder(grown.model)
    tokenize("预热")  # jieba's dictionary, loaded once per process in any build
    report = update_index(grown, embedder, show_progress=True)
    print(f"grown by {args.add} articles: {report.summary()}; {report.embedded} texts embedded")
    print(f"stages: {report.timing()}")

    index = load_index(grown.index_dir)
    fresh = Settings(corpus_dir=grown.corpus_dir, index_dir=args.out / "rebuilt")
    cache = EmbeddingCache(fresh.index_dir, embedder.model_id)
    cache.add(index.passages.text_hashes(), index.store.vectors_of(index.passages.ids))
    cache.add(index.sentence_hashes, index.sentence_vectors.astype(np.float32))
    started = time.perf_counter()
    rebuilt = update_index(fresh, embedder)
    seconds = time.perf_counter() - started
    print(
        f"\nfull build, every vector cached: {rebuilt.articles} articles, {rebuilt.passages} passages, "
        f"{rebuilt.sentences} sentences, {rebuilt.embedded} texts embedded, {seconds:.1f} s"
    )
    print(f"stages: {rebuilt.timing(2)}")


if __name__ == "__main__":
    main()
