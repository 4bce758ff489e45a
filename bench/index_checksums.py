"""What the per-file SHA-256 checksums cost at save and at load, by index size.

Usage::

    python bench/index_checksums.py [--tiers 10000 100000]

Writes a synthetic index per tier (random 384-dimensional vectors as e5-small's,
3 sentences a passage, 120-character passages of random Chinese words) with
``save_index``, then times in one process, warm page cache, median of 5:
``load_index`` as before checksums (the manifest's ``sha256`` removed: sizes
only), the default load (every file hashed but the two memory-mapped vector
files), and ``load_index(verify=True)`` (everything hashed, what an update
does). Also the time ``save_index`` spends hashing, and the bytes per file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant import store
from assistant.lexical import BM25
from assistant.manifest import ArticleRecord, Counts, Manifest
from assistant.store import (
    IndexData,
    PassageRecord,
    PassageTable,
    current_generation,
    load_index,
    save_index,
)
from assistant.stores.faiss import FaissStore

WORDS = [
    "火神山",
    "医院",
    "中建三局",
    "建设",
    "党员",
    "突击队",
    "天津",
    "医疗队",
    "武汉",
    "援助",
    "十天",
    "建成",
]


def synthetic(n: int, rng: np.random.Generator) -> IndexData:
    words = random.Random(1)
    records, texts_tokens = [], []
    for i in range(n):
        tokens = [words.choice(WORDS) for _ in range(40)]
        text = "".join(tokens)[:120]
        records.append(
            PassageRecord(
                id=i,
                article_id=f"a{i // 10}.txt",
                ordinal=i % 10,
                paragraph=1,
                start=0,
                end=len(text),
                text=text,
                text_hash=f"{i:040x}",
                sentences=((0, 40, 1), (40, 80, 1), (80, len(text), 1)),
                sentence_rows=(3 * i, 3 * i + 1, 3 * i + 2),
            )
        )
        texts_tokens.append(tokens)
    vectors = rng.standard_normal((n, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sentence_vectors = rng.standard_normal((3 * n, 384)).astype(np.float16)
    manifest = Manifest(
        format=store.FORMAT_VERSION,
        next_passage_id=n,
        model="bench",
        dimension=384,
        counts=Counts(articles=n // 10, passages=n, sentences=3 * n),
        articles={f"a{k}.txt": ArticleRecord(title=str(k), content_hash="") for k in range(n // 10)},
    )
    articles = [(f"a{k}.txt", "", "") for k in range(n // 10)]
    passages = FaissStore.from_arrays(
        np.arange(n, dtype=np.int64),
        np.arange(n, dtype=np.int32) // 10,
        articles,
        vectors,
        BM25().from_rows(texts_tokens, None),
    )
    return IndexData(
        manifest,
        PassageTable.from_records(records),
        passages,
        sentence_vectors,
        [f"s{i}" for i in range(3 * n)],
    )


def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def median_seconds(call, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiers", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    rng = np.random.default_rng(20261130)
    print(
        "| passages | MB on disk | save s (of it hashing) | load, sizes only | load, default | load, verify=True |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.tiers:
        root = Path(tempfile.mkdtemp(prefix="checksums-"))
        data = synthetic(n, rng)
        started = time.perf_counter()
        save_index(root, data)
        save = time.perf_counter() - started
        folder = current_generation(root)
        hashing = median_seconds(
            lambda f=folder: [sha256(p) for p in f.iterdir() if p.name != "manifest.json"]
        )
        size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        default = median_seconds(lambda r=root: load_index(r))
        verified = median_seconds(lambda r=root: load_index(r, verify=True))
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.pop("sha256")
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        sizes_only = median_seconds(lambda r=root: load_index(r))
        print(
            f"| {n:,} | {size:.0f} | {save:.2f} ({hashing:.2f}) | {sizes_only:.3f} | {default:.3f} | {verified:.3f} |",
            flush=True,
        )
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
