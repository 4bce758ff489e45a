"""Raw HTTP to a running Gradio app, as a script (not the page) would send it."""

from __future__ import annotations

import json
import secrets
import socket
from http.client import HTTPConnection
from typing import Any

from assistant.access import ADMIN_COOKIE


def free_port() -> int:
    """A TCP port nothing listens on just now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """(status, body) of one request to 127.0.0.1:port; ``headers`` may replace the Host."""
    conn = HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(method, path, body=body, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def call(port: int, elem_id: str, data: list[Any], headers: dict[str, str] | None = None) -> Any:
    """Trigger the click handler of the button ``elem_id`` as a script would, without the page.

    Returns the outputs' values; the HTTP status when the queue refuses the call;
    ``"error: …"`` when Gradio or the handler raised.
    """
    config = json.loads(http(port, "GET", "/config")[1])
    button = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    fn_index = next(d["id"] for d in config["dependencies"] if [button, "click"] in d["targets"])
    session = secrets.token_hex(8)
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": button})
    status, reply = http(
        port,
        "POST",
        "/gradio_api/queue/join",
        body.encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )
    if status != 200:
        return status
    conn = HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "GET", f"/gradio_api/queue/data?session_hash={session}", headers={"Host": f"127.0.0.1:{port}"}
    )
    stream = conn.getresponse()
    try:
        for line in stream:
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    output = message["output"]
                    return output.get("data") if message.get("success") else f"error: {output.get('error')}"
    finally:
        conn.close()
    raise AssertionError("the event never completed")


def upload(port: int, name: str, data: bytes, token: str = "") -> tuple[int, bytes]:
    """POST one file to Gradio's upload route, as the File component does (``token``: the admin cookie)."""
    boundary = secrets.token_hex(8)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return http(
        port,
        "POST",
        "/gradio_api/upload",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": f"{ADMIN_COOKIE}={token}"},
    )
