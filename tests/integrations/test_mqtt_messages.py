"""MQTT topic layout, payloads, settings and the on-disk queue (no broker needed)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mqttsupport import event_notice
from pydantic import ValidationError

from citybrain.integrations.mqtt import DiskQueue, MqttMessage, MqttSettings, Topics
from citybrain.integrations.notices import (
    CountNotice,
    EventNotice,
    HealthNotice,
    OccupancyNotice,
    dumps,
)


def test_the_topic_layout_of_the_issue() -> None:
    topics = Topics()
    assert topics.available == "citybrain/available"
    assert topics.events == "citybrain/events"
    assert topics.counts == "citybrain/counts"
    assert topics.health("gate") == "citybrain/cameras/gate/health"
    assert topics.occupancy("gate", "yard", "person") == "citybrain/cameras/gate/yard/person"


def test_names_never_add_levels_or_wildcards() -> None:
    topics = Topics("cb")
    assert topics.health("a/b") == "cb/cameras/a%2Fb/health"
    assert topics.occupancy("x+", "#", "50%") == "cb/cameras/x%2B/%23/50%25"
    # Encoding is one-to-one: "a/b" and "a%2Fb" stay apart.
    assert topics.health("a%2Fb") != topics.health("a/b")


@pytest.mark.parametrize(
    ("phase", "kind"), [("start", "new"), ("update", "update"), ("end", "end")]
)
def test_event_messages(phase: str, kind: str) -> None:
    notice = event_notice(3, phase=phase)  # type: ignore[arg-type]
    message = Topics(base_url="https://cb.example/").event(notice)
    assert message.topic == "citybrain/events"
    assert not message.retain
    assert message.qos == 1
    body = json.loads(message.payload)
    assert list(body)[:2] == ["type", "camera"]
    assert body["type"] == kind
    assert body["camera"] == "gate"
    assert body["id"] == "ev000003"
    assert body["camera_id"] == 7
    assert body["snapshot_url"] == "https://cb.example/api/events/ev000003/snapshot.jpg"
    for key, value in notice.event.items():  # every API field, as the API gives it
        if key != "snapshot_url":
            assert body[key] == value


def test_the_event_cannot_override_type_or_camera() -> None:
    notice = EventNotice(
        phase="end", camera_id=1, camera="gate", at=datetime.now(UTC),
        event={"id": "e1", "type": "sneaky", "camera": "other"},
    )  # fmt: skip
    body = json.loads(Topics().event(notice).payload)
    assert (body["type"], body["camera"], body["snapshot_url"]) == ("end", "gate", None)


def test_image_bytes_never_leave() -> None:
    notice = EventNotice(
        phase="start", camera_id=1, camera="gate", at=datetime.now(UTC),
        event={"id": "e1", "snapshot": b"\xff\xd8\xff\xe0 jpeg"},
    )  # fmt: skip
    with pytest.raises(TypeError, match="snapshot URLs"):
        Topics().event(notice)
    with pytest.raises(ValueError, match="Out of range float"):
        dumps({"score": float("nan")})


def test_state_messages_are_retained() -> None:
    topics = Topics("cb")
    health = topics.health_state(
        HealthNotice(camera_id=2, camera="yard", health={"online": True, "fps_analysed": 5.0})
    )
    assert health.retain
    assert json.loads(health.payload) == {"camera": "yard", "online": True, "fps_analysed": 5.0}
    occupancy = topics.occupancy_state(OccupancyNotice(2, "yard", "site", "person", 3))
    assert (occupancy.topic, occupancy.payload, occupancy.retain) == (
        "cb/cameras/yard/site/person", b"3", True,
    )  # fmt: skip
    count = topics.count(
        CountNotice(
            camera_id=2, camera="yard", rule="counts", line="gate", direction="in",
            label="car", interval_start=datetime(2026, 3, 2, 8, tzinfo=UTC),
            interval_seconds=60.0, count=4,
        )
    )  # fmt: skip
    assert not count.retain
    assert json.loads(count.payload) == {
        "camera": "yard", "camera_id": 2, "rule": "counts", "line": "gate", "direction": "in",
        "label": "car", "interval_start": "2026-03-02T08:00:00Z", "interval_seconds": 60.0,
        "count": 4,
    }  # fmt: skip


def test_home_assistant_discovery_configs() -> None:
    topics = Topics("citybrain", discovery_prefix="homeassistant")
    online, fps = topics.health_discovery("Gate North/1")
    assert online.topic.startswith("homeassistant/binary_sensor/citybrain_")
    assert online.topic.endswith("/config")
    assert fps.topic.startswith("homeassistant/sensor/")
    config = json.loads(online.payload)
    assert config["state_topic"] == "citybrain/cameras/Gate North%2F1/health"
    assert config["availability_topic"] == "citybrain/available"
    assert config["device_class"] == "connectivity"
    assert config["device"]["name"] == "Gate North/1"
    sensor = json.loads(topics.occupancy_discovery("Gate North/1", "site", "person").payload)
    assert sensor["state_topic"] == "citybrain/cameras/Gate North%2F1/site/person"
    assert sensor["state_class"] == "measurement"
    ids = {config["unique_id"], json.loads(fps.payload)["unique_id"], sensor["unique_id"]}
    assert len(ids) == 3
    assert all(c.isalnum() or c in "_-" for c in "".join(ids))
    # Two names that slug alike still get apart ids.
    a = json.loads(topics.health_discovery("a b")[0].payload)["unique_id"]
    b = json.loads(topics.health_discovery("a_b")[0].payload)["unique_id"]
    assert a != b


def test_settings() -> None:
    settings = MqttSettings.model_validate({"url": "mqtt://broker.lan"})
    assert (settings.host, settings.port, settings.topic_prefix) == (
        "broker.lan",
        1883,
        "citybrain",
    )
    assert settings.tls_options is None
    secure = MqttSettings.model_validate({"url": "mqtts://broker.lan", "protocol": "5"})
    assert secure.port == 8883
    assert secure.tls_options is not None
    custom = MqttSettings.model_validate({"url": "mqtt://b:1", "tls": {"ca_file": "/ca.pem"}})
    assert custom.tls_options is not None and custom.tls_options.ca_file == Path("/ca.pem")
    for bad, why in [
        ({"url": "http://b"}, "mqtt or mqtts"),
        ({"url": "mqtt://user:pw@b"}, "password_file"),
        ({"url": "mqtt://"}, "no host"),
        ({"url": "mqtt://b:70000"}, "invalid broker URL"),
        ({"url": "mqtt://b", "topic_prefix": "a/#"}, "topic_prefix"),
        ({"url": "mqtt://b", "topic_prefix": "$SYS"}, "topic_prefix"),
        ({"url": "mqtt://b", "protocol": "4"}, "protocol"),
        ({"url": "mqtt://b", "tls": {"cert_file": "/c.pem"}}, "go together"),
        ({"url": "mqtt://b", "passwd_file": "/x"}, "passwd_file"),
    ]:
        with pytest.raises(ValidationError, match=why):
            MqttSettings.model_validate(bad)


def _queue(path: Path, **bounds: int) -> DiskQueue:
    return DiskQueue(
        path, max_messages=bounds.get("messages", 1000), max_bytes=bounds.get("size", 10**6)
    )


def test_queue_keeps_order_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    queue = _queue(path)
    for i in range(5):
        queue.push(MqttMessage("t/events", f"m{i}".encode()))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = queue.peek(0, 3)
    assert [q.message.payload for q in first] == [b"m0", b"m1", b"m2"]
    assert [q.message.payload for q in queue.peek(first[-1].seq, 10)] == [b"m3", b"m4"]
    queue.remove([first[0].seq, first[1].seq, first[1].seq])
    queue.close()
    again = _queue(path)
    assert len(again) == 3
    assert [q.message.payload for q in again.peek(0, 10)] == [b"m2", b"m3", b"m4"]
    assert again.size_bytes == 3 * (2 + len("t/events"))
    again.close()


def test_queue_drops_the_oldest_beyond_its_bounds(tmp_path: Path) -> None:
    queue = _queue(tmp_path / "q.sqlite3", messages=10, size=10_000)
    dropped = sum(queue.push(MqttMessage("t", f"{i}".encode())).dropped for i in range(25))
    assert dropped == 15
    assert [q.message.payload for q in queue.peek(0, 100)] == [
        f"{i}".encode() for i in range(15, 25)
    ]
    by_size = _queue(tmp_path / "b.sqlite3", messages=1000, size=100)
    results = [by_size.push(MqttMessage("t", b"x" * 29)) for _ in range(5)]  # 30 bytes each
    assert [r.dropped for r in results] == [0, 0, 0, 1, 1]
    assert by_size.size_bytes == 90
    assert by_size.push(MqttMessage("t", b"x" * 200)).refused
    assert len(by_size) == 3  # a message too big alone pushes nothing else out


def test_queue_keeps_only_the_latest_retained_state_per_topic(tmp_path: Path) -> None:
    queue = _queue(tmp_path / "q.sqlite3")
    queue.push(MqttMessage("cam/health", b"h1", retain=True))
    queue.push(MqttMessage("events", b"e1"))
    queue.push(MqttMessage("cam/health", b"h2", retain=True))
    queue.push(MqttMessage("cam/site/person", b"1", retain=True))
    queue.push(MqttMessage("events", b"e2"))
    assert [q.message.payload for q in queue.peek(0, 10)] == [b"e1", b"h2", b"1", b"e2"]
    assert len(queue) == 4
