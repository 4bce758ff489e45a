"""Speed and size at 1k, 10k and 100k passages, beside bare bm25s and faiss.IndexFlatIP baselines.

Usage::

    python bench/update_speed.py             # once: a real 7.9k-passage People's Daily index
    pip install bm25s                        # the lexical baseline
    python bench/scale.py [--source bench/out/update/index] [--tiers 1000 10000 100000]
    python bench/scale.py --serve-only 3     # just serve's start-up, on the tiers already built

Embedding 100k passages with the default model takes hours on 2 cores, so the
tiers are made from one real index (People's Daily 1998, e5 vectors) taken
cyclically: copy k of a passage belongs to article ``<id>#k`` and its vectors
are jittered (Gaussian, σ = 0.02, renormalised) so FAISS sees distinct
points. That measures speed and size faithfully; it says nothing about
quality, which is why HNSW recall is measured on real vectors only, by
bench/hnsw_recall.py. Questions are the opening clauses of random source
sentences, embedded by the real model at query time.

Per tier: BM25 refit from the kept rows' counts (what an update pays), FAISS build, save,
bytes on disk per passage; a fresh process's load time and resident memory;
warm query latency p50/p95/p99 split into query embedding, BM25, FAISS,
fusion and quotes, beside bm25s and a bare IndexFlatIP on the same tokens and
vectors; answers/s with 2 threads; at the largest tier, `assistant serve`
from start until its first answer.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.answer import Answerer
from assistant.embedding import Embedder
from assistant.lexical import BM25, tokenize
from assistant.manifest import Counts
from assistant.retrieval import Retriever, fuse
from assistant.store import IndexData, PassageTable, load_index, save_index
from assistant.stores.faiss import FaissStore

LOAD_PROBE = """
import json, resource, sys, time
started = time.perf_counter()
from assistant.store import load_index
index = load_index(__import__("pathlib").Path(sys.argv[1]))
print(json.dumps({"seconds": time.perf_counter() - started,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "passages": len(index.passages)}))
"""
BASE_PROBE = """
import json, resource
import numpy, scipy.sparse, faiss, assistant.store
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def jitter(vectors: np.ndarray, rng: np.random.Generator, copy: int) -> np.ndarray:
    if copy == 0:
        return vectors.astype(np.float32)
    out = vectors.astype(np.float32) + rng.normal(0, 0.02, vectors.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def replicate(src: IndexData, n: int, rng: np.random.Generator) -> tuple[IndexData, dict[str, float]]:
    """An index of ``n`` passages made of copies of ``src``'s, with build-stage timings."""
    copies = -(-n // len(src.passages))
    per = len(src.sentence_hashes)
    records = []
    for i in range(n):
        k, p = divmod(i, len(src.passages))
        records.append(
            replace(
                src.passages[p],
                id=i,
                article_id=f"{src.passages[p].article_id}#{k}" if k else src.passages[p].article_id,
                sentence_rows=tuple(r + k * per for r in src.passages[p].sentence_rows),
            )
        )
    source = src.store.vectors_of(src.passages.ids)  # row i = src.passages[i]
    vectors = np.concatenate([jitter(source, rng, k) for k in range(copies)])[:n]
    sentence_vectors = np.concatenate(
        [jitter(src.sentence_vectors, rng, k).astype(np.float16) for k in range(copies)]
    )
    hashes = [f"{h}#{k}" for k in range(copies) for h in src.sentence_hashes]
    articles = {(f"{a}#{k}" if k else a): meta for k in range(copies) for a, meta in src.articles.items()}
    timings = {}
    started = time.perf_counter()  # what an update pays: counts of kept rows, weights recomputed
    old_bm25 = src.store.bm25  # type: ignore[attr-defined]
    source_rows = src.store.rows(src.passages.ids)  # type: ignore[attr-defined]
    bm25 = BM25().from_rows([int(source_rows[i % len(src.passages)]) for i in range(n)], old_bm25)
    timings["bm25 fit"] = time.perf_counter() - started
    started = time.perf_counter()
    codes = {a: c for c, a in enumerate(articles)}
    store = FaissStore.from_arrays(
        np.arange(n, dtype=np.int64),
        np.asarray([codes[r.article_id] for r in records], dtype=np.int32),
        [(a, m.date or "", m.source or "") for a, m in articles.items()],
        vectors,
        bm25,
    )
    timings["faiss build"] = time.perf_counter() - started
    counts = Counts(articles=len(articles), passages=n, sentences=len(hashes))
    manifest = replace(src.manifest, articles=articles, counts=counts)
    table = PassageTable.from_records(records)
    return IndexData(manifest, table, store, sentence_vectors, hashes), timings


def questions(src: IndexData, count: int, rng: np.random.Generator) -> list[str]:
    out = []
    for i in rng.choice(len(src.passages), size=count, replace=False):
        p = src.passages[int(i)]
        a, b, _ = p.sentences[0]
        clause = re.split(r"[，。；！？]", p.text[a - p.start : b - p.start])[0]
        out.append(clause[:20] + "？")
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def probe(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def serve_first_answer(index_dir: Path, corpus_dir: Path) -> float:
    """Seconds from starting `assistant serve` to its first answer over HTTP."""
    from gradio_client import Client

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "assistant"),
            "serve",
            "--port",
            str(port),
            "--index",
            str(index_dir),
            "--corpus",
            str(corpus_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        Client(url, verbose=False).predict("新华社记者报道了什么？", None, None, "", "", api_name="/ask")
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path("bench/out/update/index"))
    parser.add_argument("--corpus", type=Path, default=Path("bench/out/update/corpus"))
    parser.add_argument("--tiers", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/out/scale"))
    parser.add_argument(
        "--serve-only",
        type=int,
        metavar="N",
        help="Only time `assistant serve` to its first answer, N times, on the largest tier already built.",
    )
    args = parser.parse_args()
    if args.serve_only:
        largest = args.out / f"tier-{args.tiers[-1]}"
        runs = [serve_first_answer(largest, args.corpus) for _ in range(args.serve_only)]
        print("`assistant serve` to its first answer: " + ", ".join(f"{r:.1f} s" for r in runs))
        return
    import bm25s
    import faiss

    rng = np.random.default_rng(7)
    src = load_index(args.source)
    embedder = Embedder(src.model)
    asked = questions(src, args.questions, rng)
    source_tokens = [tokenize(p.text) for p in src.passages]  # for the bm25s baseline
    base_rss = probe(BASE_PROBE)["rss_mb"]
    print(f"source: {len(src.passages)} passages, {len(src.sentence_hashes)} sentences, model {src.model}")

    build_rows, query_rows, baseline_rows = [], [], []
    for n in args.tiers:
        data, timings = replicate(src, n, rng)
        folder = args.out / f"tier-{n}"
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        generation = save_index(folder, data)
        timings["save"] = time.perf_counter() - started
        disk = sum(f.stat().st_size for f in generation.iterdir())
        loaded = probe(LOAD_PROBE, str(folder))
        build_rows.append((n, timings, disk / n, loaded["seconds"], (loaded["rss_mb"] - base_rss) * 1e6 / n))

        index = load_index(folder)
        answerer = Answerer(Retriever(index, embedder))
        retriever = answerer.retriever
        names = ("embed", "bm25", "faiss", "fusion", "quotes", "whole ask")
        stages: dict[str, list[float]] = {k: [] for k in names}
        all_vectors = index.store.vectors_of(index.passages.ids)
        flat = faiss.IndexFlatIP(all_vectors.shape[1])
        flat.add(np.ascontiguousarray(all_vectors, dtype=np.float32))
        lexical = bm25s.BM25()
        lexical.index([source_tokens[i % len(src.passages)] for i in range(n)], show_progress=False)
        base: dict[str, list[float]] = {"bm25s": [], "IndexFlatIP": []}
        for _ in range(2):  # the first round warms caches; the second is reported
            for timings_list in (*stages.values(), *base.values()):
                timings_list.clear()
            for q in asked:
                t0 = time.perf_counter()
                vector = retriever.embed_question.__wrapped__(q)  # uncached: time the embedding
                t1 = time.perf_counter()
                terms = tokenize(q)
                lex = index.store.search_bm25(terms, 100)
                t2 = time.perf_counter()
                dense = index.store.search(vector, 100)
                t3 = time.perf_counter()
                fuse(dense, lex, retriever.weights)
                t4 = time.perf_counter()
                hits = retriever.search(q, k=10, query_vector=vector, query_tokens=terms)
                t5 = time.perf_counter()
                answerer.compose(q, answerer.candidates(q, hits, vector, terms), [])
                t6 = time.perf_counter()
                retriever.embed_question.cache_clear()
                answerer.ask(q)
                t7 = time.perf_counter()
                for key, value in zip(
                    names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t6 - t5, t7 - t6), strict=True
                ):
                    stages[key].append(value)
                b0 = time.perf_counter()
                lexical.retrieve([terms or ["的"]], k=100, show_progress=False)
                b1 = time.perf_counter()
                flat.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), 100)
                b2 = time.perf_counter()
                base["bm25s"].append(b1 - b0)
                base["IndexFlatIP"].append(b2 - b1)
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(answerer.ask, asked * 2))
        qps = 2 * len(asked) / (time.perf_counter() - started)
        query_rows.append((n, {k: (pct(v, 50), pct(v, 95), pct(v, 99)) for k, v in stages.items()}, qps))
        baseline_rows.append(
            (
                n,
                pct(stages["bm25"], 50),
                pct(base["bm25s"], 50),
                pct(stages["faiss"], 50),
                pct(base["IndexFlatIP"], 50),
            )
        )
        print(f"tier {n}: done", flush=True)

    largest = args.out / f"tier-{args.tiers[-1]}"
    serve_seconds = serve_first_answer(largest, args.corpus)

    print(
        "\n| passages | BM25 fit | FAISS build | save | disk bytes/passage | load (fresh process) | RSS bytes/passage |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, t, disk, load_s, rss in build_rows:
        print(
            f"| {n:,} | {t['bm25 fit']:.2f} s | {t['faiss build']:.2f} s | {t['save']:.2f} s | {disk:,.0f} "
            f"| {load_s:.2f} s | {rss:,.0f} |"
        )
    print("\n| passages | stage | p50 ms | p95 ms | p99 ms |")
    print("|---:|---|---:|---:|---:|")
    for n, split, _ in query_rows:
        for stage, (p50, p95, p99) in split.items():
            print(f"| {n:,} | {stage} | {p50:.1f} | {p95:.1f} | {p99:.1f} |")
    print("\n| passages | answers/s, 2 threads | whole ask p95 / bare query encode p50 |")
    print("|---:|---:|---:|")
    for n, split, qps in query_rows:
        print(f"| {n:,} | {qps:.1f} | {split['whole ask'][1] / split['embed'][0]:.2f}× |")
    print("\n| passages | our BM25 p50 | bm25s p50 | our FAISS p50 | bare IndexFlatIP p50 |")
    print("|---:|---:|---:|---:|---:|")
    for n, ours_b, bm25s_ms, ours_f, flat_ms in baseline_rows:
        print(f"| {n:,} | {ours_b:.2f} ms | {bm25s_ms:.2f} ms | {ours_f:.2f} ms | {flat_ms:.2f} ms |")
    print(
        f"\n`assistant serve` at {args.tiers[-1]:,} passages: first answer {serve_seconds:.1f} s after start"
    )
    print(f"(fresh-process RSS of the imports alone: {base_rss:.0f} MB)")


if __name__ == "__main__":
    main()
