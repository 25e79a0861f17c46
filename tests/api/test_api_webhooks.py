"""``/api/webhooks`` on SQLite and PostgreSQL, with the server's real webhook service delivering
to a real receiver on loopback that verifies every signature with ``standardwebhooks``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apisupport import World

from citybrain.config.server import ServerSettings
from citybrain.core.events import new_event_id
from citybrain.records import LiveEvent, Role
from citybrain.server.app import build_outbound
from citybrain.services import Services, network_policy
from citybrain.services.metrics import ServerMetrics
from citybrain.store import Store
from support.recording import RecordingCameras
from support.webhook_receiver import Receiver, receiver

__all__ = ["receiver"]

FAST = {"retry_first_seconds": 0.1, "retry_max_seconds": 0.5, "timeout_seconds": 5}


@pytest.fixture
def services(store: Store, cameras: RecordingCameras, tmp_path: Path) -> Iterator[Services]:
    """The API's services with the webhook service running (no MQTT)."""
    settings = ServerSettings(
        data_dir=tmp_path / "data", token_hours=1.0, webhooks=FAST,
        public_url="https://cb.example",
    )  # fmt: skip
    metrics = ServerMetrics()
    outbound = build_outbound(settings, store, network_policy(settings), metrics)
    outbound.start()
    try:
        yield Services.of(settings, store, cameras, metrics=metrics, outbound=outbound)
    finally:
        outbound.close()


def live(camera_id: int, phase: str = "start", event_id: str | None = None) -> LiveEvent:
    return LiveEvent(
        id=event_id or new_event_id(), camera_id=camera_id, kind="restricted_zone",
        rule="intruders", zone="site", label="person", track_id=1, score=0.9,
        started_at=datetime.now(UTC), phase=phase,  # type: ignore[arg-type]
        snapshot="1/x.jpg" if phase == "start" else None,
    )  # fmt: skip


def create(world: World, who: dict[str, str], **body: Any) -> dict[str, Any]:
    response = world.client.post("/api/webhooks", json=body, headers=who)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def wait(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_the_secret_is_shown_once_and_signs_every_delivery(
    world: World, receiver: Receiver
) -> None:
    admin = world.user("root", Role.ADMIN)
    gate = world.camera("gate")
    url = receiver.url().replace("://", "://hook:pa55word@")
    created = create(world, admin, url=url, description="dispatch")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["url"] == receiver.url().replace("://", "://***:***@")
    assert (created["cameras"], created["kinds"], created["pending"]) == (None, None, 0)
    assert created["owner"] == "root" and created["failing"] is False
    listed = world.client.get("/api/webhooks", headers=admin).json()["items"]
    one = world.client.get(f"/api/webhooks/{created['id']}", headers=admin).json()
    assert "secret" not in one and all("secret" not in item for item in listed)
    assert "pa55word" not in str(listed) + str(one)
    receiver.use_secret(secret)

    tested = world.client.post(f"/api/webhooks/{created['id']}/test", headers=admin)
    assert tested.status_code == 200, tested.text
    assert tested.json()["ok"] is True and tested.json()["status_code"] == 204
    probe = receiver.accepted()[-1]
    assert probe.verified and probe.json()["type"] == "citybrain.webhook.test"

    event_id = new_event_id()
    outbound = world.services.outbound
    assert outbound is not None
    for phase in ("start", "update", "end"):
        outbound.event(live(gate, phase, event_id), "gate")
    assert receiver.wait_for(lambda _: len(receiver.accepted()) >= 4, timeout=15)
    envelopes = [a.json() for a in receiver.accepted()[1:]]
    assert all(a.verified for a in receiver.arrivals)
    assert [e["type"] for e in envelopes] == [
        "citybrain.event.started", "citybrain.event.updated", "citybrain.event.ended",
    ]  # fmt: skip
    assert {e["subject"] for e in envelopes} == {"gate"}
    assert {e["data"]["snapshot_url"] for e in envelopes} == {
        f"https://cb.example/api/events/{event_id}/snapshot.jpg"
    }
    assert "phase" not in envelopes[0]["data"] and envelopes[0]["source"] == "https://cb.example"

    # The receiver has the last one a moment before the engine records its answer.
    path = f"/api/webhooks/{created['id']}"
    assert wait(lambda: world.client.get(path, headers=admin).json()["pending"] == 0)
    deliveries = world.client.get(f"{path}/deliveries", headers=admin)
    items = deliveries.json()["items"]
    assert [d["event_type"] for d in items] == [
        "citybrain.event.ended", "citybrain.event.updated", "citybrain.event.started",
    ]  # fmt: skip
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in items)
    assert {d["last_status_code"] for d in items} == {204} and items[0]["event_id"] == event_id
    page = world.client.get(
        f"/api/webhooks/{created['id']}/deliveries", params={"limit": 2}, headers=admin
    ).json()
    older = world.client.get(
        f"/api/webhooks/{created['id']}/deliveries",
        params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin,
    ).json()  # fmt: skip
    assert [d["id"] for d in page["items"] + older["items"]] == [d["id"] for d in items]
    assert older["next_cursor"] is None

    trail = world.audit_actions("webhook.create")
    assert trail[0]["username"] == "root" and "pa55word" not in str(trail)
    assert world.audit_actions("webhook.test")[0]["detail"] == {"ok": True, "status_code": 204}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "ftp://x.example/"}, "url", "http:// or https://"),
        ({"url": "http://169.254.169.254/latest"}, "url", "refused by the network policy"),
        ({"url": "http://127.0.0.1:8000/api"}, "url", "refused by the network policy"),
        ({"url": "http://127.0.0.1:9/", "kinds": ["bogus"]}, "kinds", "unknown event kind"),
        ({"url": "http://127.0.0.1:9/", "kinds": []}, "kinds", "at least one kind"),
        ({"url": "http://127.0.0.1:9/", "cameras": []}, "cameras", "at least 1"),
        ({"url": "http://127.0.0.1:9/", "cameras": [999]}, "cameras", "unknown camera id(s) [999]"),
        ({"url": "http://127.0.0.1:9/", "secret": "whsec_mine"}, "secret", "Extra inputs"),
    ],
)
def test_bad_webhooks_are_refused_naming_the_problem(
    world: World, body: dict[str, Any], field: str, message: str
) -> None:
    admin = world.user("root", Role.ADMIN)
    response = world.client.post("/api/webhooks", json=body, headers=admin)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert any(field in p["loc"] and message in p["msg"] for p in problems), problems


def test_only_admins_and_a_limited_admin_only_within_their_cameras(
    world: World, receiver: Receiver
) -> None:
    gate, yard = world.camera("gate"), world.camera("yard")
    root = world.user("root", Role.ADMIN)
    limited = world.user("lim", Role.ADMIN, cameras=(gate,))
    operator = world.user("op", Role.OPERATOR)
    assert world.client.get("/api/webhooks", headers=operator).status_code == 403
    refused = world.client.post("/api/webhooks", json={"url": receiver.url()}, headers=operator)
    assert refused.status_code == 403

    hidden = world.client.post(
        "/api/webhooks", json={"url": receiver.url(), "cameras": [yard]}, headers=limited
    )
    unknown = world.client.post(
        "/api/webhooks", json={"url": receiver.url(), "cameras": [4242]}, headers=limited
    )
    assert hidden.status_code == unknown.status_code == 422
    assert hidden.json()["detail"][0]["msg"] == f"unknown camera id(s) [{yard}]"

    theirs = create(world, root, url=receiver.url("/root"))
    mine = create(world, limited, url=receiver.url())  # every camera *they* may see
    assert [
        w["id"] for w in world.client.get("/api/webhooks", headers=limited).json()["items"]
    ] == [mine["id"]]
    assert world.client.get(f"/api/webhooks/{theirs['id']}", headers=limited).status_code == 404
    patched = world.client.patch(
        f"/api/webhooks/{theirs['id']}", json={"enabled": False}, headers=limited
    )
    assert patched.status_code == 404
    assert world.client.delete(f"/api/webhooks/{theirs['id']}", headers=limited).status_code == 404
    assert len(world.client.get("/api/webhooks", headers=root).json()["items"]) == 2

    # At fan-out the owner's limit holds: events of the yard never reach their webhook.
    receiver.use_secret(mine["secret"])
    outbound = world.services.outbound
    assert outbound is not None
    yard_event, gate_event = live(yard), live(gate)
    outbound.event(yard_event, "yard")
    outbound.event(gate_event, "gate")
    assert receiver.wait_for(lambda _: len(receiver.accepted()) >= 1, timeout=10)
    assert wait(lambda: not outbound.webhooks or not world.client.get(
        f"/api/webhooks/{mine['id']}", headers=limited).json()["pending"])  # fmt: skip
    assert [a.json()["data"]["id"] for a in receiver.accepted()] == [gate_event.id]


def test_change_rotate_and_delete(world: World, receiver: Receiver) -> None:
    admin = world.user("root", Role.ADMIN)
    gate = world.camera("gate")
    created = create(world, admin, url=receiver.url(), kinds=["restricted_zone"])
    path = f"/api/webhooks/{created['id']}"
    changed = world.client.patch(
        path, json={"cameras": [gate], "kinds": ["dwell", "occupancy"], "enabled": False},
        headers=admin,
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["cameras"], body["kinds"], body["enabled"]) == (
        [gate],
        ["dwell", "occupancy"],
        False,
    )
    assert "secret" not in body
    refused = world.client.patch(path, json={"url": "http://169.254.169.254/"}, headers=admin)
    assert refused.status_code == 422 and "network policy" in refused.text
    assert world.client.patch(path, json={"url": None}, headers=admin).status_code == 422
    again = world.client.patch(path, json={"cameras": None, "enabled": True}, headers=admin)
    assert again.json()["cameras"] is None and again.json()["enabled"] is True

    rotated = world.client.patch(path, json={"rotate_secret": True}, headers=admin).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    # Both sign while receivers switch over: one verifying with the old secret still accepts.
    receiver.use_secret(created["secret"])
    tested = world.client.post(f"{path}/test", headers=admin).json()
    assert tested["ok"] is True, tested
    receiver.use_secret(rotated["secret"])
    assert world.client.post(f"{path}/test", headers=admin).json()["ok"] is True
    assert world.audit_actions("webhook.rotate")

    assert world.client.delete(path, headers=admin).status_code == 204
    assert world.client.get(path, headers=admin).status_code == 404
    assert world.client.get(f"{path}/deliveries", headers=admin).status_code == 404
    assert world.client.post(f"{path}/test", headers=admin).status_code == 404
    assert world.audit_actions("webhook.delete")[0]["target"] == str(created["id"])
