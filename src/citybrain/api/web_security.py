"""Browser-facing protections, as pure ASGI middleware (streams pass through untouched).

:class:`SecurityHeaders` puts the same headers on every response: a Content-Security-Policy that
allows only the server's own origin (no inline scripts; images also from ``data:``, ``blob:``
and, when an admin configured one, the map tile server), ``nosniff``, no framing, no referrer,
and ``Cache-Control: no-store`` on API answers that set no caching of their own.

:class:`CookieSession` lets the console authenticate with an ``HttpOnly``, ``SameSite=Strict``
cookie (``<img>`` and ``EventSource`` cannot send an ``Authorization`` header): a request with
the cookie and no ``Authorization`` header is handled as if it carried the cookie's token as a
bearer token. A state-changing request authenticated by the cookie must also carry
:data:`CSRF_HEADER`, which a cross-site form cannot send (defence in depth behind SameSite).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "COOKIE_NAME",
    "CSRF_HEADER",
    "BodyLimit",
    "CookieSession",
    "SecurityHeaders",
    "content_security_policy",
    "tile_origin",
]

COOKIE_NAME = "citybrain_session"
#: The header the console sends with every state-changing request.
CSRF_HEADER = "x-citybrain-console"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Sign-in routes authenticate by their body, never by the cookie: no header needed there.
_SIGN_IN = frozenset({"/api/auth/login", "/api/session"})


def tile_origin(url: str | None) -> str | None:
    """The ``scheme://host[:port]`` of a tile URL template, or ``None``."""
    if not url:
        return None
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc
    if "{s}" in url:  # Leaflet's sub-domains: allow the pattern, not every host
        host = urlsplit(url.replace("{s}", "*")).netloc
    return f"{parts.scheme}://{host}"


def content_security_policy(extra_img: Iterable[str] = ()) -> str:
    """The policy: the server's own origin only, plus ``extra_img`` origins for images."""
    images = " ".join(["'self'", "data:", "blob:", *extra_img])
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {images}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])  # fmt: skip


class SecurityHeaders:
    """Adds the security headers to every HTTP response of ``app``."""

    def __init__(self, app: ASGIApp, *, policy: str) -> None:
        self.app = app
        self._fixed = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = str(scope.get("path", "")).startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                headers.extend(self._fixed)
                if is_api and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


_OURS = frozenset({
    b"content-security-policy", b"x-content-type-options", b"x-frame-options",
    b"referrer-policy", b"cross-origin-opener-policy",
})  # fmt: skip


def _cookie_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                continue
            morsel = jar.get(COOKIE_NAME)
            if morsel is not None and morsel.value:
                return morsel.value
    return None


class CookieSession:
    """Turns the console's session cookie into a bearer token; refuses cross-site writes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        if any(key == b"authorization" for key, _ in headers):
            await self.app(scope, receive, send)  # an explicit token wins over the cookie
            return
        token = _cookie_token(headers)
        if token is None:
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET")).upper()
        signing_in = method == "POST" and scope.get("path") in _SIGN_IN
        has_header = any(k == CSRF_HEADER.encode() for k, _ in headers)
        if method not in _SAFE_METHODS and not signing_in and not has_header:
            await _refuse(send, f"a request signed in by cookie must send the {CSRF_HEADER} header")
            return
        headers.append((b"authorization", f"Bearer {token}".encode("latin-1")))
        await self.app({**scope, "headers": headers}, receive, send)


async def _refuse(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start", "status": 403,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses request bodies over a limit with 413, before they are read or authenticated.

    A declared ``Content-Length`` over the limit is refused at once; a body sent without one
    (chunked) is counted as it arrives and refused as soon as it passes the limit, so no more
    than the limit is ever held in memory.

    Args:
        default: the limit in bytes for every route, and the setting that sets it (named in
            the refusal).
        prefixes: other limits for paths starting with a prefix (imports), with their settings.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: tuple[int, str],
        prefixes: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self._default = default
        self._prefixes = sorted((prefixes or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> tuple[int, str]:
        """The limit of ``path`` and the setting that sets it."""
        return next((n for prefix, n in self._prefixes if path.startswith(prefix)), self._default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(str(scope.get("path", "")))
        declared = _content_length(scope.get("headers", []))
        if declared is not None and declared > limit:
            await _too_large(send, limit, setting)
            return
        seen = 0
        exceeded = replaced = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Read no further: to the app the client is gone (it answers 400 or
                    # fails); whatever it answers is replaced by the 413 below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal replaced
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start" and not replaced:
                replaced = True
                await _too_large(send, limit, setting)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not replaced:
            await _too_large(send, limit, setting)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int, setting: str) -> None:
    detail = f"request body over the limit of {limit} bytes (the server's {setting})"
    body = json.dumps({"detail": detail}).encode()
    await send({
        "type": "http.response.start", "status": 413,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
