"""`assistant serve --workers 2` on a real port: each client's requests stay on one worker.

The server runs in a subprocess with the fake model (patched in before the CLI
starts; the workers are forked from it). Clients connect from distinct loopback
addresses, as clients on separate machines would.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import AssistantError
from assistant.workers import steered_sockets
from tests.conftest import FakeEmbedder, write_article
from tests.gradio_http import free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="SO_REUSEPORT steering is Linux's")

ARTICLE = (
    "---\ntitle: 建设雷神山\ndate: 2020-01-29\nsource: 人民日报\n---\n"
    "　　1月28日下午，中建三局雷神山医院项目指挥部火速成立临时党委，并为党员突击队授旗。"
    "仪式上，120余名党员面对鲜红的党旗，高举右拳，重温入党誓词。\n"
)
QUESTION = "雷神山医院项目指挥部成立了什么组织？"
# The CLI with the fake model, as `python -m assistant serve …` would run it.
LAUNCH = (
    "import sys; from assistant import service; from tests.conftest import FakeEmbedder; "
    "service.make_embedder = lambda settings: FakeEmbedder(); "
    "from assistant.cli import main; main(sys.argv[1:])"
)
CLIENTS = [f"127.0.0.{i}" for i in range(2, 8)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``serve --workers 2`` over a one-article corpus whose index it builds first; yields (port, process)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(corpus, "a.txt", ARTICLE)
    port = free_port()
    env = {
        **os.environ,
        "ASSISTANT_MODEL": FakeEmbedder.model_id,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    env.pop("ASSISTANT_ADMIN_PASSWORD", None)
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "serve", "--workers", "2", "--port", str(port)]
            + ["--corpus", str(corpus), "--index", str(tmp_path / "index")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while len(workers_of(process.pid)) < 2 or not answers(port, CLIENTS[0]):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.5)
        yield port, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def workers_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text(encoding="utf-8").split()] if path.exists() else []


def answers(port: int, source: str) -> bool:
    try:
        return "来源" in ask_api(port, source)
    except OSError:
        return False


def connect(port: int, source: str) -> HTTPConnection:
    return HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))


def ask_api(port: int, source: str) -> str:
    conn = connect(port, source)
    body = json.dumps({"question": QUESTION}, ensure_ascii=False).encode("utf-8")
    conn.request("POST", "/api/ask", body=body, headers={"Content-Type": "application/json"})
    reply = conn.getresponse()
    data = json.loads(reply.read())
    conn.close()
    return str(data.get("answer", ""))


def ask_chat(port: int, source: str, fn_index: int) -> Any:
    """One chat question as the page sends it: join the queue, then read the event stream on another connection."""
    session = secrets.token_hex(8)
    join = connect(port, source)
    body = {"data": [QUESTION, None, None, None, "", ""], "fn_index": fn_index, "session_hash": session}
    join.request("POST", "/gradio_api/queue/join", json.dumps(body), {"Content-Type": "application/json"})
    joined = join.getresponse()
    assert joined.status == 200, joined.read()
    joined.read()
    join.close()
    stream = connect(port, source)
    stream.request("GET", f"/gradio_api/queue/data?session_hash={session}")
    try:
        for line in stream.getresponse():
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message
                    return message["output"]["data"]
    finally:
        stream.close()
    raise AssertionError("the event never completed")


def chat_fn_index(port: int) -> int:
    conn = connect(port, CLIENTS[0])
    conn.request("GET", "/config")
    config = json.loads(conn.getresponse().read())
    conn.close()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == "ask")


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        if match:
            inodes.add(match.group(1))
    return inodes


def peers(pid: int) -> set[str]:
    """The client addresses of a process's established TCP connections."""
    owned = socket_inodes(pid)
    found = set()
    for line in Path("/proc/net/tcp").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split()
        remote, state, inode = fields[2], fields[3], fields[9]
        if state == "01" and inode in owned:
            address = int(remote.split(":")[0], 16)
            found.add(socket.inet_ntoa(address.to_bytes(4, "little")))
    return found


def test_each_client_address_stays_on_one_worker_and_both_answer(
    server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, process = server
    fn_index = chat_fn_index(port)
    for _ in range(3):
        for source in CLIENTS:  # a join and its event stream on two connections: same worker or no answer
            reply = ask_chat(port, source, fn_index)
            assert "来源" in json.dumps(reply, ensure_ascii=False)
            assert "来源" in ask_api(port, source)
    held = {source: connect(port, source) for source in CLIENTS}
    for conn in held.values():
        conn.request("GET", "/api/articles")
        conn.getresponse().read()  # the connection stays open (keep-alive)
    seen = {worker: peers(worker) & set(CLIENTS) for worker in workers_of(process.pid)}
    for conn in held.values():
        conn.close()
    assert len(seen) == 2
    assert all(seen.values()), f"a worker served no client: {seen}"
    assert set.union(*seen.values()) == set(CLIENTS)
    assert not set.intersection(*seen.values()), f"a client reached both workers: {seen}"


def test_sigterm_stops_every_worker(server: tuple[int, subprocess.Popen[bytes]]) -> None:
    _, process = server
    workers = workers_of(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_workers_end_when_the_parent_is_killed(server: tuple[int, subprocess.Popen[bytes]]) -> None:
    """SIGKILL (the OOM killer, kill -9) gives the parent no chance to stop them: the kernel does."""
    _, process = server
    workers = workers_of(process.pid)
    assert len(workers) == 2
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while [pid for pid in workers if alive(pid)]:
        assert time.monotonic() < deadline, f"workers outlived their parent: {workers}"
        time.sleep(0.2)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (an orphan reaped by init, or a zombie, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_taken_port_is_refused_with_a_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AssistantError, match="port taken"):
            steered_sockets("127.0.0.1", port, 2)


def test_an_ipv6_host_is_refused_with_a_message() -> None:
    with pytest.raises(AssistantError, match="IPv4"):
        steered_sockets("::1", free_port(), 2)
