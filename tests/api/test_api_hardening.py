"""What an attacker and a new user found (issue 10), each closed: source changes by limited
users, sources pointing anywhere, forged forwarded headers, oversized bodies, streams that
outlive their credential, small leaks to limited users, live-stream limits, notes dropped."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from ipaddress import ip_network
from pathlib import Path

import cv2
import numpy as np
import pytest
from apisupport import FAST_PASSWORDS, World
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citybrain.api.deps import forwarded_client
from citybrain.api.main import create_app
from citybrain.config.server import ServerSettings
from citybrain.records import CameraHealth, Role
from citybrain.runtime.messages import FrameMessage
from citybrain.services import Services
from citybrain.services.security import LoginGuard, hash_api_token, new_api_token
from citybrain.store import Store, TokenRepo, UserRepo
from support.recording import RecordingCameras

DEADLINE_S = 10.0


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "gate.mp4").write_bytes(b"not really a video")
    return root


@pytest.fixture
def app(store: Store, tmp_path: Path, media_root: Path) -> FastAPI:
    settings = ServerSettings.model_validate({
        "data_dir": tmp_path / "data", "token_hours": 1.0, "live_fps": 15.0,
        "sources": {"file_roots": [media_root]},
        "limits": {"json_body_bytes": 64 * 1024, "live_streams_per_user": 2},
    })  # fmt: skip
    services = Services.of(settings, store, RecordingCameras())
    return create_app(
        services, retention_interval_s=3600.0, heartbeat_s=0.5, recheck_s=0.3,
        passwords=FAST_PASSWORDS,
    )  # fmt: skip


@pytest.fixture
def world(client: TestClient, app: FastAPI) -> World:
    return World(client=client, services=app.state.context.services)


# --- 1 and 2: camera sources ------------------------------------------------------------------


def test_a_limited_supervisor_cannot_repoint_a_camera(client: TestClient, world: World) -> None:
    mine, theirs = world.camera("mine"), world.camera("theirs", "rtsp://10.9.9.9/secret-feed")
    limited = world.user("sue", Role.SUPERVISOR, cameras=(mine,))
    moved = client.patch(
        f"/api/cameras/{mine}", json={"source": "rtsp://10.9.9.9/secret-feed"}, headers=limited
    )
    assert moved.status_code == 403 and "source" in moved.json()["detail"]
    renamed = client.patch(f"/api/cameras/{mine}", json={"name": "mine-2"}, headers=limited)
    assert renamed.status_code == 200  # other changes stay allowed
    assert client.get(f"/api/cameras/{theirs}", headers=limited).status_code == 404
    boss = world.user("boss", Role.SUPERVISOR)
    new = "rtsp://viewer:pw2@10.0.0.30/main"
    assert client.patch(f"/api/cameras/{mine}", json={"source": new}, headers=boss).is_success
    [entry] = [e for e in world.audit_actions("camera.update") if "source" in e["detail"]]
    assert entry["detail"]["source"] == {
        "old": "rtsp://***:***@10.1.2.3:554/stream1?token=***&ch=1",
        "new": "rtsp://***:***@10.0.0.30/main",
    }
    assert "pw2" not in json.dumps(world.audit_actions("camera.update"), default=str)
    # The analysis source is a source too (issue 15): the same limits, the same redaction.
    sub = {"analysis_source": "rtsp://10.9.9.9/secret-feed"}
    moved = client.patch(f"/api/cameras/{mine}", json=sub, headers=limited)
    assert moved.status_code == 403 and "analysis source" in moved.json()["detail"]
    sub = {"analysis_source": "rtsp://viewer:pw3@10.0.0.30/sub"}
    assert client.patch(f"/api/cameras/{mine}", json=sub, headers=boss).is_success
    [entry] = [e for e in world.audit_actions("camera.update") if "analysis_source" in e["detail"]]
    assert entry["detail"]["analysis_source"] == {
        "old": None, "new": "rtsp://***:***@10.0.0.30/sub"
    }  # fmt: skip
    assert "pw3" not in json.dumps(world.audit_actions("camera.update"), default=str)


@pytest.mark.parametrize(
    "source",
    [
        "file:///etc/passwd", "/etc/shadow", "/proc/self/environ", "../../../../etc/hosts",
        "http://169.254.169.254/latest/meta-data/", "rtsp://[fe80::1]/x",
        "http://127.0.0.1:8000/api/health",  # the server itself (its default host and port)
        "ftp://10.0.0.1/x.mp4",
    ],
)  # fmt: skip
def test_sources_outside_the_policy_are_refused(
    client: TestClient, world: World, source: str
) -> None:
    admin = world.user("root", Role.ADMIN)
    body = {"name": "probe", "source": source}
    response = client.post("/api/cameras", json=body, headers=admin)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "source"]
    assert "root:" not in error["msg"] and "PATH=" not in error["msg"]
    camera = world.camera("probe-target")
    patch = client.patch(f"/api/cameras/{camera}", json={"source": source}, headers=admin)
    assert patch.status_code == 422
    # An analysis source (issue 15) is held to the same policy, and named as itself.
    body = {"name": "probe", "source": "rtsp://10.0.0.20/main", "analysis_source": source}
    response = client.post("/api/cameras", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "analysis_source"]]
    patch = client.patch(f"/api/cameras/{camera}", json={"analysis_source": source}, headers=admin)
    assert patch.status_code == 422


def test_file_sources_are_stored_resolved_under_a_media_root(
    client: TestClient, world: World, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.user("root", Role.ADMIN)
    monkeypatch.chdir(media_root)
    created = client.post(
        "/api/cameras", json={"name": "gate", "source": "clips/../clips/gate.mp4"}, headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["source"] == str(media_root.resolve() / "clips" / "gate.mp4")
    (media_root / "escape").symlink_to("/etc")
    escaped = client.post(
        "/api/cameras", json={"name": "esc", "source": "escape/passwd"}, headers=admin
    )
    assert escaped.status_code == 422  # a symlink out of the root is outside it
    private = client.post(
        "/api/cameras", json={"name": "lan", "source": "rtsp://10.0.0.20/stream1"}, headers=admin
    )
    assert private.status_code == 201  # a restreamer on the local network is common


def test_camera_names_refuse_control_characters(client: TestClient, world: World) -> None:
    admin = world.user("root", Role.ADMIN)
    for name in ("bad\x9b31m", "bad\x1b[31m", "two\nlines"):
        body = {"name": name, "source": "rtsp://10.0.0.20/s"}
        assert client.post("/api/cameras", json=body, headers=admin).status_code == 422


# --- 3: forwarded headers and the login lock-out ------------------------------------------------


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = (ip_network("10.0.0.5/32"), ip_network("10.0.1.0/24"))
    assert forwarded_client("203.0.113.9", ["1.2.3.4"], proxies) == "203.0.113.9"
    assert forwarded_client("203.0.113.9", ["1.2.3.4"], ()) == "203.0.113.9"
    assert forwarded_client("10.0.0.5", ["198.51.100.7"], proxies) == "198.51.100.7"
    # A client's own entry to the left is not believed; the first untrusted hop from the right is.
    assert forwarded_client("10.0.0.5", ["6.6.6.6, 198.51.100.7, 10.0.1.3"], proxies) == (
        "198.51.100.7"
    )
    assert forwarded_client("10.0.0.5", ["not-an-ip"], proxies) == "10.0.0.5"


def test_rotating_forwarded_for_neither_escapes_the_lockout_nor_forges_the_audit(
    client: TestClient, world: World
) -> None:
    world.user("ann", Role.OPERATOR)
    codes = []
    for i in range(25):
        response = client.post(
            "/api/auth/login", json={"username": "ann", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        )  # fmt: skip
        codes.append(response.status_code)
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}  # one address: the peer's
    assert {e["client"] for e in world.audit_actions("login.failed")} == {"testclient"}


def test_a_user_name_locks_out_across_addresses() -> None:
    guard = LoginGuard(per_pair=5, per_user=20, window_s=60.0)
    for i in range(20):
        assert guard.retry_after("ann", f"10.0.0.{i}", now=1.0) is None
        guard.failure("ann", f"10.0.0.{i}", now=1.0)
    wait = guard.retry_after("ann", "10.9.9.9", now=2.0)
    assert wait is not None and 58.0 <= wait <= 59.0
    assert guard.retry_after("bob", "10.9.9.9", now=2.0) is None


# --- 4: bodies over the limit -------------------------------------------------------------------


def test_oversized_bodies_are_refused_before_authentication(client: TestClient) -> None:
    big = b'{"username": "' + b"a" * 200_000 + b'", "password": "x"}'
    declared = client.post(
        "/api/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
    assert "limit" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    streamed = client.post("/api/cameras", content=chunks())  # no Content-Length: chunked
    assert streamed.status_code == 413


# --- 5: streams end when their credential does ------------------------------------------------


def _api_token(world: World, name: str, role: Role) -> tuple[dict[str, str], int]:
    world.user(name, role)
    secret = new_api_token()
    with world.store.session() as session:
        user = UserRepo(session).by_username(username=name)
        assert user is not None
        token = TokenRepo(session).create(
            user_id=user.id, name="t", token_hash=hash_api_token(secret)
        )
    return {"Authorization": f"Bearer {secret}"}, token.id


def _jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.zeros((8, 8, 3), dtype=np.uint8))
    assert ok
    return bytes(data.tobytes())


def _drain_until_closed(lines: Iterator[bytes]) -> float:
    started = time.monotonic()
    for _ in lines:
        assert time.monotonic() - started < DEADLINE_S, "the stream outlived its credential"
    return time.monotonic() - started


def test_revoking_a_token_ends_open_streams(client: TestClient, world: World) -> None:
    gate = world.camera("gate")
    world.services.hub.set_frame(FrameMessage(camera_id=gate, jpeg=_jpeg(), timestamp=1.0))
    headers, token_id = _api_token(world, "ann", Role.OPERATOR)
    with (
        client.stream("GET", "/api/events/stream", headers=headers) as sse,
        client.stream("GET", f"/api/cameras/{gate}/live.mjpeg", headers=headers) as mjpeg,
    ):
        assert sse.status_code == 200 and mjpeg.status_code == 200
        with world.store.session() as session:
            assert TokenRepo(session).revoke(token_id=token_id)
        assert _drain_until_closed(sse.iter_bytes()) < DEADLINE_S
        assert _drain_until_closed(mjpeg.iter_bytes()) < DEADLINE_S


def test_disabling_a_user_ends_their_wall(client: TestClient, world: World) -> None:
    gate = world.camera("gate")
    world.services.hub.set_frame(FrameMessage(camera_id=gate, jpeg=_jpeg(), timestamp=1.0))
    headers = world.user("ann", Role.OPERATOR)
    with client.stream("GET", f"/api/live/wall.mjpeg?camera={gate}", headers=headers) as wall:
        assert wall.status_code == 200
        with world.store.session() as session:
            user = UserRepo(session).by_username(username="ann")
            assert user is not None
            UserRepo(session).update(user_id=user.id, disabled=True)
        assert _drain_until_closed(wall.iter_bytes()) < DEADLINE_S


# --- 6 and 7: per-user views and limits ---------------------------------------------------------


def test_event_stream_ids_count_only_what_the_subscriber_sees(
    client: TestClient, world: World
) -> None:
    mine, theirs = world.camera("mine"), world.camera("theirs")
    ann = world.user("ann", Role.OPERATOR, cameras=(mine,))
    hub = world.services.hub
    with client.stream("GET", "/api/events/stream", headers=ann) as response:

        def publish() -> None:
            for i in range(30):
                camera = theirs if i < 29 else mine
                hub.publish_health(_health(camera))

        threading.Thread(target=publish).start()
        ids = []
        for line in response.iter_lines():
            if line.startswith("id: "):
                ids.append(int(line.removeprefix("id: ")))
                break
    assert ids == [1]  # 29 messages of a hidden camera left no gap


def _health(camera_id: int) -> CameraHealth:
    return CameraHealth(
        camera_id=camera_id, online=True, fps_in=1.0, fps_analysed=1.0, lag_seconds=0.1,
        frames_dropped=0, reconnects=0, last_error=None, at=1.7e9,
    )  # fmt: skip


def test_a_user_may_hold_only_so_many_live_streams(client: TestClient, world: World) -> None:
    gate = world.camera("gate")
    world.services.hub.set_frame(FrameMessage(camera_id=gate, jpeg=_jpeg(), timestamp=1.0))
    ann = world.user("ann", Role.OPERATOR)
    url = f"/api/cameras/{gate}/live.mjpeg"
    with (
        client.stream("GET", url, headers=ann) as one,
        client.stream("GET", f"/api/live/wall.mjpeg?camera={gate}", headers=ann) as two,
    ):
        assert one.status_code == 200 and two.status_code == 200
        third = client.get(url, headers=ann)
        assert third.status_code == 429 and "limit" in third.json()["detail"]
        with client.stream("GET", url, headers=world.user("bob", Role.OPERATOR)) as bobs:
            assert bobs.status_code == 200  # the limit is per user
    deadline = time.monotonic() + DEADLINE_S
    while True:  # closed streams no longer count, once the server has noticed they closed
        with client.stream("GET", url, headers=ann) as again:
            if again.status_code == 200:
                break
        assert time.monotonic() < deadline, "closed streams still count against the limit"
        time.sleep(0.1)


# --- 14: notes are kept ---------------------------------------------------------------------------


def test_acknowledging_keeps_the_note(client: TestClient, world: World) -> None:
    event = world.event(world.camera("gate"))
    ann = world.user("ann", Role.OPERATOR)
    response = client.post(
        f"/api/events/{event}/acknowledge", json={"note": "crew on the way"}, headers=ann
    )
    assert response.status_code == 200
    assert response.json()["note"] == "crew on the way"
    assert client.get(f"/api/events/{event}", headers=ann).json()["note"] == "crew on the way"
