"""End-to-end helpers: a real ``citybrain serve`` process, its users, an SSE listener, and a real
RTSP server; nothing in-process, nothing faked."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
#: The command line under test (override to test another installation).
CLI = os.environ.get("CITYBRAIN_E2E_CLI") or str(Path(sys.executable).with_name("citybrain"))
RTSP_SCRIPT = ROOT / "tests" / "support" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
PASSWORD = "correct horse battery staple"

__all__ = ["PASSWORD", "RtspProcess", "ServerProcess", "Sse", "SseListener", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``citybrain serve`` as a subprocess, with its log in a file."""

    def __init__(self, data: Path, env: dict[str, str], config: Path | None = None) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / f"serve-{self.port}.log"
        self._env = env
        self._config = config
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        args = [CLI, "serve", "--data", str(self.data), "--port", str(self.port)]
        if self._config is not None:
            args += ["--config", str(self._config)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=self._env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready in {timeout} s:\n{self.tail()}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(
                    f"server did not stop in {timeout} s:\n{self.tail()}"
                ) from None
        return self.proc.returncode

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def add_user(self, name: str, role: str, cameras: str | None = None) -> None:
        """``citybrain user add`` with the password on stdin."""
        args = [CLI, "user", "add", name, "--role", role, "--data", str(self.data)]
        if self._config is not None:
            args += ["--settings", str(self._config)]
        if cameras:
            args += ["--cameras", cameras]
        done = subprocess.run(
            args, input=PASSWORD + "\n", capture_output=True, text=True, env=self._env,
            timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def client(self, username: str | None = None) -> httpx.Client:
        """An HTTP client, logged in as ``username`` when given."""
        client = httpx.Client(base_url=self.url, timeout=30)
        if username is not None:
            login = {"username": username, "password": PASSWORD}
            response = client.post("/api/auth/login", json=login)
            assert response.status_code == 200, response.text
            client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return client


@dataclass(frozen=True)
class Sse:
    """One Server-Sent Event: its name, its JSON data, and when it arrived (monotonic)."""

    kind: str
    data: dict[str, Any]
    at: float


class SseListener:
    """Reads ``/api/events/stream`` on a thread; tests wait for the messages they expect."""

    def __init__(self, client: httpx.Client) -> None:
        self.messages: list[Sse] = []
        self._client = client
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._connected.wait(30), "event stream did not open"

    def _read(self) -> None:
        kind, data = "message", ""
        try:
            with self._client.stream("GET", "/api/events/stream", timeout=None) as response:
                assert response.status_code == 200
                self._connected.set()
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data += line.split(":", 1)[1].strip()
                    elif not line and data:
                        self._add(Sse(kind, json.loads(data), time.monotonic()))
                        kind, data = "message", ""
        except (httpx.HTTPError, RuntimeError):
            pass  # the client was closed: the test is over

    def _add(self, message: Sse) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Sse], bool], timeout: float, after: int = 0) -> Sse:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages[after:]:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching SSE message in {timeout} s")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    def snapshot(self) -> list[Sse]:
        with self._cond:
            return list(self.messages)


class RtspProcess:
    """``tests/support/rtsp_server.py`` (GStreamer) looping a clip; can be killed and restarted."""

    def __init__(self, clip: Path, log: Path) -> None:
        self.clip = clip
        self.port = free_port()
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.log = log
        self.proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30.0) -> None:
        args = [SYSTEM_PYTHON, str(RTSP_SCRIPT), "--port", str(self.port), "--mount", "/cam",
                "--source", str(self.clip), "--loop"]  # fmt: skip
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout) and self.proc.stdout.readline().startswith("READY")
        if not ready:
            self.kill()
            raise RuntimeError(f"RTSP server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
