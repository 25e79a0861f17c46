"""Hardening seen from outside a real ``citybrain serve`` process (issue 10): forwarded headers
are not believed from a peer no one trusts, oversized bodies are refused unread, the data
directory is the server's alone, and open streams end at once when the server stops."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from e2e.serving import PASSWORD, ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, server_env: dict[str, str]
) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("hardening") / "data", server_env)
    process.start()
    process.add_user("admin", "admin")
    process.add_user("ann", "operator")
    yield process
    process.stop()


def test_forwarded_for_from_an_untrusted_peer_is_ignored(server: ServerProcess) -> None:
    with closing(server.client()) as client:
        codes = [
            client.post(
                "/api/auth/login", json={"username": "ann", "password": "wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(8)
        ]  # fmt: skip
        assert codes == [401] * 5 + [429] * 3, "rotating the header escaped the lock-out"
    with closing(server.client("admin")) as admin:
        failed = admin.get("/api/audit", params={"action": "login.failed"})
    # Admins do not read the trail; the auditor role does.
    assert failed.status_code == 403
    server.add_user("audra", "auditor")
    with closing(server.client("audra")) as auditor:
        entries = auditor.get("/api/audit", params={"action": "login.failed"}).json()["items"]
    assert {e["client"] for e in entries} == {"127.0.0.1"}


def test_an_oversized_body_is_refused_before_it_is_read(server: ServerProcess) -> None:
    with closing(server.client()) as client:
        response = client.post(
            "/api/auth/login",
            content=b"{" + b" " * (8 * 2**20) + b"}",
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413


def test_the_data_directory_is_private(server: ServerProcess) -> None:
    assert stat.S_IMODE(server.data.stat().st_mode) == 0o700
    private = [p for p in server.data.rglob("*") if p.is_file()]
    assert private, "the server wrote no files"
    loose = [str(p) for p in private if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert loose == []


def test_open_streams_end_at_once_when_the_server_stops(server: ServerProcess) -> None:
    with closing(server.client("admin")) as admin:
        body = {"name": "gate", "source": "rtsp://10.0.0.20/stream1", "enabled": False}
        camera = admin.post("/api/cameras", json=body).json()["id"]
    login = httpx.post(
        f"{server.url}/api/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {login}"}
    opened = threading.Barrier(3)
    ended: list[float] = []

    def hold(path: str) -> None:
        with httpx.stream("GET", server.url + path, headers=headers, timeout=None) as response:
            assert response.status_code == 200
            opened.wait(10)
            for _ in response.iter_bytes():
                pass
        ended.append(time.monotonic())

    threads = [
        threading.Thread(target=hold, args=(path,), daemon=True)
        for path in ("/api/events/stream", f"/api/live/wall.mjpeg?camera={camera}")
    ]
    for thread in threads:
        thread.start()
    opened.wait(10)
    started = time.monotonic()
    assert server.stop() == 0, server.tail()
    took = time.monotonic() - started
    for thread in threads:
        thread.join(10)
    assert len(ended) == 2 and max(ended) - started < 3.0
    assert took < 15.0, f"shutdown took {took:.1f} s"
    log = server.tail(200_000)
    assert "CancelledError" not in log and "Traceback" not in log, log[-3000:]
    assert "server stopped: events and counts flushed" in log
