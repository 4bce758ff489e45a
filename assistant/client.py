"""``assistant ask --server URL``: ask a running ``assistant serve`` instead of loading the model here.

Standard library only, so a question sent this way starts in a fraction of a second.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from assistant.errors import AssistantError

ASK_PATH = "/api/ask"


def ask_server(
    url: str,
    question: str,
    history: list[str],
    mode: str,
    filters: dict[str, str | None],
    timeout: float = 300.0,
) -> dict[str, Any]:
    """The server's reply to one question: the same object ``assistant ask --json`` prints.

    Args:
        url: the server, e.g. ``http://127.0.0.1:7860`` (``http://`` may be left out).
        question: the question.
        history: earlier questions of the conversation, oldest first.
        mode: ``hybrid``, ``bm25`` or ``dense``.
        filters: ``article``, ``source``, ``since`` and ``until``; None values are left out.
        timeout: seconds to wait for the answer.

    Raises:
        AssistantError: the server cannot be reached, or answered with an error (its message).
    """
    base = url.strip().rstrip("/")
    if "://" not in base:
        base = f"http://{base}"
    # urllib also opens file:// and ftp:// URLs; an ftp:// address to this port would hang.
    if not base.lower().startswith(("http://", "https://")):
        raise AssistantError(f"--server takes an http:// or https:// address, not {url!r}")
    payload: dict[str, Any] = {"question": question, "history": history, "mode": mode}
    chosen = {key: value for key, value in filters.items() if value is not None}
    if chosen:
        payload["filters"] = chosen
    request = urllib.request.Request(
        base + ASK_PATH,
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise AssistantError(
            f"the server at {base} refused the question ({exc.code}): {detail(exc.read())}"
        ) from exc
    except urllib.error.URLError as exc:
        raise AssistantError(
            f"cannot reach the server at {base} ({exc.reason}): is `assistant serve` running there?"
        ) from exc
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed URL
        raise AssistantError(f"no answer from the server at {base}: {exc}") from exc
    try:
        reply = json.loads(body.decode("utf-8"))
    except ValueError as exc:
        raise AssistantError(f"{base} did not answer with JSON: is it an `assistant serve`?") from exc
    if not isinstance(reply, dict) or "answer" not in reply:
        raise AssistantError(f"{base}{ASK_PATH} did not answer like `assistant serve`")
    return reply


def detail(body: bytes) -> str:
    """The message in an error reply: its JSON ``detail``, else its text, shortened."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:300] or "no message"
    if isinstance(parsed, dict) and isinstance(parsed.get("detail"), str):
        return parsed["detail"]
    return text[:300]
