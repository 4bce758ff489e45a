"""Cost of adding one article to a large index, against the full rebuild.

Usage::

    python bench/update_speed.py [--articles 700] [--out bench/out/update]
    python bench/update_speed.py --again     # one more article into the index the last run left

Builds an index over ``--articles`` People's Daily (1998) articles of ~1,500
characters (≥ 5,000 passages at the default), then adds one more article and
runs ``update_index``. Reports the full-build time, the update time, and the
time the model alone takes to embed the new article's passages and sentences,
all from this one run, so the update's overhead is update − embedding. The
model and jieba are loaded before timing, as they are in a running `serve`.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import time
from pathlib import Path

from people_daily import write_corpus

from assistant.chunking import chunk_article
from assistant.config import Settings
from assistant.corpus import read_article
from assistant.embedding import Embedder
from assistant.indexing import titled, update_index
from assistant.lexical import tokenize


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=700)
    parser.add_argument("--out", type=Path, default=Path("bench/out/update"))
    parser.add_argument(
        "--again",
        action="store_true",
        help="Keep the index a previous run built and time one more article only.",
    )
    args = parser.parse_args()
    corpus, index = args.out / "corpus", args.out / "index"
    settings = Settings(corpus_dir=corpus, index_dir=index)
    embedder = Embedder(settings.model)
    full = None
    if not args.again:
        shutil.rmtree(args.out, ignore_errors=True)
        write_corpus(corpus, args.articles)
        started = time.perf_counter()
        full = update_index(settings, embedder, full=True, show_progress=True)
        full_seconds = time.perf_counter() - started
        print(
            f"full build: {full.articles} articles, {full.passages} passages, {full.sentences} sentences, "
            f"{full.embedded} texts embedded in {full_seconds:.1f}s"
        )

    # An article not in the corpus yet (a file is pd-<its number>.txt).
    skip = next(n for n in itertools.count(args.articles + 50) if not (corpus / f"pd-{n:05}.txt").exists())
    [new] = write_corpus(corpus, 1, skip=skip)
    article = read_article(new, corpus)
    passages = chunk_article(article, settings.chunk)
    texts = [p.text for p in passages]
    texts += list(
        dict.fromkeys(
            titled(article.title, article.text[s.start : s.end]) for p in passages for s in p.sentences
        )
    )
    tokenize("预热")  # load jieba's dictionary, as the model is loaded: both are warm in `serve`
    started = time.perf_counter()
    embedder.embed_passages(texts)
    embed_seconds = time.perf_counter() - started

    started = time.perf_counter()
    report = update_index(settings, embedder)
    update_seconds = time.perf_counter() - started
    print(f"new article: {len(article.text)} characters, {len(passages)} passages, {len(texts)} texts")
    print(f"embedding them alone: {embed_seconds:.2f}s")
    print(f"update: {update_seconds:.2f}s ({report.summary()})")
    print(f"update overhead beyond embedding: {update_seconds - embed_seconds:.2f}s")
    print(f"update stages: {report.timing(2)}")
    if full is not None:
        print(f"full build stages: {full.timing()}")


if __name__ == "__main__":
    main()
