"""Work an update does for one huge single-line article with no punctuation, by size.

Usage::

    python bench/long_line.py [--sizes 150 500 2048] [--script zh en]

Writes one article of ``size`` KB (UTF-8) that is a single line with no
sentence or clause punctuation, Chinese characters (``zh``) or ASCII letters
(``en``), and runs ``update_index`` with an embedder that returns constant
vectors, so what is timed is everything but the model: reading and hashing,
MinHash, chunking, jieba tokens, BM25, FAISS, saving. The model's cost is the
number of texts to embed, also reported. Time per KB should stay flat as the
size grows (linear work); the sizes run in one process, so the ratios compare.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.chunking import chunk_article
from assistant.config import Settings
from assistant.corpus import read_article
from assistant.dedup import signature
from assistant.indexing import update_index
from assistant.lexical import tokenize

HAN = "火神山医院由中建三局负责建设十天建成一千余名建设者日夜奋战党员突击队冲锋在前天津市组建医疗队增援武汉"


class ConstantEmbedder:
    """Unit vectors, no model: the update's own cost without the embedding."""

    model_id = "bench-constant"
    dim = 384

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)


def line(kb: int, script: str, rng: random.Random) -> str:
    alphabet = HAN if script == "zh" else "abcdefghijklmnopqrstuvwxyz"
    per_char = 3 if script == "zh" else 1
    return "".join(rng.choice(alphabet) for _ in range(kb * 1024 // per_char))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 500, 2048])
    parser.add_argument("--script", nargs="+", default=["zh", "en"], choices=["zh", "en"])
    args = parser.parse_args()
    tokenize("预热")  # jieba's dictionary loads once, as in a running serve
    rng = random.Random(20261130)
    print(
        "| script | KB | passages | texts to embed | chunk s | MinHash s | update s (no model) | ms per KB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for script in args.script:
        for kb in args.sizes:
            root = Path(tempfile.mkdtemp(prefix="long-line-"))
            settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model="bench-constant")
            settings.corpus_dir.mkdir()
            path = settings.corpus_dir / "line.txt"
            path.write_text(line(kb, script, rng), encoding="utf-8")
            article = read_article(path, settings.corpus_dir)
            started = time.perf_counter()
            passages = chunk_article(article, settings.chunk)
            chunk = time.perf_counter() - started
            started = time.perf_counter()
            signature(article.text)
            minhash = time.perf_counter() - started
            started = time.perf_counter()
            report = update_index(settings, ConstantEmbedder())
            total = time.perf_counter() - started
            print(
                f"| {script} | {kb} | {len(passages)} | {report.embedded} | {chunk:.2f} | {minhash:.2f} "
                f"| {total:.1f} | {total / kb * 1000:.0f} |",
                flush=True,
            )
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
