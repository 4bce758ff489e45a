from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from assistant.access import ADMIN_COOKIE, AdminGate, HostGuard, allowed_hosts, cookie, host_name, refusal
from assistant.errors import AssistantError

LOCAL = allowed_hosts("127.0.0.1")


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("127.0.0.1:7860", "127.0.0.1"),
        ("[::1]:7860", "::1"),
        ("LocalHost.", "localhost"),
        ("http://evil.example:8080", "evil.example"),
        ("null", "null"),
        ("", ""),
        ("[::1", ""),
    ],
)
def test_host_name_reads_host_headers_and_origins(value: str, name: str) -> None:
    assert host_name(value) == name


def test_allowed_hosts_are_loopback_the_bound_address_and_the_named_extras() -> None:
    assert allowed_hosts("localhost") == {"127.0.0.1", "localhost", "::1"}
    assert allowed_hosts("0.0.0.0") == LOCAL  # a wildcard is no name a client uses
    assert allowed_hosts("192.168.1.5") == LOCAL | {"192.168.1.5"}
    assert allowed_hosts("0.0.0.0", ["News.LAN"], env="10.0.0.7, qa.example.com") == LOCAL | {
        "news.lan",
        "10.0.0.7",
        "qa.example.com",
    }


def test_refusal_checks_host_then_origin() -> None:
    assert refusal({"host": "127.0.0.1:7860"}, LOCAL) is None
    assert refusal({"host": "localhost:7860", "origin": "http://localhost:7860"}, LOCAL) is None
    # DNS rebinding: the attacker's name in both headers.
    assert refusal({"host": "evil.example", "origin": "http://evil.example"}, LOCAL)[0] == 400
    assert refusal({}, LOCAL)[0] == 400
    # A page elsewhere posting to the local server through the victim's browser.
    assert refusal({"host": "127.0.0.1:7860", "origin": "http://evil.example"}, LOCAL)[0] == 403
    assert refusal({"host": "127.0.0.1:7860", "origin": "null"}, LOCAL)[0] == 403


def _client(**guard_options: Any) -> TestClient:
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"got {len(await request.body())}")

    routes = [Route(path, echo, methods=["GET", "POST"]) for path in ("/", "/gradio_api/upload")]
    guard = Middleware(HostGuard, allowed=LOCAL, max_body=100, max_upload=1000, **guard_options)
    return TestClient(Starlette(routes=routes, middleware=[guard]), base_url="http://127.0.0.1:7860")


def test_host_guard_refuses_foreign_hosts_and_origins_before_the_app() -> None:
    client = _client()
    assert client.get("/").text == "got 0"
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    assert client.post("/", headers={"origin": "http://evil.example"}).status_code == 403
    assert client.post("/", headers={"origin": "http://127.0.0.1:7860"}).text == "got 0"


def test_host_guard_answers_the_json_api_in_json() -> None:
    refused = _client().get("/api/articles", headers={"host": "evil.example"})
    assert refused.status_code == 400 and refused.headers["content-type"] == "application/json"
    assert "Host not allowed" in refused.json()["detail"]
    assert (
        _client().get("/", headers={"host": "evil.example"}).headers["content-type"].startswith("text/plain")
    )


def test_host_guard_bounds_request_bodies() -> None:
    client = _client(may_upload=lambda token: True)
    assert client.post("/", content=b"x" * 100).text == "got 100"
    assert client.post("/", content=b"x" * 101).status_code == 413
    assert client.post("/gradio_api/upload", content=b"x" * 1000).text == "got 1000"
    assert client.post("/gradio_api/upload", content=b"x" * 1001).status_code == 413
    chunked = client.post("/", content=iter([b"x"]))  # a stream: no Content-Length
    assert chunked.status_code == 411


def test_host_guard_keeps_uploads_for_an_administrator() -> None:
    assert _client().post("/gradio_api/upload", content=b"x").status_code == 403  # management off
    client = _client(may_upload=lambda token: token == "good")
    assert client.post("/gradio_api/upload", content=b"x").status_code == 403
    bad = {"cookie": f"{ADMIN_COOKIE}=guessed"}
    assert client.post("/gradio_api/upload/", content=b"x", headers=bad).status_code == 403
    good = {"cookie": f"theme=dark; {ADMIN_COOKIE}=good"}
    assert client.post("/gradio_api/upload", content=b"x", headers=good).text == "got 1"
    assert client.post("/", content=b"x").text == "got 1"


def test_cookie_reads_one_value_from_a_cookie_header() -> None:
    assert cookie("a=1; assistant_admin=tok-en_; b=2", "assistant_admin") == "tok-en_"
    assert cookie("xassistant_admin=1", "assistant_admin") is None
    assert cookie(None, "assistant_admin") is None


def test_admin_gate_hands_out_tokens_for_the_right_password_only() -> None:
    now = [0.0]
    gate = AdminGate("correct horse", ttl=60, max_tokens=2, failure_delay=0, clock=lambda: now[0])
    assert gate.login("wrong horse") is None and gate.login("") is None and gate.login(None) is None
    first = gate.login("correct horse")
    assert first and gate.check(first)
    assert not gate.check("") and not gate.check(None) and not gate.check(first + "x")
    second, third = gate.login("correct horse"), gate.login("correct horse")
    assert not gate.check(first), "the oldest token goes when max_tokens are live"
    assert gate.check(second) and gate.check(third)
    gate.logout(second)
    assert not gate.check(second) and gate.check(third)
    now[0] = 61
    assert not gate.check(third), "tokens expire"


def test_admin_gate_verifies_a_password_without_issuing_a_token() -> None:
    gate = AdminGate("correct horse", max_tokens=1, failure_delay=0)
    token = gate.login("correct horse")
    assert gate.verify("correct horse") and not gate.verify("wrong horse") and not gate.verify(None)
    assert gate.check(token), "an API call's check leaves the page's session alone"


def test_admin_gate_needs_a_password_of_some_length(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSISTANT_ADMIN_PASSWORD", raising=False)
    assert AdminGate.from_env() is None
    monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD", "short")
    with pytest.raises(AssistantError, match="too short"):
        AdminGate.from_env()
    monkeypatch.setenv("ASSISTANT_ADMIN_PASSWORD", "管理员的很长的密码")
    gate = AdminGate.from_env(failure_delay=0)
    assert gate is not None and gate.check(gate.login("管理员的很长的密码"))
