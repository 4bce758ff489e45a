"""Load test: 16 concurrent clients asking 500 questions through the Gradio API of a running server.

Usage::

    assistant serve --port 7870 &          # any index; the seed one by default
    python bench/load.py --url http://127.0.0.1:7870/ [--clients 16] [--questions 500]

First one client asks 50 questions one after another (the single-client
latency), then ``--clients`` clients share ``--questions`` questions. Each
request goes through ``gradio_client`` exactly as a remote user's would
(queue, server-sent events, JSON). Reports errors, p50/p95/p99 latency and
throughput for both, from this one run.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from gradio_client import Client

QUESTIONS = [
    "火神山医院是哪家企业负责建设的？",
    "中国五矿24小时内完成了多少件钢结构加工件？",
    "广东佛山怡景社区有多少社区工作人员？",
    "山东胶州组建了多少支疫情防控突击队？",
    "天长天宝社区有多少户武汉返乡人员？",
    "TR188次航班载有多少名武汉客人？",
    "中组部哪天召开了电视电话会议？",
    "北京西城区大栅栏街道党工委书记是谁？",
    "上海盛辉塑料包装有限公司原来每天生产多少只口罩？",
    "雷神山医院项目指挥部成立了什么组织？",
    "天津首批援助医疗队中有多少名党员？",
    "飘安集团党委书记是谁？",
    "余追教授被派去支援哪家医院？",
    "红烧肉应该怎么做？",
    "明天北京的天气怎么样？",
    "<script>alert(1)</script>党员有多少？",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(url: str, clients: int, total: int) -> tuple[list[float], int, float]:
    """Latencies of the successful requests, the error count, and the wall time."""
    local = threading.local()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def ask(i: int) -> None:
        nonlocal errors
        if not hasattr(local, "client"):
            local.client = Client(url, verbose=False)
        question = QUESTIONS[i % len(QUESTIONS)]
        started = time.perf_counter()
        try:
            reply = local.client.predict(question, None, None, "", "", api_name="/ask")
            ok = isinstance(reply, str) and ("来源" in reply or "没有找到" in reply)
        except Exception:  # noqa: BLE001 - any failure is an error to count
            ok = False
        elapsed = time.perf_counter() - started
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(ask, range(total)))
    return latencies, errors, time.perf_counter() - started


def report(name: str, latencies: list[float], errors: int, wall: float) -> None:
    ms = [x * 1000 for x in latencies]
    print(
        f"| {name} | {len(ms) + errors} | {errors} | {statistics.median(ms):.0f} | {percentile(ms, 95):.0f} "
        f"| {percentile(ms, 99):.0f} | {len(ms) / wall:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=500)
    args = parser.parse_args()
    single = run(args.url, 1, 50)
    many = run(args.url, args.clients, args.questions)
    print("| clients | requests | errors | p50 ms | p95 ms | p99 ms | answers/s |")
    print("|---|---|---|---|---|---|---|")
    report("1", *single)
    report(str(args.clients), *many)


if __name__ == "__main__":
    main()
