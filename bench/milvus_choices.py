"""Two Milvus Lite choices measured on CMRC 2018 trial: the dense index type, and where sentence
vectors live.

Usage::

    python bench/milvus_choices.py [--vectors /work/evalidx/cmrc] [--limit N] [--types FLAT,HNSW,IVF_FLAT]
        [--out bench/out/milvus-choices]

Every passage and sentence vector comes from an existing index (``--vectors``, read, never
changed): only the questions are embedded. A FAISS index of the CMRC contexts is built from
them first; its passages then go into one Milvus Lite collection per dense index type.

``index``: per type, the build time (inserting every passage, flushing, loading the collection,
which builds the index, and the first search), the dense
search's latency, whether its top ``depth`` ids (what fusion reads) and first id match FLAT's,
and each question's first quote through the whole Answerer, against FLAT's.

``sentences``: the candidate sentences of each question (those of the passages quoting reads)
scored against the question vector three ways: from ``sentences.npy`` beside the index (today),
fetched from a Milvus collection by sentence row, and scored inside Milvus by a search
restricted to those rows. Latency per question, storage, and the largest score difference.
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

from assistant.cache import EmbeddingCache
from assistant.config import Settings
from assistant.evaluate import load_squad
from assistant.indexing import index_articles
from assistant.retrieval import Retriever
from assistant.store import IndexData, load_index, older_vectors
from assistant.stores import PassageFields
from assistant.stores.milvus import MilvusStore
from bench.store_parity import first_quotes


class AnyIndexStore(MilvusStore):
    """The Milvus store with the other dense index types Milvus Lite 3.x accepts, built and
    searched with these parameters (742 passages: nlist about 4·√n, a fifth of the lists probed)."""

    EXTRA = {"IVF_FLAT": ({"nlist": 128}, {"nprobe": 26}), "IVF_SQ8": ({"nlist": 128}, {"nprobe": 26})}

    def index_params(self) -> dict:
        return self.EXTRA[self.index][0] if self.index in self.EXTRA else super().index_params()

    def search_params(self, k: int) -> dict:
        return self.EXTRA[self.index][1] if self.index in self.EXTRA else super().search_params(k)


def ms(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 2),
        "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 2),
    }


def size_of(path: Path) -> int:
    return (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    )


def faiss_index(args: argparse.Namespace, embedder) -> tuple[IndexData, list[str]]:
    """The CMRC index with the FAISS store, every vector taken from ``--vectors``, and the questions."""
    older = older_vectors(args.vectors, embedder.model_id)
    if older is None:
        raise SystemExit(f"{args.vectors} is not a format-3 index of {embedder.model_id}")
    settings = Settings(index_dir=args.out / "faiss")
    EmbeddingCache(settings.index_dir, embedder.model_id).add(*older)
    articles, questions = load_squad(args.dataset)
    index_articles(articles, settings, embedder)
    texts = [q.text for q in questions if q.text.strip()]  # the trial set has one empty question
    return load_index(settings.index_dir), texts[: args.limit] if args.limit else texts


def milvus_copy(index: IndexData, spec: str, kind: str) -> tuple[MilvusStore, float]:
    """The index's passages in a new Milvus collection with this dense index; seconds to the first search."""
    dates = {a: (m.date or "", m.source or "") for a, m in index.articles.items()}
    ids = np.asarray([p.id for p in index.passages], dtype=np.int64)
    fields = [
        PassageFields(p.article_id, p.paragraph, p.start, p.end, *dates[p.article_id], p.text)
        for p in index.passages
    ]
    store = AnyIndexStore(spec, index.store.dim, f"bench_{kind.lower()}", kind)
    started = time.perf_counter()
    store.add(ids, index.store.vectors_of(ids), fields)
    # Lite searches unflushed rows, and rows flushed after the collection was loaded, by brute
    # force: its index covers the segments there are when a collection is loaded, as when a
    # process opens the file. Flush and load again, so the index is built and searched.
    store.client.flush(store.collection)
    store.client.release_collection(store.collection)
    store.client.load_collection(store.collection)
    store.search(index.store.vectors_of(ids[:1])[0], 1)
    return store, time.perf_counter() - started


def index_types(args: argparse.Namespace, index: IndexData, embedder, questions: list[str]) -> dict:
    depth = Settings().fusion.depth
    vectors = dict(zip(questions, embedder.embed_queries(questions), strict=True))
    spec = f"milvus://{args.out / 'index-types.db'}"
    results, flat_ids, flat_quotes = {}, [], []
    for kind in args.types.split(","):
        store, build = milvus_copy(index, spec, kind)
        milvus = replace(index, store=store)
        seconds, ranked = [], []
        for q in questions:
            started = time.perf_counter()
            ranked.append([pid for pid, _ in store.search(vectors[q], depth)])
            seconds.append(time.perf_counter() - started)
        first_quotes(milvus, embedder, vectors, questions[:10])  # warm
        quotes, ask = first_quotes(milvus, embedder, vectors, questions)
        if kind == "FLAT":
            flat_ids, flat_quotes = ranked, quotes
        results[kind] = {
            "build_s": round(build, 2),
            "dense": ms(seconds),
            "ask": ms(ask),
            "same_top_ids": round(
                sum(a == b for a, b in zip(ranked, flat_ids, strict=True)) / len(questions), 4
            ),
            "same_first_id": round(
                sum(a[:1] == b[:1] for a, b in zip(ranked, flat_ids, strict=True)) / len(questions), 4
            ),
            "top_overlap": round(
                statistics.mean(
                    len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(ranked, flat_ids, strict=True)
                ),
                4,
            ),
            "same_first_quote": round(
                sum(a == b for a, b in zip(quotes, flat_quotes, strict=True)) / len(questions), 4
            ),
        }
        print(kind, json.dumps(results[kind], ensure_ascii=False), flush=True)
    return {"passages": len(index.passages), "questions": len(questions), "depth": depth, "types": results}


def sentence_collection(spec: str, index: IndexData) -> MilvusStore:
    """The index's sentence vectors in a collection keyed by sentence row (float32: Milvus Lite
    3.2 refuses FLOAT16_VECTOR, which a server takes)."""
    from pymilvus import DataType

    store = MilvusStore(spec, index.store.dim, "bench_sentences", "FLAT")
    client = store.client
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=store.dim)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(store.collection, schema=schema, index_params=params, consistency_level="Strong")
    vectors = np.asarray(index.sentence_vectors, dtype=np.float32)
    for start in range(0, len(vectors), 1000):
        rows = [
            {"id": i, "vector": vectors[i].tolist()} for i in range(start, min(start + 1000, len(vectors)))
        ]
        client.insert(store.collection, rows)
    client.flush(store.collection)  # as a serving process would find it (see milvus_copy)
    client.release_collection(store.collection)
    client.load_collection(store.collection)
    return store


def sentences(args: argparse.Namespace, index: IndexData, embedder, questions: list[str]) -> dict:
    retriever = Retriever(index, embedder)
    vectors = embedder.embed_queries(questions)
    passages = Settings().answer.passages
    spec_path = args.out / "sentences.db"
    started = time.perf_counter()
    store = sentence_collection(f"milvus://{spec_path}", index)
    load_s = time.perf_counter() - started
    client = store.client
    timing: dict[str, list[float]] = {"beside": [], "milvus_get": [], "milvus_search": []}
    worst, counts = 0.0, []
    for q, vector in zip(questions, vectors, strict=True):
        hits = retriever.search(q, k=passages, query_vector=vector)
        rows = sorted({r for h in hits for r in h.passage.sentence_rows})
        counts.append(len(rows))
        started = time.perf_counter()
        beside = index.sentence_vectors[rows].astype(np.float32) @ vector
        timing["beside"].append(time.perf_counter() - started)
        started = time.perf_counter()
        got = {
            int(r["id"]): r["vector"]
            for r in client.get(store.collection, ids=rows, output_fields=["vector"])
        }
        fetched = np.asarray([got[r] for r in rows], dtype=np.float32) @ vector
        timing["milvus_get"].append(time.perf_counter() - started)
        started = time.perf_counter()
        found = client.search(
            store.collection,
            [vector.tolist()],
            limit=len(rows),
            anns_field="vector",
            filter=f"id in {rows}",
            search_params={"metric_type": "IP"},
        )
        scored = {int(h["id"]): float(h["distance"]) for h in found[0]}
        timing["milvus_search"].append(time.perf_counter() - started)
        searched = np.asarray([scored.get(r, np.nan) for r in rows])
        worst = max(
            worst, float(np.max(np.abs(fetched - beside))), float(np.nanmax(np.abs(searched - beside)))
        )
    client.close()
    return {
        "questions": len(questions),
        "sentences": len(index.sentence_vectors),
        "candidate_sentences_p50": statistics.median(counts),
        "bytes_beside": size_of(index.folder / "sentences.npy"),
        "bytes_milvus_lite": size_of(spec_path),
        "milvus_insert_s": round(load_s, 2),
        "max_score_difference": worst,
        **{k: ms(v) for k, v in timing.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=Path, default=Path("/work/evalidx/cmrc"))
    parser.add_argument(
        "--dataset", type=Path, default=Path("/work/shared/datasets/cmrc2018/cmrc2018_trial.json")
    )
    parser.add_argument("--out", type=Path, default=Path("bench/out/milvus-choices"))
    parser.add_argument("--limit", type=int, help="Only the first N questions.")
    parser.add_argument("--types", default="FLAT,HNSW,IVF_FLAT", help="Dense index types, FLAT first.")
    parser.add_argument("--part", choices=("index", "sentences", "both"), default="both")
    args = parser.parse_args()
    from assistant.embedding import Embedder

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    embedder = Embedder(Settings().model)
    index, questions = faiss_index(args, embedder)
    results = {}
    if args.part in ("sentences", "both"):
        results["sentences"] = sentences(args, index, embedder, questions)
        print(json.dumps(results["sentences"], ensure_ascii=False), flush=True)
    if args.part in ("index", "both"):
        results["index"] = index_types(args, index, embedder, questions)
    (args.out / "results.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
