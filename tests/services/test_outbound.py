"""The message router hands events, health, counts and occupancy to MQTT and webhooks, as the
server wires them: a real broker (under a topic prefix of the test's own) and a real receiver
that verifies every signature with ``standardwebhooks``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from citybrain.config.server import ServerSettings
from citybrain.core.events import Event, EventPhase, EventUpdate, LineCount, new_event_id
from citybrain.integrations.webhooks import new_secret
from citybrain.records import CameraFields, CameraHealth, Role, WebhookFields
from citybrain.runtime.messages import (
    CountMessage,
    EventMessage,
    HealthMessage,
    OccupancyMessage,
)
from citybrain.server.app import build_outbound
from citybrain.services import network_policy
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics
from citybrain.services.outbound import Outbound
from citybrain.services.router import MessageRouter
from citybrain.store import (
    CameraRepo,
    CountWriter,
    EventWriter,
    MediaStore,
    Store,
    UserRepo,
    WebhookRepo,
    open_store,
    sqlite_url,
)
from support.mosquitto import Broker, Received, Subscriber
from support.webhook_receiver import Receiver

FAST = {"retry_first_seconds": 0.1, "retry_max_seconds": 0.5, "timeout_seconds": 5}


@dataclass
class Wired:
    store: Store
    router: MessageRouter
    outbound: Outbound
    metrics: ServerMetrics
    camera_id: int
    prefix: str


@pytest.fixture
def wired(
    tmp_path: Path, mqtt_broker: Broker, mqtt_prefix: str, receiver: Receiver
) -> Iterator[Wired]:
    data = tmp_path / "data"
    store = open_store(sqlite_url(data))
    settings = ServerSettings.model_validate(
        {
            "data_dir": data, "webhooks": FAST, "public_url": "https://cb.example",
            "mqtt": {"url": mqtt_broker.url, "topic_prefix": mqtt_prefix, "discovery": True,
                     "discovery_prefix": f"{mqtt_prefix}-ha"},
        }
    )  # fmt: skip
    with store.session() as session:
        gate = CameraRepo(session).create(CameraFields(name="gate", source="/v/gate.mp4")).id
        root = UserRepo(session).create(username="root", password_hash="x", role=Role.ADMIN)
        secret = new_secret()
        WebhookRepo(session).create(
            WebhookFields(url=receiver.url()), owner_id=root.id, secret=secret
        )
    receiver.use_secret(secret)
    metrics = ServerMetrics()
    outbound = build_outbound(settings, store, network_policy(settings), metrics)
    events, counts = EventWriter(store, data_dir=data), CountWriter(store, data_dir=data)
    router = MessageRouter(
        events=events, counts=counts, hub=LiveHub(), media=MediaStore(data / "media"),
        metrics=metrics, outbound=outbound,
    )  # fmt: skip
    outbound.start()
    try:
        yield Wired(store, router, outbound, metrics, gate, mqtt_prefix)
    finally:
        events.close()
        counts.close()
        outbound.close()
        store.close()


def _event(phase: EventPhase, event_id: str, end: float | None = None) -> EventUpdate:
    event = Event(
        id=event_id, kind="restricted_zone", rule="intruders", camera="gate", zone="site",
        label="person", track_id=4, start=1.0, end=end, score=0.9, bbox=(0.1, 0.1, 0.3, 0.5),
        snapshot_at=1.0,
    )  # fmt: skip
    return EventUpdate(phase, event)


def _health(camera_id: int, online: bool = True) -> CameraHealth:
    return CameraHealth(
        camera_id=camera_id, online=online, fps_in=5.0, fps_analysed=5.0, lag_seconds=0.1,
        frames_dropped=0, reconnects=0, last_error=None, at=datetime.now(UTC),
    )  # fmt: skip


def _retained(sub: Subscriber, topic: str) -> list[Received]:
    return sub.messages(topic)


def test_everything_reaches_mqtt_and_webhooks(
    wired: Wired, mqtt_broker: Broker, receiver: Receiver
) -> None:
    prefix, gate = wired.prefix, wired.camera_id
    sub = Subscriber(mqtt_broker.host, mqtt_broker.port, [f"{prefix}/#", f"{prefix}-ha/#"]).start()
    jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    origin = time.time() - 30
    event_id = new_event_id()
    handle = wired.router.handle
    try:
        handle(HealthMessage(_health(gate)))
        handle(OccupancyMessage(gate, "gate", (("site", "person", 2), ("site", "car", 0))))
        handle(EventMessage(gate, _event(EventPhase.START, event_id), origin, jpeg))
        handle(EventMessage(gate, _event(EventPhase.UPDATE, event_id), origin))
        handle(EventMessage(gate, _event(EventPhase.END, event_id, end=4.0), origin))
        count = LineCount("gate", "counts", "middle", 0.0, 10.0, "in", "person", 3)
        handle(CountMessage(gate, count, origin))
        events_topic = f"{prefix}/events"
        assert sub.wait_for(lambda _: len(sub.messages(events_topic)) >= 3, timeout=10)
        assert sub.wait_for(lambda _: len(sub.messages(f"{prefix}/counts")) >= 1, timeout=10)
        assert receiver.wait_for(lambda _: len(receiver.accepted()) >= 3, timeout=10)
    finally:
        sub.stop()
    messages = [json.loads(m.payload) for m in sub.messages(events_topic)]
    assert [m["type"] for m in messages] == ["new", "update", "end"]
    snapshot = f"https://cb.example/api/events/{event_id}/snapshot.jpg"
    for m in messages:
        assert (m["camera"], m["id"], m["camera_id"], m["zone"]) == ("gate", event_id, gate, "site")
        assert m["snapshot_url"] == snapshot and "phase" not in m and "snapshot" not in m
    assert messages[-1]["ended_at"] is not None
    health = json.loads(sub.messages(f"{prefix}/cameras/gate/health")[-1].payload)
    assert health["online"] is True and health["camera"] == "gate"
    assert [m.payload for m in sub.messages(f"{prefix}/cameras/gate/site/person")] == [b"2"]
    assert [m.payload for m in sub.messages(f"{prefix}/cameras/gate/site/car")] == [b"0"]
    counted = json.loads(sub.messages(f"{prefix}/counts")[0].payload)
    assert (counted["camera"], counted["line"], counted["count"]) == ("gate", "middle", 3)
    assert any(m.topic.startswith(f"{prefix}-ha/sensor/") for m in sub.messages())

    envelopes = [a.json() for a in receiver.accepted()]
    assert all(a.verified for a in receiver.arrivals)
    assert [e["type"] for e in envelopes] == [
        "citybrain.event.started", "citybrain.event.updated", "citybrain.event.ended",
    ]  # fmt: skip
    assert {e["data"]["snapshot_url"] for e in envelopes} == {snapshot}
    assert {e["subject"] for e in envelopes} == {"gate"}
    sample = wired.metrics.registry.get_sample_value
    deadline = time.monotonic() + 10  # the receiver has it a moment before the engine knows
    while (
        time.monotonic() < deadline
        and sample("citybrain_webhook_delivered_total", {"webhook": "1"}) != 3
    ):
        time.sleep(0.05)
    assert sample("citybrain_webhook_delivered_total", {"webhook": "1"}) == 3
    while time.monotonic() < deadline and (sample("citybrain_mqtt_published_total") or 0) < 8:
        time.sleep(0.05)  # the broker's acknowledgements come a moment after the deliveries
    assert (sample("citybrain_mqtt_published_total") or 0) >= 8


def test_renamed_and_removed_cameras_leave_no_retained_state(
    wired: Wired, mqtt_broker: Broker
) -> None:
    prefix, gate = wired.prefix, wired.camera_id
    handle = wired.router.handle
    handle(HealthMessage(_health(gate)))
    handle(OccupancyMessage(gate, "gate", (("site", "person", 1),)))
    with wired.store.session() as session:
        CameraRepo(session).update(camera_id=gate, changes={"name": "dock"})
    # The camera restarts under its new name: its messages say so.
    handle(OccupancyMessage(gate, "dock", (("site", "person", 1),)))

    def latest(topic: str) -> bytes | None:
        sub = Subscriber(mqtt_broker.host, mqtt_broker.port, [topic]).start()
        time.sleep(0.5)  # retained messages come right after the subscription
        sub.stop()
        found = [m.payload for m in sub.messages() if m.retain]
        return found[-1] if found else None

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and latest(f"{prefix}/cameras/gate/site/person"):
        time.sleep(0.2)
    assert latest(f"{prefix}/cameras/gate/site/person") is None
    assert latest(f"{prefix}/cameras/gate/health") is None
    assert latest(f"{prefix}/cameras/dock/site/person") == b"1"
    wired.router.forget(gate)  # deleted
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and latest(f"{prefix}/cameras/dock/site/person"):
        time.sleep(0.2)
    assert latest(f"{prefix}/cameras/dock/site/person") is None
    assert latest(f"{prefix}/available") == b"online"
    wired.outbound.close()
    assert latest(f"{prefix}/available") == b"offline"
