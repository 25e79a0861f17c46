"""The MQTT topic layout and the messages on it (pure: no network, no disk).

With the default prefix ``citybrain``:

================================================  =========  ===========================
topic                                             retained   payload
================================================  =========  ===========================
``citybrain/available``                           yes        ``online`` / ``offline`` (will)
``citybrain/events``                              no         JSON: ``type`` new|update|end,
                                                             ``camera``, the API's event
                                                             fields, ``snapshot_url``
``citybrain/cameras/<camera>/health``             yes        JSON: the API's camera health
``citybrain/cameras/<camera>/<zone>/<label>``     yes        the count, e.g. ``3``
``citybrain/counts``                              no         JSON: one line-crossing count
================================================  =========  ===========================

Names become single topic levels: ``%``, ``/``, ``+`` and ``#`` in them are percent-encoded
(``gate/north`` → ``gate%2Fnorth``), so no name can add a level or act as a wildcard, and two
names never share a topic. Home Assistant discovery configs go to
``<discovery_prefix>/<component>/<node>/<object>/config`` (retained).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from citybrain.integrations.notices import (
    CountNotice,
    EventNotice,
    HealthNotice,
    OccupancyNotice,
    dumps,
)

__all__ = ["MQTT_TYPES", "MqttMessage", "Topics", "absolute_url", "topic_level"]

#: The ``type`` of an event message for each phase.
MQTT_TYPES = {"start": "new", "update": "update", "end": "end"}

_LEVEL_ESCAPES = {"%": "%25", "/": "%2F", "+": "%2B", "#": "%23", "\x00": "%00"}
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """One message to publish (QoS 1 unless said otherwise)."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 1


def topic_level(name: str) -> str:
    """``name`` as one topic level (see the module docstring)."""
    return "".join(_LEVEL_ESCAPES.get(c, c) for c in name)


def absolute_url(url: str | None, base_url: str | None) -> str | None:
    """``url`` made absolute under ``base_url`` when it is a path and a base is known."""
    if url is None or base_url is None or not url.startswith("/"):
        return url
    return base_url.rstrip("/") + url


class Topics:
    """Names the topics under one prefix and builds the messages that go on them.

    Example:
        >>> topics = Topics("citybrain")
        >>> topics.occupancy("gate/north", "yard", "person")
        'citybrain/cameras/gate%2Fnorth/yard/person'
    """

    def __init__(
        self,
        prefix: str = "citybrain",
        *,
        base_url: str | None = None,
        discovery_prefix: str = "homeassistant",
    ) -> None:
        self.prefix = prefix
        self.base_url = base_url
        self.discovery_prefix = discovery_prefix
        self.available = f"{prefix}/available"
        self.events = f"{prefix}/events"
        self.counts = f"{prefix}/counts"
        # Discovery node: one per prefix, so two servers on one broker do not collide.
        self._node = _object_id(prefix)

    def health(self, camera: str) -> str:
        return f"{self.prefix}/cameras/{topic_level(camera)}/health"

    def occupancy(self, camera: str, zone: str, label: str) -> str:
        return (
            f"{self.prefix}/cameras/{topic_level(camera)}/{topic_level(zone)}/{topic_level(label)}"
        )

    def availability(self, online: bool) -> MqttMessage:
        return MqttMessage(self.available, b"online" if online else b"offline", retain=True)

    def event(self, notice: EventNotice) -> MqttMessage:
        """``type``, ``camera``, the event's fields, then its ``snapshot_url``."""
        fields: dict[str, Any] = {"type": MQTT_TYPES[notice.phase], "camera": notice.camera}
        fields.update((k, v) for k, v in notice.event.items() if k not in fields)
        snapshot = notice.snapshot_url or notice.event.get("snapshot_url")
        fields["snapshot_url"] = absolute_url(snapshot, self.base_url)
        return MqttMessage(self.events, dumps(fields))

    def health_state(self, notice: HealthNotice) -> MqttMessage:
        fields = {"camera": notice.camera, **notice.health}
        return MqttMessage(self.health(notice.camera), dumps(fields), retain=True)

    def occupancy_state(self, notice: OccupancyNotice) -> MqttMessage:
        topic = self.occupancy(notice.camera, notice.zone, notice.label)
        return MqttMessage(topic, str(int(notice.count)).encode(), retain=True)

    def count(self, notice: CountNotice) -> MqttMessage:
        return MqttMessage(self.counts, dumps(notice.fields()))

    def health_discovery(self, camera: str) -> list[MqttMessage]:
        """Home Assistant configs for a camera's health: online (connectivity) and fps."""
        state = self.health(camera)
        online = {
            "name": "Online", "device_class": "connectivity", "state_topic": state,
            "value_template": "{{ 'ON' if value_json.online else 'OFF' }}",
            "json_attributes_topic": state,
        }  # fmt: skip
        fps = {
            "name": "Analysed fps", "state_topic": state, "unit_of_measurement": "fps",
            "state_class": "measurement", "value_template": "{{ value_json.fps_analysed }}",
        }  # fmt: skip
        return [
            self._discovery("binary_sensor", camera, "online", online),
            self._discovery("sensor", camera, "fps", fps),
        ]

    def occupancy_discovery(self, camera: str, zone: str, label: str) -> MqttMessage:
        """A Home Assistant sensor for the count of ``label`` in ``zone``."""
        config = {
            "name": f"{zone} {label}",
            "state_topic": self.occupancy(camera, zone, label),
            "state_class": "measurement",
            "icon": "mdi:counter",
        }
        return self._discovery("sensor", camera, f"{zone}:{label}", config)

    def removal(self, message: MqttMessage) -> MqttMessage:
        """The empty retained message that deletes ``message``'s retained state."""
        return MqttMessage(message.topic, b"", retain=True)

    def _discovery(
        self, component: str, camera: str, what: str, config: Mapping[str, Any]
    ) -> MqttMessage:
        camera_id = f"{self._node}_{_object_id(camera)}"
        object_id = f"{camera_id}_{_object_id(what)}"
        payload = {
            **config,
            "unique_id": object_id,
            "availability_topic": self.available,
            "device": {
                "identifiers": [camera_id], "name": camera, "manufacturer": "citybrain",
                "model": "camera",
            },
        }  # fmt: skip
        topic = f"{self.discovery_prefix}/{component}/{self._node}/{object_id}/config"
        return MqttMessage(topic, dumps(payload), retain=True)


def _object_id(name: str) -> str:
    """An id Home Assistant accepts (``[A-Za-z0-9_-]``), unique per name by a short hash."""
    readable = _NOT_ID.sub("_", name).strip("_")[:40] or "x"
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{readable}_{digest}"
