"""``citybrain serve`` end to end: a real server process on real footage, used over HTTP.

One SQLite server is shared by the module's first tests; the database outage test starts its
own server on its own PostgreSQL instance. About 2-3 minutes on 2 cores.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import psycopg
import pytest

from e2e.serving import RtspProcess, ServerProcess, Sse, SseListener
from support.postgres import OwnPostgres, create_database, own_postgres  # noqa: F401

pytestmark = pytest.mark.slow

CLIP = "worker-zone-detection.mp4"
#: Anyone on the whole frame is in the restricted zone; events end 0.5 s after they leave.
ZONE_CONFIG: dict[str, Any] = {
    "zones": {"floor": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
    "rules": {
        "no_entry": {
            "kind": "restricted_zone", "zone": "floor", "labels": ["person"], "end_after": 0.5,
        }
    },
}  # fmt: skip


def is_jpeg(data: bytes) -> tuple[int, int] | None:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else (int(image.shape[1]), int(image.shape[0]))


def event_start(camera_id: int) -> Any:
    def match(message: Sse) -> bool:
        data = message.data
        return (
            message.kind == "event"
            and data["camera_id"] == camera_id
            and (data["phase"] == "start")
        )

    return match


def health(camera_id: int, online: bool) -> Any:
    def match(message: Sse) -> bool:
        data = message.data
        return (
            message.kind == "health"
            and data["camera_id"] == camera_id
            and (data["online"] is online)
        )

    return match


def check_operator_sees_only(
    server: ServerProcess, user: str, camera_id: int, *, hidden_camera: int, hidden_event: str
) -> None:
    with closing(server.client(user)) as operator:
        assert operator.get(f"/api/cameras/{hidden_camera}").status_code == 404
        assert operator.get(f"/api/events/{hidden_event}").status_code == 404
        assert operator.get(f"/api/events/{hidden_event}/snapshot.jpg").status_code == 404
        assert [c["id"] for c in operator.get("/api/cameras").json()["items"]] == [camera_id]
        listed = operator.get("/api/events", params={"camera": hidden_camera})
        assert listed.json()["items"] == []


def live_frames_rendered(client: httpx.Client) -> float:
    """Live frames the server's workers rendered so far (``/metrics``)."""
    text = client.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("citybrain_live_frames_total{")
    )


def check_live_frames_only_when_asked(client: httpx.Client, camera_id: int) -> None:
    """Nobody watched the camera: it rendered no live frame; a frame request makes it render."""
    time.sleep(1.5)  # a worker report (one a second) after the camera analysed for a while
    assert live_frames_rendered(client) == 0
    frame = client.get(f"/api/cameras/{camera_id}/frame.jpg")
    assert frame.status_code == 200 and is_jpeg(frame.content) is not None
    deadline = time.monotonic() + 10
    while live_frames_rendered(client) < 2:
        assert time.monotonic() < deadline, "the frame request made the camera render nothing"
        time.sleep(0.5)


def check_snapshot_reads_audited(
    server: ServerProcess, event_id: str, *, camera_id: int, reads: int
) -> None:
    with closing(server.client("auditor")) as auditor:
        trail = auditor.get("/api/audit", params={"action": "snapshot.read", "limit": 500})
        assert trail.status_code == 200, trail.text
        entries = [e for e in trail.json()["items"] if e["target"] == event_id]
        assert len(entries) == reads
        assert all(e["username"] == "admin" and e["camera_id"] == camera_id for e in entries)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, server_env: dict[str, str], samples_dir: Path
) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("e2e")
    settings = folder / "server.yaml"
    settings.write_text(f"sources: {{file_roots: ['{samples_dir}']}}\n", encoding="utf-8")
    process = ServerProcess(folder / "data", server_env, config=settings)
    process.start()
    process.add_user("admin", "admin")
    process.add_user("auditor", "auditor")
    yield process
    assert process.stop() == 0, process.tail()
    assert "server stopped: events and counts flushed" in process.tail()


def test_requests_without_a_token_are_refused(server: ServerProcess) -> None:
    with closing(server.client()) as anonymous:
        assert anonymous.get("/api/health").status_code == 200
        spec = anonymous.get("/openapi.json")
        paths: dict[str, dict[str, Any]] = spec.json()["paths"] if spec.status_code == 200 else {}
        assert len(paths) >= 10, spec.text[:200]
        checked = 0
        for path, methods in paths.items():
            if path in ("/api/health", "/api/auth/login"):
                continue
            url = path.replace("{camera_id}", "1").replace("{event_id}", "abc")
            url = url.replace("{token_id}", "1")
            for method in methods:
                if (method, path) == ("post", "/api/session"):
                    continue  # the console's sign-in is a login route too
                response = anonymous.request(method.upper(), url)
                assert response.status_code == 401, (method, path, response.status_code)
                checked += 1
        assert checked >= 10


def test_camera_events_snapshots_permissions_and_audit(
    server: ServerProcess, samples_dir: Path
) -> None:
    admin = server.client("admin")
    sse = SseListener(server.client("admin"))
    created = admin.post(
        "/api/cameras",
        json={"name": "dock", "source": str(samples_dir / CLIP), "config": ZONE_CONFIG},
    )
    assert created.status_code == 201, created.text
    dock = created.json()["id"]
    other = {"name": "yard", "source": str(samples_dir / "car-detection.mp4"), "enabled": False}
    yard = admin.post("/api/cameras", json=other).json()["id"]
    server.add_user("op", "operator", cameras="yard")

    start = sse.wait_for(event_start(dock), timeout=60)
    event_id = start.data["id"]
    assert start.data["rule"] == "no_entry" and start.data["label"] == "person"

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = admin.get("/api/events", params={"camera": dock}).json()["items"]
        if event_id in {e["id"] for e in listed}:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"event {event_id} seen live but not in /api/events")
    for _ in range(2):
        picture = admin.get(f"/api/events/{event_id}/snapshot.jpg")
        assert picture.status_code == 200
        assert picture.headers["content-type"] == "image/jpeg"
        assert is_jpeg(picture.content) == (480, 270)
    assert admin.get(f"/api/cameras/{dock}").json()["health"]["online"] is True
    check_live_frames_only_when_asked(admin, dock)

    check_operator_sees_only(server, "op", yard, hidden_camera=dock, hidden_event=event_id)
    check_snapshot_reads_audited(server, event_id, camera_id=dock, reads=2)
    assert admin.delete(f"/api/cameras/{dock}").status_code == 204
    admin.close()


def test_rtsp_camera_goes_offline_and_comes_back(server: ServerProcess, rtsp: RtspProcess) -> None:
    admin = server.client("admin")
    sse = SseListener(server.client("admin"))
    created = admin.post("/api/cameras", json={"name": "gate", "source": rtsp.url})
    assert created.status_code == 201, created.text
    gate = created.json()["id"]
    assert "***" not in created.json()["source"]  # no credentials in this URL to hide
    sse.wait_for(health(gate, online=True), timeout=60)

    mark = sse.mark()
    killed = time.monotonic()
    rtsp.kill()
    offline = sse.wait_for(health(gate, online=False), timeout=10, after=mark)
    assert offline.at - killed < 5.0, f"offline reported after {offline.at - killed:.1f} s"
    assert admin.get(f"/api/cameras/{gate}").json()["health"]["online"] is False

    mark = sse.mark()
    rtsp.start()
    sse.wait_for(health(gate, online=True), timeout=45, after=mark)
    assert admin.get(f"/api/cameras/{gate}").json()["health"]["online"] is True
    assert admin.delete(f"/api/cameras/{gate}").status_code == 204
    admin.close()


def test_database_outage_loses_no_event(
    own_postgres: OwnPostgres,  # noqa: F811
    tmp_path: Path,
    server_env: dict[str, str],
    samples_dir: Path,
) -> None:
    url = create_database(own_postgres.admin_url, "citybrain_e2e")
    settings = tmp_path / "server.yaml"
    settings.write_text(f"database_url: {url}\nsources: {{file_roots: ['{samples_dir}']}}\n")
    process = ServerProcess(tmp_path / "data", server_env, config=settings)
    process.start()
    try:
        process.add_user("admin", "admin")
        admin = process.client("admin")
        sse = SseListener(process.client("admin"))
        camera = {"name": "dock", "source": str(samples_dir / CLIP), "config": ZONE_CONFIG}
        dock = admin.post("/api/cameras", json=camera).json()["id"]
        sse.wait_for(event_start(dock), timeout=60)

        own_postgres.stop()
        down = sse.mark()
        time.sleep(30)
        during = {m.data["id"] for m in sse.snapshot()[down:] if event_start(dock)(m)}
        own_postgres.start()
        assert len(during) >= 2, "too few events during the outage to prove anything"

        seen = {m.data["id"] for m in sse.snapshot() if event_start(dock)(m)}
        stored: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not seen <= stored:
            with psycopg.connect(url.replace("+psycopg", "")) as conn:
                stored = {row[0] for row in conn.execute("SELECT id FROM events")}
            time.sleep(1.0)
        assert seen <= stored, f"lost {len(seen - stored)} of {len(seen)} events"
        admin.close()
    finally:
        assert process.stop() == 0, process.tail()
