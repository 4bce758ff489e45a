"""Who may reach the server, and who may change the corpus.

Two guards, both plain Python testable without a browser:

* :class:`HostGuard`, an ASGI middleware in front of the whole server (the
  Gradio page and the JSON API of :mod:`assistant.api`), refuses a
  request whose ``Host`` (or ``Origin``) names a site not on the allow-list.
  A web page on ``evil.example`` whose name an attacker re-points at this
  machine (DNS rebinding) reaches the server with ``Host: evil.example``; it
  gets a 400 instead of the app. The guard also bounds the body of any one
  request and keeps Gradio's upload route for a logged-in administrator.
* :class:`AdminGate` turns the ``ASSISTANT_ADMIN_PASSWORD`` into short-lived
  random tokens; every corpus-management handler checks its token here, on
  the server, so hiding buttons is never what keeps a visitor out. The JSON
  API's callers send the password itself, checked by :meth:`AdminGate.verify`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from assistant.errors import AssistantError

logger = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Addresses that mean "every interface": no client names the server by them.
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
ADMIN_PASSWORD_ENV = "ASSISTANT_ADMIN_PASSWORD"
ALLOWED_HOSTS_ENV = "ASSISTANT_ALLOWED_HOSTS"
MIN_PASSWORD_CHARS = 8
UPLOAD_PATH_SUFFIX = "/gradio_api/upload"
# The page copies its admin token into this cookie, the only thing Gradio's upload requests carry.
ADMIN_COOKIE = "assistant_admin"
# Where the JSON API (assistant.api) lives beside the page.
API_PREFIX = "/api/"


def host_name(value: str | None) -> str:
    """The lower-case host name in a ``Host`` header (``[::1]:7860``) or an origin URL.

    Returns an empty string for anything that names no host (``null``, garbage).
    """
    value = (value or "").strip()
    if not value:
        return ""
    try:
        name = urlsplit(value if "//" in value else f"//{value}").hostname or ""
    except ValueError:  # an unbalanced "[" in the header
        return ""
    return name.rstrip(".")


def allowed_hosts(
    bind_host: str = "127.0.0.1", extra: Iterable[str] = (), env: str | None = None
) -> frozenset[str]:
    """The host names a request may use: loopback, the bound address, and the named extras.

    Args:
        bind_host: ``--host``; a wildcard (0.0.0.0, ::) adds nothing, since
            clients reach such a server by a name that must be listed.
        extra: ``--allowed-host`` values.
        env: ``ASSISTANT_ALLOWED_HOSTS``, names separated by commas or spaces.
    """
    names = set(LOCAL_HOSTS)
    if bind_host not in WILDCARD_HOSTS:
        names.add(host_name(bind_host))
    for item in [*extra, *(env or "").replace(",", " ").split()]:
        if host_name(item):
            names.add(host_name(item))
    return frozenset(names)


def refusal(headers: dict[str, str], allowed: frozenset[str]) -> tuple[int, str] | None:
    """Why a request with these (lower-case) headers is refused, or None when it may pass.

    A request must name an allowed ``Host``; when it carries an ``Origin``
    (every browser POST does), that must be allowed too, so a page on another
    site cannot drive the app through the victim's browser.
    """
    if host_name(headers.get("host")) not in allowed:
        return 400, "Host not allowed. Add it with --allowed-host or ASSISTANT_ALLOWED_HOSTS."
    origin = headers.get("origin")
    if origin is not None and host_name(origin) not in allowed:
        return 403, "Origin not allowed."
    return None


class HostGuard:
    """ASGI middleware: the Host/Origin allow-list and a bound on request bodies.

    Args:
        app: the wrapped ASGI app (the API's FastAPI app, with Gradio's mounted on it).
        allowed: host names from :func:`allowed_hosts`.
        max_body: the largest body in bytes of any request but an upload; a
            body must declare its length, so the bound holds before a byte is read.
        max_upload: the same for Gradio's upload route.
        may_upload: whether the token in the ``ADMIN_COOKIE`` cookie may use the
            upload route; the default lets nobody (corpus management is off).
    """

    def __init__(
        self,
        app: Any,
        allowed: frozenset[str],
        max_body: int,
        max_upload: int,
        may_upload: Callable[[str | None], bool] = lambda token: False,
    ) -> None:
        self.app = app
        self.allowed = allowed
        self.max_body = max_body
        self.max_upload = max_upload
        self.may_upload = may_upload

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refused = refusal(headers, self.allowed) or self._bounds(scope, headers)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, message = refused
        logger.warning(
            "refused %s %s (Host %r): %s", scope["type"], scope.get("path"), headers.get("host"), message
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        # The JSON API's callers read every refusal as JSON, as its own errors are.
        if scope.get("path", "").startswith(API_PREFIX):
            body, kind = (
                json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8"),
                b"application/json",
            )
        else:
            body, kind = message.encode("utf-8"), b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", kind),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _bounds(self, scope: dict[str, Any], headers: dict[str, str]) -> tuple[int, str] | None:
        if scope["type"] != "http":
            return None
        limit = self.max_body
        # Gradio stores any upload before a handler sees it: only an administrator may send one.
        if scope.get("path", "").rstrip("/").endswith(UPLOAD_PATH_SUFFIX):
            if not self.may_upload(cookie(headers.get("cookie"), ADMIN_COOKIE)):
                return 403, "Uploads need an administrator login."
            limit = self.max_upload
        length = headers.get("content-length")
        if length is None:
            if "transfer-encoding" in headers:
                return 411, "A request body must declare its length."
            return None
        if not length.isdigit() or int(length) > limit:
            return 413, f"Request body over the {limit} byte limit."
        return None


def cookie(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, or None."""
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None


class AdminGate:
    """Checks the administrator's password and the session tokens it hands out.

    A login with the right password gets a random token, valid for ``ttl``
    seconds; management handlers take the token (held by the page, never the
    password) and ask :meth:`check`. Only hashes of tokens are kept, and at most
    ``max_tokens`` of them (the oldest go first).

    Args:
        password: the administrator password.
        ttl: seconds a token stays valid.
        max_tokens: live tokens kept at most.
        failure_delay: seconds a wrong password waits, one at a time, so guessing is slow.
        clock: monotonic seconds (a parameter so tests can move time).
    """

    def __init__(
        self,
        password: str,
        ttl: float = 12 * 3600,
        max_tokens: int = 64,
        failure_delay: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AssistantError(
                f"{ADMIN_PASSWORD_ENV} is too short: use at least {MIN_PASSWORD_CHARS} characters"
            )
        self._password = password.encode("utf-8")
        self.ttl = ttl
        self.max_tokens = max_tokens
        self.failure_delay = failure_delay
        self._clock = clock
        self._tokens: dict[str, float] = {}  # sha256(token) → expiry
        self._lock = threading.Lock()
        self._failures = threading.Lock()

    @classmethod
    def from_env(cls, **kwargs: Any) -> AdminGate | None:
        """A gate for ``ASSISTANT_ADMIN_PASSWORD``, or None when it is unset (management off)."""
        password = os.environ.get(ADMIN_PASSWORD_ENV, "")
        return cls(password, **kwargs) if password else None

    def verify(self, password: str | None) -> bool:
        """Whether ``password`` is the administrator's; a wrong one returns after the failure delay.

        The HTTP API sends the password with each call; unlike :meth:`login`, a check
        issues no token, so API calls never push the page's sessions out.
        """
        if hmac.compare_digest((password or "").encode("utf-8"), self._password):
            return True
        logger.warning("failed administrator login")
        with self._failures:  # one wrong guess at a time, each taking failure_delay
            time.sleep(self.failure_delay)
        return False

    def login(self, password: str | None) -> str | None:
        """A new token when ``password`` is right, else None (after the failure delay)."""
        if not self.verify(password):
            return None
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            while len(self._tokens) >= self.max_tokens:
                self._tokens.pop(next(iter(self._tokens)))
            self._tokens[_digest(token)] = self._clock() + self.ttl
        return token

    def check(self, token: str | None) -> bool:
        """Whether ``token`` came from a login and has not expired or been logged out."""
        if not token:
            return False
        with self._lock:
            expiry = self._tokens.get(_digest(token))
            return expiry is not None and expiry > self._clock()

    def logout(self, token: str | None) -> None:
        """Forget a token (unknown tokens are ignored)."""
        with self._lock:
            self._tokens.pop(_digest(token or ""), None)

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, expiry in self._tokens.items() if expiry <= now]:
            del self._tokens[key]


def _digest(token: str) -> str:
    # Looking up a hash, not the token, keeps the lookup's timing independent of the secret.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
