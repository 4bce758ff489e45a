"""Milvus against FAISS: the same first quote, BM25 agreement, build time and query latency.

Usage::

    python bench/store_parity.py [--vectors /work/evalidx/cmrc] [--seed-vectors INDEX] \\
        [--dataset …/cmrc2018_trial.json] [--out bench/out/store-parity] [--limit N]
    python bench/store_parity.py --update-only      # the 10k-passage one-article update

Per corpus (the seed corpus in corpus/, and the CMRC 2018 trial contexts) two indexes are
built, one a store (FAISS, and Milvus Lite in ``--out``), with every vector taken from an
existing index (``--vectors``, ``--seed-vectors``; read, never changed): nothing is embedded
but the questions. Every question is then asked of both through the same Answerer, and the
first quotes compared; the BM25 top 10 of each engine are compared too.

``--update-only`` builds a ~10k-passage Milvus Lite collection from generated articles
(vectors from a hashing embedder: the figure is what reaches the store, not quality), edits
one article, and counts the ids that the update sends to Milvus.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.answer import Answerer
from assistant.cache import EmbeddingCache
from assistant.config import Settings
from assistant.evaluate import load_squad
from assistant.indexing import index_articles, update_index
from assistant.lexical import tokenize
from assistant.retrieval import Retriever
from assistant.store import IndexData, load_index, older_vectors

SEED_QUESTIONS = [
    "火神山医院是哪家企业负责建设的？",
    "雷神山医院项目指挥部成立了什么组织？",
    "天津首批援助医疗队中有多少名党员？",
    "广东佛山怡景社区有多少社区工作人员？",
    "红烧肉应该怎么做？",
    "中国五矿24小时内完成了多少件钢结构加工件？",
    "医疗队什么时候出发？",
    "社区工作人员做了哪些防控工作？",
]


def stored_vectors(index_dir: Path, model: str) -> tuple[list[str], np.ndarray]:
    """Every text hash and vector an index holds (passages and sentences): format 3 through the
    library's own reader, the current format through its store, whichever that is."""
    older = older_vectors(index_dir, model)
    if older is not None:
        return older
    index = load_index(index_dir)
    ids = np.asarray([p.id for p in index.passages], dtype=np.int64)
    hashes = [p.text_hash for p in index.passages] + index.sentence_hashes
    return hashes, np.concatenate([index.store.vectors_of(ids), index.sentence_vectors.astype(np.float32)])


def seed_cache(index_dir: Path, model: str, source: Path) -> None:
    EmbeddingCache(index_dir, model).add(*stored_vectors(source, model))


def first_quotes(index: IndexData, embedder: object, vectors: dict[str, np.ndarray], questions: list[str]):
    """Each question's first quote (article, start, end) or None, and the seconds per ask."""
    retriever = Retriever(index, embedder)  # type: ignore[arg-type]
    retriever.embed_question = vectors.__getitem__  # type: ignore[assignment, method-assign]
    answerer = Answerer(retriever)
    out, seconds = [], []
    for q in questions:
        started = time.perf_counter()
        reply = answerer.ask(q)
        seconds.append(time.perf_counter() - started)
        first = reply.quotes[0] if reply.quotes else None
        out.append((first.article_id, first.start, first.end, first.quote) if first else None)
    return out, seconds


def bm25_agreement(a: IndexData, b: IndexData, questions: list[str]) -> tuple[float, float]:
    """Share of questions with the same BM25 first passage, and mean overlap of the top 10."""
    same_first, overlap = 0, []
    for q in questions:
        terms = tokenize(q)
        x = [pid for pid, _ in a.store.search_bm25(terms, 10)]
        y = [pid for pid, _ in b.store.search_bm25(terms, 10)]
        same_first += bool(x and y and x[0] == y[0]) or (not x and not y)
        overlap.append(len(set(x) & set(y)) / max(len(set(x) | set(y)), 1))
    return same_first / max(len(questions), 1), statistics.mean(overlap) if overlap else 1.0


def compare(name: str, builds: dict[str, tuple[IndexData, float]], embedder, questions: list[str]) -> dict:
    print(f"\n== {name}: {len(questions)} questions")
    vectors = {q: v for q, v in zip(questions, embedder.embed_queries(questions), strict=True)}
    answers, timing = {}, {}
    for store, (index, build_seconds) in builds.items():
        first_quotes(index, embedder, vectors, questions[:10])  # warm: jieba, caches, connections
        answers[store], seconds = first_quotes(index, embedder, vectors, questions)
        timing[store] = {
            "build_s": round(build_seconds, 2),
            "ask_p50_ms": round(statistics.median(seconds) * 1000, 1),
            "ask_p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 1),
        }
    faiss_answers, milvus_answers = answers["faiss"], answers["milvus"]
    same = [x == y for x, y in zip(faiss_answers, milvus_answers, strict=True)]
    first, top10 = bm25_agreement(builds["faiss"][0], builds["milvus"][0], questions)
    result = {
        "questions": len(questions),
        "same_first_quote": round(sum(same) / max(len(same), 1), 4),
        "bm25_same_first": round(first, 4),
        "bm25_top10_jaccard": round(top10, 4),
        **{f"{s}_{k}": v for s, t in timing.items() for k, v in t.items()},
    }
    print(json.dumps(result, ensure_ascii=False))
    for q, ok, x, y in zip(questions, same, faiss_answers, milvus_answers, strict=True):
        if not ok:
            print(f"  differs: {q}\n    faiss : {x}\n    milvus: {y}")
    return result


def build_pair(settings: Settings, embedder, build) -> dict[str, tuple[IndexData, float]]:
    out = {}
    for store in ("faiss", "milvus"):
        spec = "faiss" if store == "faiss" else f"milvus://{settings.index_dir.parent / 'milvus.db'}"
        s = replace(settings, index_dir=settings.index_dir.parent / store, store=spec)
        started = time.perf_counter()
        build(s)
        out[store] = (load_index(s.index_dir), time.perf_counter() - started)
    return out


def parity(args: argparse.Namespace) -> None:
    from assistant.embedding import Embedder

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    embedder = Embedder(Settings().model)
    seed = Settings(corpus_dir=Path("corpus"), index_dir=args.out / "seed" / "x")
    for store in ("faiss", "milvus"):
        seed_cache(seed.index_dir.parent / store, embedder.model_id, args.seed_vectors)
    seed_builds = build_pair(seed, embedder, lambda s: update_index(s, embedder))
    results = {"seed": compare("seed corpus", seed_builds, embedder, SEED_QUESTIONS)}

    articles, questions = load_squad(args.dataset)
    questions = [q for q in questions if q.text.strip()]  # the trial set has one empty question
    questions = questions[: args.limit] if args.limit else questions
    cmrc = Settings(index_dir=args.out / "cmrc" / "x")
    for store in ("faiss", "milvus"):
        seed_cache(cmrc.index_dir.parent / store, embedder.model_id, args.vectors)
    cmrc_builds = build_pair(cmrc, embedder, lambda s: index_articles(articles, s, embedder))
    results["cmrc"] = compare("CMRC 2018 trial", cmrc_builds, embedder, [q.text for q in questions])
    (args.out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), "utf-8")


class HashEmbedder:
    """Deterministic character-bigram vectors: enough to build a collection, no model needed."""

    model_id = "bench-bigram-hash"
    dim = 384

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for i in range(len(text) - 1):
                out[row, hash(text[i : i + 2]) % self.dim] += 1.0
        out[:, 0] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)


def one_article_update(args: argparse.Namespace) -> None:
    from assistant.stores.milvus import MilvusStore

    root = args.out / "update"
    shutil.rmtree(root, ignore_errors=True)
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    rng = np.random.default_rng(7)
    words = list("火神山医院中建三局党员突击队天津医疗队社区工作人员钢结构加工件武汉防控物资")
    for n in range(args.articles):
        paragraphs = [
            "".join(rng.choice(words, 60)) + "。" + "".join(rng.choice(words, 60)) + "。" for _ in range(6)
        ]
        (corpus / f"{n:05d}.txt").write_text("\n".join("　　" + p for p in paragraphs), encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", store=f"milvus://{root / 'update.db'}")
    embedder = HashEmbedder()
    started = time.perf_counter()
    report = update_index(settings, embedder)
    print(f"built: {report.passages} passages in {time.perf_counter() - started:.1f}s ({report.timing()})")
    sent = {"add": 0, "delete": 0}
    add, delete = MilvusStore.add, MilvusStore.delete

    def counting_add(self, ids, vectors, fields):  # type: ignore[no-untyped-def]
        sent["add"] += len(ids)
        return add(self, ids, vectors, fields)

    def counting_delete(self, ids):  # type: ignore[no-untyped-def]
        sent["delete"] += len(ids)
        return delete(self, ids)

    MilvusStore.add, MilvusStore.delete = counting_add, counting_delete  # type: ignore[method-assign]
    edited = corpus / "00042.txt"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n　　新增一段：雷神山医院。", encoding="utf-8")
    started = time.perf_counter()
    report = update_index(settings, embedder)
    print(
        f"one article changed: {report.summary()}; sent to Milvus: {sent['add']} points added, "
        f"{sent['delete']} deleted, in {time.perf_counter() - started:.1f}s; "
        f"collection holds {load_index(settings.index_dir).store.count()} points"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=Path, default=Path("/work/evalidx/cmrc"))
    parser.add_argument("--seed-vectors", type=Path, default=Path("index"))
    parser.add_argument(
        "--dataset", type=Path, default=Path("/work/shared/datasets/cmrc2018/cmrc2018_trial.json")
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out/store-parity"))
    parser.add_argument("--limit", type=int, help="Ask only the first N CMRC questions.")
    parser.add_argument("--update-only", action="store_true")
    parser.add_argument("--articles", type=int, default=2500, help="Generated articles for --update-only.")
    args = parser.parse_args()
    if args.update_only:
        one_article_update(args)
    else:
        parity(args)


if __name__ == "__main__":
    main()
