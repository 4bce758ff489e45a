"""Warm and cold latency of `ask` on an index, split by stage.

Usage::

    python bench/latency.py [--index index/] [--repeat 5]

Warm: the model and index are loaded once (as in the server), then each seed
question is asked ``repeat`` times; the first ask of each question pays for
embedding its candidate sentences, later ones hit the sentence cache, so both
are reported, and the repeated asks once more without the time the answer span takes
(assistant/span.py, timed alone on the same first quote). Cold: a fresh ``assistant ask`` process, timed end to end, with
the import and load stages measured inside one process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

QUESTIONS = [
    "火神山医院是哪家企业负责建设的？",
    "雷神山医院项目指挥部成立了什么组织？",
    "天津首批援助医疗队中有多少名党员？",
    "广东佛山怡景社区有多少社区工作人员？",
    "红烧肉应该怎么做？",
    "中国五矿24小时内完成了多少件钢结构加工件？",
]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from assistant import runtime

    runtime.configure("serve")  # as the server runs: before torch loads its OpenMP runtime
    t0 = time.perf_counter()
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    t_import = time.perf_counter() - t0
    from assistant.config import Settings
    from assistant.lexical import tokenize
    from assistant.service import Assistant

    t1 = time.perf_counter()
    assistant = Assistant(Settings.from_env(corpus_dir=args.corpus, index_dir=args.index))
    t_load = time.perf_counter() - t1
    t2 = time.perf_counter()
    tokenize("结巴分词初始化")
    t_jieba = time.perf_counter() - t2
    answerer = assistant.answerer
    retriever = answerer.retriever

    from assistant.span import answer_span

    stages: dict[str, list[float]] = {
        k: [] for k in ("embed", "bm25", "dense+fusion", "quotes", "span", "total")
    }
    first, warm, without_span = [], [], []
    for q in QUESTIONS:
        for i in range(args.repeat):
            start = time.perf_counter()
            vector = retriever.embed_question(q)
            a = time.perf_counter()
            terms = tokenize(q)
            retriever.index.store.search_bm25(terms, 100)
            b = time.perf_counter()
            hits = retriever.search(q, k=10, query_vector=vector, query_tokens=terms)
            c = time.perf_counter()
            reply = answerer.compose(q, answerer.candidates(q, hits, vector, terms), [])
            d = time.perf_counter()
            total = time.perf_counter() - start
            # compose() picks the answer span; timed again alone, its share of the ask is known.
            e = time.perf_counter()
            if reply.answered:
                top = reply.quotes[0]
                answer_span(q, top.quote, top.start, top.score)
            span = time.perf_counter() - e
            stages["span"].append(span)
            if i:
                without_span.append(total - span)
            stages["embed"].append(a - start)
            stages["bm25"].append(b - a)
            stages["dense+fusion"].append(c - b)
            stages["quotes"].append(d - c)
            stages["total"].append(total)
            (first if i == 0 else warm).append(total)
            assistant.ask(q)
    passages = retriever.index.manifest.counts.passages
    print(f"index: {passages} passages; model {retriever.index.model}")
    print(f"import torch + sentence-transformers: {ms(t_import)}; load model + index: {ms(t_load)}")
    print(f"jieba first tokenize (dictionary load): {ms(t_jieba)}")
    for name, values in stages.items():
        print(f"  {name:>13}: median {ms(statistics.median(values))}, max {ms(max(values))}")
    print(
        f"warm ask, first time a question is seen: median {ms(statistics.median(first))}, max {ms(max(first))}"
    )
    print(f"warm ask, repeated: median {ms(statistics.median(warm))}, max {ms(max(warm))}")
    print(f"warm ask, repeated, without the answer span: median {ms(statistics.median(without_span))}")

    cmd = [sys.executable, "-m", "assistant", "ask", QUESTIONS[0], "--index", str(args.index)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    print(f"cold `assistant ask` process: {ms(time.perf_counter() - start)}")


if __name__ == "__main__":
    main()
