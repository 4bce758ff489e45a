"""The JSON API over HTTP on a real port (the fake model; FastAPI, Gradio and uvicorn as in production)."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assistant import service
from assistant.access import AdminGate
from assistant.api import status_of
from assistant.api_models import AskReply
from assistant.app import serve
from assistant.cli import main
from assistant.config import Settings
from assistant.errors import AssistantError, StoreUnavailable
from assistant.indexing import index_lock, update_index
from assistant.service import Assistant
from tests.conftest import FakeEmbedder, write_article
from tests.gradio_http import free_port, http

PASSWORD = "correct horse battery"
ARTICLE = (
    "---\ntitle: 建设雷神山\ndate: 2020-01-29\nsource: 人民日报\n---\n"
    "　　1月28日下午，中建三局雷神山医院项目指挥部火速成立临时党委，并为党员突击队授旗。"
    "仪式上，120余名党员面对鲜红的党旗，高举右拳，重温入党誓词。\n"
)
ADDED = (
    "　　本报青岛3月5日电　青岛港集团今天宣布，开通至肯尼亚蒙巴萨港的集装箱直达航线。"
    "该航线由中远海运集团运营，每周一班，单程航行时间为28天。\n"
)
QUESTION = "雷神山医院项目指挥部成立了什么组织？"


def make_assistant(settings: Settings) -> Assistant:
    write_article(settings.corpus_dir, "a.txt", ARTICLE)
    embedder = FakeEmbedder()
    update_index(settings, embedder)
    return Assistant(settings, embedder=embedder, recheck_seconds=0)


@contextlib.contextmanager
def running(assistant: Assistant, monkeypatch: pytest.MonkeyPatch, password: str | None) -> Iterator[int]:
    """``serve`` on a free port, not blocking; yields the port."""
    if password:
        monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD", password)
    port = free_port()
    server = serve(assistant, "127.0.0.1", port, block=False)
    assert server is not None
    try:
        yield port
    finally:
        server.close()


def call(
    port: int, method: str, path: str, payload: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """(status, parsed JSON reply) of one API request; every reply must be JSON."""
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    sent = {"Content-Type": "application/json", **(headers or {})}
    status, data = http(port, method, path, body, sent)
    return status, json.loads(data)


def admin(password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": f"Bearer {password}"}


def multipart(name: str, data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = secrets.token_hex(8)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def cli_paths(settings: Settings, fake_model: None) -> list[str]:
    return ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_the_server_runs_on_uvloop_and_httptools(settings: Settings) -> None:
    """The faster event loop and HTTP parser are installed and chosen (a quarter of a chat request's CPU)."""
    server = serve(make_assistant(settings), "127.0.0.1", free_port(), block=False)
    assert server is not None
    try:
        config = server.server.config
        assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
        factory = config.get_loop_factory()
        assert factory is not None
        loop = factory()
        try:
            assert type(loop).__module__.startswith("uvloop")
        finally:
            loop.close()
    finally:
        server.close()


def test_ask_replies_exactly_what_ask_json_prints(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, cli_paths: list[str]
) -> None:
    with running(make_assistant(settings), monkeypatch, password=None) as port:
        status, reply = call(port, "POST", "/api/ask", {"question": QUESTION})
        assert status == 200 and reply["answered"] and "临时党委" in reply["quotes"][0]["quote"]
        local = CliRunner().invoke(main, ["ask", QUESTION, "--json", *cli_paths])
        assert local.exit_code == 0, local.output
        assert reply == json.loads(local.output)
        AskReply.model_validate(reply)  # the documented shape is the one sent

        # A follow-up carries the earlier question's terms, as in the chat and `ask --after`.
        follow_up = {"question": "他们在仪式上做了什么？", "history": [QUESTION]}
        status, reply = call(port, "POST", "/api/ask", follow_up)
        local = CliRunner().invoke(
            main, ["ask", follow_up["question"], "--after", QUESTION, "--json", *cli_paths]
        )
        assert status == 200 and reply == json.loads(local.output)
        assert reply["carried_terms"] and "重温入党誓词" in reply["answer"]
        chat_history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "……"}]
        assert call(port, "POST", "/api/ask", {**follow_up, "history": chat_history})[1] == reply

        # Filters: a source no article has is refused, as `ask --source` refuses it.
        status, reply = call(
            port, "POST", "/api/ask", {"question": QUESTION, "filters": {"source": "新华社"}}
        )
        assert status == 400 and "no article matches" in reply["detail"]
        status, reply = call(
            port, "POST", "/api/ask", {"question": QUESTION, "filters": {"source": "人民日报"}}
        )
        assert status == 200 and reply["answered"]


def test_articles_are_listed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    write_article(settings.corpus_dir, "b.txt", "---\ntitle: 第二篇\n---\n" + ADDED)
    with running(make_assistant(settings), monkeypatch, password=None) as port:
        status, page = call(port, "GET", "/api/articles?offset=1&limit=5")
        assert status == 200 and page["count"] == 2 and [a["id"] for a in page["articles"]] == ["b.txt"]
        assert call(port, "GET", "/api/articles?limit=0")[0] == 400
        status, listed = call(port, "GET", "/api/articles?limit=1")
    assert status == 200 and listed["count"] == 2
    [article] = listed["articles"]
    assert article["id"] == "a.txt" and article["title"] == "建设雷神山"
    assert article["date"] == "2020-01-29" and article["source"] == "人民日报"
    assert article["passages"] >= 1 and article["indexed_at"]
    assert "path" not in article, "the server's folders stay private"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"question": "   "}, "empty"),
        ({"question": "问" * 600}, "at most 500"),
        ({}, "body.question: Field required"),
        ({"question": QUESTION, "mode": "fuzzy"}, "body.mode"),
        ({"question": QUESTION, "filters": {"since": "2020-13"}}, "2020-13"),
        ({"question": QUESTION, "surprise": 1}, "body.surprise"),
    ],
)
def test_bad_questions_are_json_400s(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, payload: dict[str, Any], message: str
) -> None:
    with running(make_assistant(settings), monkeypatch, password=None) as port:
        status, reply = call(port, "POST", "/api/ask", payload)
    assert status == 400 and message in reply["detail"], reply


def test_errors_are_json_with_their_status(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assistant = make_assistant(replace(settings, max_file_bytes=4096))
    with running(assistant, monkeypatch, password=PASSWORD) as port:
        status, data = http(port, "POST", "/api/ask", b"{not json", {"Content-Type": "application/json"})
        assert status == 400 and "json" in json.loads(data)["detail"].lower()
        # A body over the server's bound is refused unread, still as JSON.
        status, reply = call(port, "POST", "/api/ask", {"question": "问" * 20_000})
        assert status == 413 and "limit" in reply["detail"]
        status, reply = call(port, "POST", "/api/articles", {"title": "大", "body": "字" * 2000}, admin())
        assert status == 413 and "limit" in reply["detail"], reply
        body, headers = multipart("big.txt", "字".encode() * 2000)
        status, data = http(port, "POST", "/api/articles/upload", body, {**headers, **admin()})
        assert status == 413 and "limit" in json.loads(data)["detail"]
        status, reply = call(port, "DELETE", "/api/articles/nowhere.txt?confirm=true", headers=admin())
        assert status == 404 and "no such article" in reply["detail"]
        assert str(settings.corpus_dir) not in reply["detail"], "no server path in an error"
        status, reply = call(port, "POST", "/api/trash/restore", {"name": "../a.txt"}, admin())
        assert status == 404
        # An update while another runs is refused; questions are still answered meanwhile.
        with index_lock(settings.index_dir):
            status, reply = call(port, "POST", "/api/index/update", None, admin())
            assert status == 409 and "another update of index is running" in reply["detail"]
            assert call(port, "POST", "/api/ask", {"question": QUESTION})[0] == 200
        # A spoofed Host is refused before any route, and the API's caller still gets JSON.
        status, reply = call(port, "GET", "/api/articles", headers={"Host": f"evil.example:{port}"})
        assert status == 400 and "Host not allowed" in reply["detail"]
        status, reply = call(
            port, "POST", "/api/ask", {"question": QUESTION}, {"Origin": "http://evil.example"}
        )
        assert status == 403


def test_an_unexpected_error_is_a_bare_500(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assistant = make_assistant(settings)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom in {settings.index_dir.resolve()}")

    monkeypatch.setattr(assistant, "ask", broken)
    with running(assistant, monkeypatch, password=None) as port:
        status, data = http(
            port, "POST", "/api/ask", b'{"question": "q"}', {"Content-Type": "application/json"}
        )
    assert status == 500
    assert json.loads(data) == {"detail": "服务器内部错误，详情见服务器日志。"}


def test_without_an_admin_password_the_corpus_cannot_be_changed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(make_assistant(settings), monkeypatch, password=None) as port:
        for method, path, payload in (
            ("POST", "/api/articles", {"title": "标题", "body": ADDED}),
            ("DELETE", "/api/articles/a.txt?confirm=true", None),
            ("POST", "/api/index/update", None),
            ("GET", "/api/trash", None),
        ):
            status, reply = call(port, method, path, payload, admin())
            assert status == 403 and "ASSISTANT_ADMIN_PASSWORD" in reply["detail"], path
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt"]


def test_the_admin_password_gates_every_change(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assistant = make_assistant(settings)
    with running(assistant, monkeypatch, password=PASSWORD) as port:
        paste = {"title": "青岛港新航线", "body": ADDED}
        for headers in ({}, admin("wrong password"), {"Authorization": f"Basic {PASSWORD}"}):
            status, reply = call(port, "POST", "/api/articles", paste, headers)
            assert status == 401 and "密码" in reply["detail"], headers
            assert call(port, "POST", "/api/index/update", None, headers)[0] == 401
            assert call(port, "DELETE", "/api/articles/a.txt?confirm=true", None, headers)[0] == 401
        assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["a.txt"]

        status, saved = call(port, "POST", "/api/articles", paste, admin())
        assert status == 201 and saved["id"] == "青岛港新航线.txt"
        body, headers = multipart("第二篇.txt", "　　第二篇文章讲的是黄河大桥的建设。\n".encode())
        status, data = http(port, "POST", "/api/articles/upload", body, {**headers, **admin()})
        assert status == 201 and json.loads(data)["id"] == "第二篇.txt"
        question = {"question": "青岛港开通了到哪里的航线？"}
        assert not call(port, "POST", "/api/ask", question)[1]["answered"], "not indexed yet"
        status, report = call(port, "POST", "/api/index/update", None, admin())
        assert status == 200 and sorted(report["added"]) == ["第二篇.txt", "青岛港新航线.txt"]
        status, reply = call(port, "POST", "/api/ask", question)
        assert status == 200 and reply["answered"] and "蒙巴萨" in reply["quotes"][0]["quote"]

        # Delete as the page does: only when confirmed, into the trash, then restore.
        status, reply = call(port, "DELETE", "/api/articles/a.txt", None, admin())
        assert status == 400 and "confirm=true" in reply["detail"]
        status, deleted = call(port, "DELETE", "/api/articles/a.txt?confirm=true", None, admin())
        assert (
            status == 200
            and deleted["trashed"] == ".trash/a.txt"
            and deleted["update"]["removed"] == ["a.txt"]
        )
        assert "a.txt" not in [a["id"] for a in call(port, "GET", "/api/articles")[1]["articles"]]
        assert call(port, "GET", "/api/trash", None, admin())[1] == {"articles": ["a.txt"]}
        status, restored = call(port, "POST", "/api/trash/restore", {"name": "a.txt"}, admin())
        assert status == 200 and restored["id"] == "a.txt" and restored["update"]["added"] == ["a.txt"]
        assert call(port, "POST", "/api/ask", {"question": QUESTION})[1]["answered"]


class Tracked:
    """Counts the calls inside a slow stand-in at once, and the most there ever were."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply
        self.inside = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, *args: object) -> Any:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.3)
        with self.lock:
            self.inside -= 1
        return self.reply


def test_questions_are_answered_a_few_at_a_time(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assistant = make_assistant(settings)
    slow = Tracked(assistant.ask(QUESTION))
    monkeypatch.setattr(assistant, "ask", slow)
    with running(assistant, monkeypatch, password=None) as port, ThreadPoolExecutor(6) as pool:
        asked = [pool.submit(call, port, "POST", "/api/ask", {"question": QUESTION}) for _ in range(6)]
        assert [a.result()[0] for a in asked] == [200] * 6
    assert slow.most == settings.concurrent_answers


def test_password_checks_wait_in_line_not_in_worker_threads(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_wrong = Tracked(False)
    monkeypatch.setattr(AdminGate, "verify", slow_wrong)
    assistant = make_assistant(settings)
    with running(assistant, monkeypatch, password=PASSWORD) as port, ThreadPoolExecutor(4) as pool:
        guesses = [
            pool.submit(call, port, "POST", "/api/index/update", None, admin("guess")) for _ in range(4)
        ]
        assert [g.result()[0] for g in guesses] == [401] * 4
    assert slow_wrong.most == 1, "one thread at most sits in a password check"


def test_a_slow_upload_does_not_hold_up_other_requests(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant import api

    real_add_file = api.add_file

    def slow_add_file(*args: Any, **kwargs: Any) -> Path:  # a large PDF being read
        time.sleep(2)
        return real_add_file(*args, **kwargs)

    assistant = make_assistant(settings)
    monkeypatch.setattr(api, "add_file", slow_add_file)
    with running(assistant, monkeypatch, password=PASSWORD) as port, ThreadPoolExecutor(1) as pool:
        body, headers = multipart("b.txt", ADDED.encode("utf-8"))
        upload = pool.submit(http, port, "POST", "/api/articles/upload", body, {**headers, **admin()})
        time.sleep(0.5)
        started = time.monotonic()
        assert call(port, "GET", "/api/articles")[0] == 200
        assert time.monotonic() - started < 1
        assert upload.result()[0] == 201


def test_openapi_page_is_served_beside_the_chat(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    with running(make_assistant(settings), monkeypatch, password=None) as port:
        status, page = http(port, "GET", "/api/docs")
        assert status == 200 and b"swagger" in page.lower()
        assert b"https://" not in page, "the page's script and styles come from this server, not a CDN"
        assert http(port, "GET", "/api/docs/assets/swagger-ui-bundle.js")[0] == 200
        status, schema = call(port, "GET", "/api/openapi.json")
        assert status == 200
        assert {"/api/ask", "/api/articles", "/api/index/update"} <= set(schema["paths"])
        ask_schema = json.dumps(schema["components"]["schemas"]["AskRequest"], ensure_ascii=False)
        assert QUESTION in ask_schema, "examples in Chinese"
        [example] = schema["components"]["schemas"]["AskReply"]["examples"]
        AskReply.model_validate(example)
        assert http(port, "GET", "/")[0] == 200, "the chat page is still at /"
        assert http(port, "GET", "/config")[0] == 200


def test_ask_server_prints_what_a_local_ask_prints(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, cli_paths: list[str]
) -> None:
    runner = CliRunner()
    assistant = make_assistant(settings)
    local_json = runner.invoke(main, ["ask", QUESTION, "--json", *cli_paths]).output
    local_text = runner.invoke(main, ["ask", QUESTION, *cli_paths]).output
    monkeypatch.setattr(service, "make_embedder", lambda settings: pytest.fail("loaded the model"))
    with running(assistant, monkeypatch, password=None) as port:
        url = f"http://127.0.0.1:{port}"
        remote = runner.invoke(main, ["ask", QUESTION, "--json", "--server", url])
        assert remote.exit_code == 0, remote.output
        assert json.loads(remote.output) == json.loads(local_json)
        remote = runner.invoke(main, ["ask", QUESTION, "--server", f"127.0.0.1:{port}/"])
        assert remote.exit_code == 0 and remote.output == local_text
        refused = runner.invoke(main, ["ask", "   ", "--server", url])
        assert refused.exit_code == 1 and "(400)" in refused.output and "empty" in refused.output
        assert "Traceback" not in refused.output
    gone = runner.invoke(main, ["ask", QUESTION, "--server", url])
    assert gone.exit_code == 1 and "cannot reach the server" in gone.output and "Traceback" not in gone.output


def test_ask_server_names_a_server_that_is_not_ours(tmp_path: Path) -> None:
    # Any HTTP server that is not `assistant serve`: a plain 404 page.
    import http.server
    import threading

    handler = http.server.SimpleHTTPRequestHandler
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as other:
        threading.Thread(target=other.serve_forever, daemon=True).start()
        result = CliRunner().invoke(
            main, ["ask", QUESTION, "--server", f"http://127.0.0.1:{other.server_port}"]
        )
        other.shutdown()
    assert result.exit_code == 1 and "refused the question" in result.output


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "file:///etc", "FILE:///etc/passwd"])
def test_ask_server_takes_only_http_addresses(url: str) -> None:
    # urllib would open these too: an ftp:// address to an HTTP port hung until the 300 s timeout.
    result = CliRunner().invoke(main, ["ask", QUESTION, "--server", url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--server takes an http:// or https:// address" in result.output


@pytest.mark.parametrize("block", [True, False])
def test_a_taken_port_is_a_message(settings: Settings, block: bool) -> None:
    assistant = make_assistant(settings)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AssistantError, match="port taken"):
            serve(assistant, "127.0.0.1", port, block=block)


def test_a_store_that_does_not_answer_is_the_servers_fault() -> None:
    """A Milvus server gone away is a 503 (try again later), not the caller's 400."""
    assert status_of(StoreUnavailable("the Milvus server at http://db:19530 did not answer")) == 503
