"""Load test: the server's CPU per answered chat request, then concurrent clients, against the bar.

Usage::

    assistant serve --port 7870 --index /tmp/serve-index &
    python bench/load.py --url http://127.0.0.1:7870/ --pid $! --index /tmp/serve-index \\
        [--clients 16] [--questions 500]

First one client asks 50 questions one after another (the single-client latency
and the server's CPU seconds per request, read from ``/proc/<pid>/stat`` before
and after), then ``--clients`` clients share ``--questions`` questions. Each
chat request goes through the server's queue and server-sent events: by default
as Gradio's documented HTTP API (``POST /gradio_api/call/ask``, then the event
stream), which costs the client little CPU on a machine it shares with the
server; ``--client gradio_client`` uses Gradio's Python client instead, and
``--client api`` asks the JSON API (``POST /api/ask``) for comparison. Every
question is asked twice first, so the server's caches are warm in both phases. With ``--index``, the same questions are then asked
in this process through :class:`assistant.service.Assistant`, for the CPU an
answer costs without the chat path. Prints one table and the bar of issue 10
as ratios from this one run; the clients' own CPU is reported since they share
the machine with the server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
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


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU so far of a process and its live children, a server's workers (0 without a pid)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="utf-8").split()
    return own + sum(cpu_seconds(int(child)) for child in children)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    """One phase: latencies of the answered requests, errors, wall time, server and client CPU."""

    name: str
    latencies: list[float]
    errors: int
    wall: float
    server_cpu: float
    client_cpu: float

    @property
    def answered(self) -> int:
        return len(self.latencies)

    @property
    def cpu_per_request(self) -> float:
        return self.server_cpu / max(self.answered, 1)

    @property
    def throughput(self) -> float:
        return self.answered / self.wall

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) if self.latencies else float("nan")

    def row(self) -> str:
        ms = statistics.median(self.latencies) * 1000 if self.latencies else float("nan")
        return (
            f"| {self.name} | {self.answered + self.errors} | {self.errors} | {ms:.0f} | {self.p(95) * 1000:.0f} "
            f"| {self.p(99) * 1000:.0f} | {self.throughput:.1f} | {self.cpu_per_request * 1000:.1f} "
            f"| {self.client_cpu / max(self.answered, 1) * 1000:.1f} |"
        )


def transport(source: str | None) -> httpx.HTTPTransport:
    """Connections from ``source`` (a local address), or from the address the system picks."""
    return httpx.HTTPTransport(local_address=source) if source else httpx.HTTPTransport()


class HttpAsker:
    """One keep-alive connection asking through ``/gradio_api/call/ask`` and its event stream.

    One session for all its questions, like a browser tab: Gradio sets up a session's
    state (the config of every block of the app) once, at its first request.
    """

    def __init__(self, url: str, source: str | None = None) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/") + "/gradio_api/call/ask", timeout=120, transport=transport(source)
        )
        self.session = uuid.uuid4().hex

    def predict(self, question: str) -> str:
        body = {"data": [question, None, None, "", ""], "session_hash": self.session}
        event = self.http.post("", json=body).json()["event_id"]
        with self.http.stream("GET", f"/{event}") as stream:
            kind = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind in ("complete", "error"):
                    if kind == "error":
                        raise RuntimeError(line)
                    return json.loads(line[6:])[0]
        raise RuntimeError("the event stream ended without a result")


class ApiAsker:
    """One keep-alive connection asking the JSON API, ``POST /api/ask`` (no queue, no event stream)."""

    def __init__(self, url: str, source: str | None = None) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=120, transport=transport(source))

    def predict(self, question: str) -> str:
        reply = self.http.post("/api/ask", json={"question": question})
        reply.raise_for_status()
        return reply.json()["answer"]


class GradioAsker:
    """Gradio's own Python client."""

    def __init__(self, url: str, source: str | None = None) -> None:
        if source:
            raise SystemExit("--client-addresses needs --client http or api")
        self.client = Client(url, verbose=False)

    def predict(self, question: str) -> str:
        return self.client.predict(question, None, None, "", "", api_name="/ask")


ASKERS = {"http": HttpAsker, "api": ApiAsker, "gradio_client": GradioAsker}


def run(
    url: str, clients: int, total: int, pid: int | None, name: str, kind: str = "http", spread: bool = False
) -> Run:
    """Ask ``total`` questions from ``clients`` threads, each with its own client.

    With ``spread``, client i connects from 127.0.0.(i + 2), as clients on separate machines would
    (``assistant serve --workers`` keeps each client address on one worker).
    """
    local = threading.local()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    make = ASKERS[kind]
    connected = [
        make(url, f"127.0.0.{i + 2}" if spread else None) for i in range(clients)
    ]  # connect before the clock starts

    def ask(i: int) -> None:
        nonlocal errors
        if not hasattr(local, "client"):
            with lock:
                local.client = connected.pop()
        question = QUESTIONS[i % len(QUESTIONS)]
        started = time.perf_counter()
        try:
            reply = local.client.predict(question)
            ok = isinstance(reply, str) and ("来源" in reply or "没有找到" in reply)
        except Exception:  # noqa: BLE001 - any failure is an error to count
            ok = False
        elapsed = time.perf_counter() - started
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                errors += 1

    server0, client0, started = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(ask, range(total)))
    wall = time.perf_counter() - started
    return Run(name, latencies, errors, wall, cpu_seconds(pid) - server0, own_cpu_seconds() - client0)


def in_process_cpu(index: Path, rounds: int) -> tuple[float, float]:
    """CPU seconds and wall seconds per warm ``Assistant.ask`` of the same questions, in this process."""
    from assistant.config import Settings
    from assistant.service import Assistant

    assistant = Assistant(Settings.from_env(index_dir=index))
    for question in QUESTIONS:  # warm: jieba, caches, first-touch pages
        assistant.ask(question)
    cpu0, wall0 = own_cpu_seconds(), time.perf_counter()
    for _ in range(rounds):
        for question in QUESTIONS:
            assistant.ask(question)
    n = rounds * len(QUESTIONS)
    return (own_cpu_seconds() - cpu0) / n, (time.perf_counter() - wall0) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--pid", type=int, help="The server's process id, to read its CPU time.")
    parser.add_argument("--index", type=Path, help="The server's index, for the in-process ask's CPU.")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--single", type=int, default=50, help="Questions the single client asks.")
    parser.add_argument("--client", choices=sorted(ASKERS), default="http")
    parser.add_argument(
        "--client-addresses",
        action="store_true",
        help="Each client connects from its own 127.0.0.x (for a server with --workers).",
    )
    args = parser.parse_args()
    # Every question twice before the clock starts: the server's caches (question vectors, the
    # quoted sentences' terms) are then as warm for the single client as for the many.
    spread = args.client_addresses
    # Warm every worker: with --client-addresses, the warm-up's clients cover all the addresses.
    warm = args.clients if spread else 1
    run(args.url, warm, 2 * len(QUESTIONS) * warm, args.pid, "warm-up", args.client, spread)
    single = run(args.url, 1, args.single, args.pid, "1", args.client, spread)
    many = run(args.url, args.clients, args.questions, args.pid, str(args.clients), args.client, spread)
    print(
        "| clients | requests | errors | p50 ms | p95 ms | p99 ms | answers/s "
        "| server CPU ms/request | client CPU ms/request |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(single.row())
    print(many.row())
    if args.pid is None:
        return
    cores = len(os.sched_getaffinity(0))
    ceiling = cores / single.cpu_per_request
    print(f"\ncores {cores}; ceiling cores ÷ CPU per request = {ceiling:.1f} answers/s")
    print(
        f"- errors under load: {many.errors} (bar 0)\n"
        f"- throughput: {many.throughput:.1f} answers/s = {many.throughput / ceiling:.2f} × ceiling (bar ≥ 0.70)\n"
        f"- p95 under load ÷ single-client p95: {many.p(95) / single.p(95):.2f} (bar ≤ 4)"
    )
    if args.index:
        cpu, wall = in_process_cpu(args.index, rounds=max(1, args.single // len(QUESTIONS)))
        print(
            f"- in-process ask: {cpu * 1000:.1f} ms CPU, {wall * 1000:.1f} ms wall; server CPU per "
            f"request ÷ in-process: {single.cpu_per_request / cpu:.2f} (bar ≤ 1.5)"
        )


if __name__ == "__main__":
    main()
