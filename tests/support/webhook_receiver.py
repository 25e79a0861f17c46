"""A real webhook receiver on loopback that verifies Standard Webhooks signatures.

It runs Python's threading HTTP server (HTTP/1.1, keep-alive) on a free port, checks every
request with the PyPI ``standardwebhooks`` package, as a receiver written by someone else
would, and records what arrived. A test can make it answer 500 for a while, or redirect.

    receiver = Receiver(secret).start()
    receiver.fail_for(30)          # 500 for the next 30 s, then 200 again
    receiver.redirect("/old", "/hook")
    ...
    receiver.stop()
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from citybrain.integrations.webhooks import new_secret
from support.certs import TlsFiles

__all__ = ["Arrival", "Receiver", "receiver"]


@dataclass(frozen=True)
class Arrival:
    """One request: what came, whether its signature held, and what we answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int
    at: float

    @property
    def message_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """See the module docstring.

    Args:
        secret: the ``whsec_`` secret signatures are checked with.
        host: where to listen (``127.0.0.1``; ``::1`` for IPv6).
        tls: serve https with these files (:func:`support.certs.make_certificates`).
    """

    def __init__(self, secret: str, host: str = "127.0.0.1", tls: TlsFiles | None = None) -> None:
        self.secret = secret
        self._verifier = Webhook(secret)
        self._lock = threading.Condition()
        self._fail_until = 0.0
        self._fail_status = 500
        self._redirects: dict[str, tuple[int, str]] = {}
        self.arrivals: list[Arrival] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server_class = _V6Server if ":" in host else ThreadingHTTPServer
        self._server = server_class((host, 0), Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls.cert, tls.key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def use_secret(self, secret: str) -> None:
        """Verify with ``secret`` from now on (the server makes a webhook's secret: a test
        learns it from the answer to ``POST /api/webhooks``, after the receiver's URL)."""
        with self._lock:
            self.secret = secret
            self._verifier = Webhook(secret)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/hook", host: str | None = None) -> str:
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.scheme}://{name}:{self.port}{path}"

    def fail_for(self, seconds: float, status: int = 500) -> None:
        """Answer ``status`` to every request for the next ``seconds``."""
        with self._lock:
            self._fail_until = time.monotonic() + seconds
            self._fail_status = status

    def redirect(self, path: str, location: str, status: int = 307) -> None:
        """Answer requests to ``path`` with a redirect to ``location``."""
        self._redirects[path] = (status, location)

    def accepted(self, path: str = "/hook") -> list[Arrival]:
        """The requests answered 2xx on ``path``, in arrival order."""
        with self._lock:
            return [a for a in self.arrivals if a.path == path and 200 <= a.status < 300]

    def wait_for(self, condition: Callable[[list[Arrival]], bool], timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: condition(self.arrivals), timeout)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length)
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._lock:
            verifier = self._verifier
        try:
            verifier.verify(body, headers)
            verified = True
        except WebhookVerificationError:
            verified = False
        path = request.path
        extra: dict[str, str] = {}
        with self._lock:
            if not verified:
                status = 401
            elif path in self._redirects:
                status, extra["Location"] = self._redirects[path]
            elif time.monotonic() < self._fail_until:
                status = self._fail_status
            else:
                status = 204
            self.arrivals.append(Arrival(path, headers, body, verified, status, time.time()))
            self._lock.notify_all()
        request.send_response(status)
        for name, value in extra.items():
            request.send_header(name, value)
        request.send_header("Content-Length", "0")
        request.end_headers()


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A started receiver for a fresh secret (its ``secret``); stopped afterwards."""
    started = Receiver(new_secret()).start()
    try:
        yield started
    finally:
        started.stop()
