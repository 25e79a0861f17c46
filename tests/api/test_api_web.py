"""The console's server side: security headers, the session cookie, offline docs and console,
the live wall's multiplexed stream and the line-crossing series."""

from __future__ import annotations

import re
from datetime import timedelta

import cv2
import numpy as np
import pytest
from apisupport import PASSWORD, T0, World
from fastapi.testclient import TestClient

from citybrain.api.main import create_app
from citybrain.api.routes.console import WEB_DIR
from citybrain.config.console import ConsoleSettings
from citybrain.records import LineCountRecord, Role
from citybrain.runtime.messages import FrameMessage
from citybrain.services import Services
from citybrain.store import CountRepo

needs_assets = pytest.mark.skipif(
    not (WEB_DIR / "vendor" / "leaflet" / "leaflet.js").is_file(),
    reason="console libraries missing: run scripts/install",
)


def _jpeg(value: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((48, 64, 3), value, dtype=np.uint8))
    assert ok
    return bytes(data.tobytes())


def _check_headers(headers: dict[str, str] | object) -> None:
    policy = headers["content-security-policy"]  # type: ignore[index]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert headers["referrer-policy"] == "no-referrer"  # type: ignore[index]


def test_every_response_carries_the_security_headers(client: TestClient, world: World) -> None:
    ada = world.user("ada", Role.ADMIN)
    responses = [
        client.get("/api/health"),
        client.get("/api/cameras"),  # 401
        client.get("/api/cameras", headers=ada),
        client.get("/api/no-such-route"),
        client.post("/api/auth/login", json={"username": "ada"}),  # 422
        client.get("/openapi.json"),
        client.get("/"),
        client.get("/docs"),
    ]
    for response in responses:
        _check_headers(response.headers)
    api_json = [r for r in responses if r.request.url.path.startswith("/api/")]
    assert all(r.headers["cache-control"] == "no-store" for r in api_json)


def test_the_session_cookie_signs_in_and_refuses_cross_site_writes(
    client: TestClient, world: World
) -> None:
    gate = world.camera("gate")
    world.user("olu", Role.OPERATOR, cameras=(gate,))
    event_id = world.event(gate)
    wrong = client.post("/api/session", json={"username": "olu", "password": "not it at all"})
    assert wrong.status_code == 401 and "citybrain_session" not in wrong.headers.get(
        "set-cookie", ""
    )
    signed = client.post("/api/session", json={"username": "olu", "password": PASSWORD})
    assert signed.status_code == 200 and signed.json()["camera_ids"] == [gate]
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "access_token" not in signed.text  # the token is never readable by scripts
    assert client.get("/api/auth/me").json()["username"] == "olu"
    # A write signed in by cookie alone is refused unless it carries the console's header.
    refused = client.post(f"/api/events/{event_id}/acknowledge")
    assert refused.status_code == 403 and "x-citybrain-console" in refused.json()["detail"]
    done = client.post(f"/api/events/{event_id}/acknowledge", headers={"X-Citybrain-Console": "1"})
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "olu"
    # An explicit bearer token wins over the cookie.
    other = world.user("ada", Role.ADMIN)
    assert client.get("/api/auth/me", headers=other).json()["username"] == "ada"
    out = client.delete("/api/session", headers={"X-Citybrain-Console": "1"})
    assert out.status_code == 204 and 'citybrain_session=""' in out.headers["set-cookie"]
    assert client.get("/api/auth/me").status_code == 401
    assert [e["username"] for e in world.audit_actions("logout")] == ["olu"]
    assert "olu" in [e["username"] for e in world.audit_actions("login")]


@needs_assets
def test_console_and_docs_are_served_from_local_files(client: TestClient) -> None:
    for path in ("/", "/docs"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert not re.search(r"(src|href)=\"https?://", page.text), "a remote asset"
        assert "<script>" not in page.text, "an inline script"
        for asset in re.findall(r"(?:src|href)=\"(/console/[^\"]+)\"", page.text):
            assert client.get(asset).status_code == 200, asset
    assert "SwaggerUIBundle" in client.get("/console/vendor/swagger-ui/swagger-ui-bundle.js").text
    assert client.get("/console/../server/settings.py").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_console_settings_and_config_schema(client: TestClient, world: World) -> None:
    assert client.get("/api/console/settings").status_code == 401
    olu = world.user("olu", Role.OPERATOR)
    settings = client.get("/api/console/settings", headers=olu).json()
    assert settings["tile_url"] is None and "person" in settings["labels"]
    schema = client.get("/api/console/config-schema", headers=olu).json()
    [rule] = schema["properties"]["rules"]["patternProperties"].values()
    mapping = rule["discriminator"]["mapping"]
    assert set(mapping) == {"restricted_zone", "hardhat_required", "dwell", "occupancy",
                            "line_crossing"}  # fmt: skip


def test_a_configured_tile_server_is_allowed_for_images_only(services: Services) -> None:
    tiles = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    settings = services.settings.model_copy(update={"console": ConsoleSettings(tile_url=tiles)})
    app = create_app(Services.of(settings, services.store, services.cameras))
    with TestClient(app) as client:
        policy = client.get("/api/health").headers["content-security-policy"]
    img = next(part for part in policy.split("; ") if part.startswith("img-src"))
    assert "https://*.tiles.example.org" in img
    assert "tiles.example.org" not in policy.replace(img, "")
    with pytest.raises(ValueError, match=r"\{z\}"):
        ConsoleSettings(tile_url="https://tiles.example.org/tile.png")


def _parts(chunks: object, buffer: bytearray, wanted: int) -> list[tuple[int, bytes]]:
    parts: list[tuple[int, bytes]] = []
    while len(parts) < wanted:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode()
            length = int(re.search(r"Content-Length: (\d+)", head)[1])  # type: ignore[index]
            if len(buffer) >= head_end + 4 + length:
                camera = int(re.search(r"X-Camera-Id: (\d+)", head)[1])  # type: ignore[index]
                parts.append((camera, bytes(buffer[head_end + 4 : head_end + 4 + length])))
                del buffer[: head_end + 4 + length + 2]
                continue
        buffer += next(chunks)  # type: ignore[call-overload]
    return parts


def test_the_wall_stream_multiplexes_visible_cameras_and_is_audited(
    client: TestClient, world: World
) -> None:
    gate, yard, hidden = world.camera("gate"), world.camera("yard"), world.camera("hidden")
    olu = world.user("olu", Role.OPERATOR, cameras=(gate, yard))
    hub = world.services.hub
    for camera, value in ((gate, 40), (yard, 120), (hidden, 200)):
        hub.set_frame(FrameMessage(camera_id=camera, jpeg=_jpeg(value), timestamp=1.0))
    url = f"/api/live/wall.mjpeg?camera={gate}&camera={yard}"
    with client.stream("GET", url, headers=olu) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=frame"
        chunks, buffer = response.iter_bytes(), bytearray()
        first = dict(_parts(chunks, buffer, 2))
        hub.set_frame(FrameMessage(camera_id=yard, jpeg=_jpeg(60), timestamp=2.0))
        [(camera, later)] = _parts(chunks, buffer, 1)
    assert first == {gate: _jpeg(40), yard: _jpeg(120)}
    assert (camera, later) == (yard, _jpeg(60))
    assert client.get(f"/api/live/wall.mjpeg?camera={hidden}", headers=olu).status_code == 404
    auditor = world.user("aud", Role.AUDITOR)
    assert client.get(f"/api/live/wall.mjpeg?camera={gate}", headers=auditor).status_code == 403
    too_many = "&".join(f"camera={gate}" for _ in range(17))
    assert client.get(f"/api/live/wall.mjpeg?{too_many}", headers=olu).status_code == 422
    opened = world.audit_actions("live.open")
    assert sorted(e["camera_id"] for e in opened) == sorted([gate, yard])
    assert all(e["detail"] == {"via": "wall"} and e["username"] == "olu" for e in opened)


def test_line_crossings_come_per_hour_for_visible_cameras(client: TestClient, world: World) -> None:
    gate, hidden = world.camera("gate"), world.camera("hidden")
    rows = [
        LineCountRecord(camera_id=camera, rule="counts", line="entry", direction="in",
                        label="person", interval_start=T0 + timedelta(minutes=minutes),
                        interval_seconds=60.0, count=count)
        for camera, minutes, count in ((gate, 0, 2), (gate, 30, 3), (gate, 70, 4), (hidden, 0, 9))
    ]  # fmt: skip
    with world.store.session() as session:
        CountRepo(session).add(rows=rows)
    olu = world.user("olu", Role.OPERATOR, cameras=(gate,))
    answer = client.get("/api/stats/lines", headers=olu, params={"bucket": "hour"}).json()
    got = [(i["camera_id"], i["bucket_start"][:13], i["count"]) for i in answer["items"]]
    hour = T0.isoformat()[:13]
    next_hour = (T0 + timedelta(hours=1)).isoformat()[:13]
    assert got == [(gate, hour, 5), (gate, next_hour, 4)]
