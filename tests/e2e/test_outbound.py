"""MQTT and signed webhooks end to end: a real ``citybrain serve`` on a development clip, a real
Mosquitto, a real receiver verifying every signature with ``standardwebhooks``.

- A broker of the test's own (it is stopped) and a receiver answering 500, both for 30 s at
  once: every event the server raised arrives on ``<prefix>/events`` and at the receiver once
  they are back, the webhook ones once each.
- On the shared broker (1883, under a topic prefix of the test's own): the server stops with
  deliveries pending, starts again, and they arrive; killed, its last will says ``offline``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from citybrain.integrations.webhooks import new_secret
from citybrain.store import DeliveryRepo, WebhookRepo, open_store, sqlite_url
from e2e.serving import ServerProcess, SseListener
from support.mosquitto import (
    Broker,
    OwnMosquitto,
    Subscriber,
    mqtt_broker,
    mqtt_prefix,
    own_mosquitto,
)
from support.webhook_receiver import Receiver

__all__ = ["mqtt_broker", "mqtt_prefix", "own_mosquitto"]

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
TYPES = {"start": "new", "update": "update", "end": "end"}
CLOUD = {"start": "citybrain.event.started", "update": "citybrain.event.updated",
         "end": "citybrain.event.ended"}  # fmt: skip


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(new_secret()).start()  # its secret is replaced by the server's
    try:
        yield started
    finally:
        started.stop()


def _settings(path: Path, broker_url: str, prefix: str, samples_dir: Path) -> Path:
    path.write_text(
        f"mqtt: {{url: '{broker_url}', topic_prefix: {prefix}, reconnect_max_seconds: 1}}\n"
        "webhooks: {retry_first_seconds: 0.5, retry_max_seconds: 2}\n"
        "public_url: https://cb.example\n"
        f"sources: {{file_roots: ['{samples_dir}']}}\n"
    )
    return path


def _serve(tmp_path: Path, env: dict[str, str], settings: Path) -> ServerProcess:
    server = ServerProcess(tmp_path / "data", env, config=settings)
    server.start()
    return server


def _webhook(admin: httpx.Client, receiver: Receiver) -> int:
    created = admin.post("/api/webhooks", json={"url": receiver.url(), "description": "e2e"})
    assert created.status_code == 201, created.text
    receiver.use_secret(created.json()["secret"])
    return int(created.json()["id"])


def _camera(admin: httpx.Client, samples_dir: Path) -> int:
    camera = {"name": "dock", "source": str(samples_dir / CLIP), "config": ZONE_CONFIG}
    created = admin.post("/api/cameras", json=camera)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _events(sub: Subscriber, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(m.payload) for m in sub.messages(f"{prefix}/events")]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def test_events_reach_mqtt_and_webhooks_through_a_30_second_outage_of_both(
    tmp_path: Path,
    server_env: dict[str, str],
    samples_dir: Path,
    own_mosquitto: OwnMosquitto,
    receiver: Receiver,
) -> None:
    broker, prefix = own_mosquitto, "cb"
    sub = Subscriber(broker.host, broker.port, [f"{prefix}/#"], persistent=True).start()
    server = _serve(
        tmp_path, server_env, _settings(tmp_path / "s.yaml", broker.url, prefix, samples_dir)
    )
    try:
        server.add_user("admin", "admin")
        admin = server.client("admin")
        sse = SseListener(server.client("admin"))
        hook = _webhook(admin, receiver)
        dock = _camera(admin, samples_dir)

        # A development clip's events: new and end on <prefix>/events, started and ended at
        # the receiver, the camera's health and zone occupancy retained.
        _wait(lambda: {"new", "end"} <= {e["type"] for e in _events(sub, prefix)}, 90, "new+end")
        first = _events(sub, prefix)[0]
        assert (first["camera"], first["camera_id"], first["rule"]) == ("dock", dock, "no_entry")
        assert first["snapshot_url"] == f"https://cb.example/api/events/{first['id']}/snapshot.jpg"
        _wait(lambda: {a.json()["type"] for a in receiver.accepted()} >= set(CLOUD.values())
              - {CLOUD["update"]}, 30, "started+ended at the receiver")  # fmt: skip
        _wait(lambda: bool(sub.messages(f"{prefix}/cameras/dock/floor/person")), 30, "occupancy")
        _wait(lambda: bool(sub.messages(f"{prefix}/cameras/dock/health")), 30, "health")
        health = json.loads(sub.messages(f"{prefix}/cameras/dock/health")[-1].payload)
        assert health["online"] is True

        # Both away for 30 s at once, events still coming.
        down = sse.mark()
        broker.stop()
        receiver.fail_for(30)
        time.sleep(30)
        broker.start()
        during = {m.data["id"] for m in sse.snapshot()[down:] if m.kind == "event"}
        assert len(during) >= 2, "too few events during the outage to prove anything"

        # Stop the camera: its open event ends; then everything the server raised must arrive.
        assert admin.patch(f"/api/cameras/{dock}", json={"enabled": False}).status_code == 200

        def phases() -> list[tuple[str, str]]:
            return [(m.data["id"], m.data["phase"]) for m in sse.snapshot() if m.kind == "event"]

        def still_open() -> set[str]:
            seen = phases()
            return {i for i, p in seen if p == "start"} - {i for i, p in seen if p == "end"}

        _wait(lambda: not still_open(), 30, "the stopped camera's events ended")
        raised = phases()

        def mqtt_pairs() -> set[tuple[str, str]]:
            return {(e["id"], e["type"]) for e in _events(sub, prefix)}

        def hook_pairs() -> list[tuple[str, str]]:
            return [(a.json()["data"]["id"], a.json()["type"]) for a in receiver.accepted()]

        expected_mqtt = {(i, TYPES[p]) for i, p in raised}
        expected_hook = [(i, CLOUD[p]) for i, p in raised]
        _wait(lambda: expected_mqtt <= mqtt_pairs(), 60, "every event on MQTT")
        _wait(lambda: set(expected_hook) <= set(hook_pairs()), 90, "every event at the receiver")
        assert all(a.verified for a in receiver.arrivals)
        got = [pair for pair in hook_pairs() if pair in set(expected_hook)]
        assert got == expected_hook, "each once, in order"
        assert any(a.status == 500 for a in receiver.arrivals), "the receiver never failed"
        with closing(admin):
            hook_path = f"/api/webhooks/{hook}"
            _wait(lambda: admin.get(hook_path).json()["pending"] == 0, 10, "all recorded")
            deliveries = admin.get(f"{hook_path}/deliveries", params={"limit": 500})
            assert {d["status"] for d in deliveries.json()["items"]} == {"delivered"}
            assert max(d["attempts"] for d in deliveries.json()["items"]) > 1
            metrics = admin.get("/metrics").text
            assert "citybrain_mqtt_connects_total 2.0" in metrics
            assert "citybrain_mqtt_dropped_total 0.0" in metrics
    finally:
        assert server.stop() == 0, server.tail()
        sub.stop()


def test_pending_deliveries_survive_a_restart_and_the_will_says_offline(
    tmp_path: Path,
    server_env: dict[str, str],
    samples_dir: Path,
    mqtt_broker: Broker,
    mqtt_prefix: str,
    receiver: Receiver,
) -> None:
    settings = _settings(tmp_path / "s.yaml", mqtt_broker.url, mqtt_prefix, samples_dir)
    available = Subscriber(mqtt_broker.host, mqtt_broker.port, [f"{mqtt_prefix}/available"])
    available.start()
    receiver.fail_for(3600)
    server = _serve(tmp_path, server_env, settings)
    try:
        server.add_user("admin", "admin")
        with closing(server.client("admin")) as admin:
            hook = _webhook(admin, receiver)
            _camera(admin, samples_dir)

            def pending() -> int:
                page = admin.get(f"/api/webhooks/{hook}/deliveries", params={"status": "pending"})
                return len(page.json()["items"])

            # Only each webhook's oldest delivery is attempted: the others wait behind it.
            _wait(lambda: bool(receiver.arrivals) and pending() >= 2, 90, "deliveries pending")
    finally:
        assert server.stop() == 0, server.tail()
    _wait(lambda: [m.payload for m in available.messages()][-2:] == [b"online", b"offline"],
          10, "offline on a clean stop")  # fmt: skip

    store = open_store(sqlite_url(tmp_path / "data"))
    with store.session() as session:
        pending = DeliveryRepo(session).page(webhook_id=hook, limit=500, status=None)
        assert WebhookRepo(session).get(webhook_id=hook) is not None
    store.close()
    waiting = [d.message_id for d in reversed(pending) if d.status.value == "pending"]
    assert len(waiting) >= 2, "nothing was pending at the stop"

    receiver.fail_for(0)
    again = _serve(tmp_path, server_env, settings)
    try:
        _wait(lambda: {a.message_id for a in receiver.accepted()} >= set(waiting), 60, "pending")
        accepted = [a.message_id for a in receiver.accepted() if a.message_id in set(waiting)]
        assert accepted == waiting, "each once, in order"
        assert all(a.verified for a in receiver.arrivals)
        _wait(lambda: [m.payload for m in available.messages()][-1:] == [b"online"], 30, "online")
        assert again.proc is not None
        again.proc.kill()  # no clean disconnect: the broker speaks the will
        again.proc.wait(10)
        _wait(lambda: [m.payload for m in available.messages()][-1:] == [b"offline"], 30, "will")
    finally:
        if again.proc is not None and again.proc.poll() is None:
            again.stop()
        available.stop()
