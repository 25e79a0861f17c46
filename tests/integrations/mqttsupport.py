"""Helpers for the MQTT tests: a publisher on a test broker, notices, and order checks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt import (
    QUEUE_FILE,
    DiskQueue,
    MqttPublisher,
    MqttSettings,
    read_password,
)
from citybrain.integrations.notices import EventNotice, Phase
from citybrain.netpolicy import NetworkPolicy
from support.mosquitto import Received

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def make_publisher(
    data_dir: Path,
    url: str,
    prefix: str,
    *,
    policy: NetworkPolicy | None = None,
    metrics: OutboundMetrics | None = None,
    **settings: object,
) -> MqttPublisher:
    """A started publisher to ``url`` whose queue lives in ``data_dir``."""
    config = MqttSettings.model_validate(
        {"url": url, "topic_prefix": prefix, "discovery_prefix": f"{prefix}-ha",
         "reconnect_max_seconds": 1.0, **settings}
    )  # fmt: skip
    queue = DiskQueue(
        data_dir / QUEUE_FILE,
        max_messages=config.queue_max_messages,
        max_bytes=config.queue_max_bytes,
    )
    publisher = MqttPublisher(
        config, queue=queue, policy=policy or NetworkPolicy(),
        metrics=metrics or OutboundMetrics(), base_url="https://citybrain.example",
        password=read_password(config.password_file),
    )  # fmt: skip
    publisher.start()
    return publisher


def event_notice(seq: int, phase: Phase = "start", camera: str = "gate") -> EventNotice:
    """An event as the API would give it; ``seq`` is in its id and its track."""
    return EventNotice(
        phase=phase, camera_id=7, camera=camera, at=T0,
        event={
            "id": f"ev{seq:06d}", "camera_id": 7, "kind": "restricted_zone", "rule": "intruders",
            "zone": "site", "line": None, "label": "person", "track_id": seq,
            "started_at": "2026-03-02T08:00:00Z", "ended_at": None, "score": 0.9,
            "bbox": [0.1, 0.2, 0.3, 0.4], "details": {},
            "snapshot_url": f"/api/events/ev{seq:06d}/snapshot.jpg",
        },
    )  # fmt: skip


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def event_ids(messages: list[Received]) -> list[str]:
    return [json.loads(m.payload)["id"] for m in messages]


def first_arrivals(ids: list[str]) -> list[str]:
    """``ids`` without repeats, in the order each first arrived (at-least-once delivery)."""
    return list(dict.fromkeys(ids))
