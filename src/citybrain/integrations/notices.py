"""What the server hands to the integrations: small typed notices, JSON-ready.

The server builds them from what its API shows (``EventPublic.model_dump(mode="json")`` for an
event, ``CameraHealthPublic`` for health), so MQTT and webhooks carry exactly the API's fields.
Camera names are included because subscribers know cameras by name; ids stay in the event's
fields. Nothing here holds image bytes: :func:`dumps` refuses them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

__all__ = [
    "CountNotice",
    "EventNotice",
    "HealthNotice",
    "OccupancyNotice",
    "Phase",
    "dumps",
    "isotime",
]

#: Where an event is in its life (the values of ``citybrain.core.events.EventPhase``).
Phase = Literal["start", "update", "end"]


@dataclass(frozen=True, slots=True)
class EventNotice:
    """An event that started, was updated or ended.

    Attributes:
        phase: ``start``, ``update`` or ``end``.
        camera_id: the camera's id (for webhook camera filters and camera limits).
        camera: the camera's name.
        event: the event's fields as the API gives them (JSON values only).
        at: when this phase happened (the start, the update, the end).
        snapshot_url: the anonymised snapshot's URL (absolute, or a path under the server's
            public URL), if one was taken.
    """

    phase: Phase
    camera_id: int
    camera: str
    event: Mapping[str, Any]
    at: datetime
    snapshot_url: str | None = None

    @property
    def kind(self) -> str:
        """The event's kind (its rule's kind), ``""`` if the event has none."""
        return str(self.event.get("kind", ""))

    @property
    def event_id(self) -> str:
        return str(self.event.get("id", ""))


@dataclass(frozen=True, slots=True)
class HealthNotice:
    """A camera's health as the API gives it (``online``, ``fps_in``, ``last_error``, …)."""

    camera_id: int
    camera: str
    health: Mapping[str, Any]

    @property
    def online(self) -> bool:
        return bool(self.health.get("online", False))


@dataclass(frozen=True, slots=True)
class OccupancyNotice:
    """How many objects of one label are in one zone of a camera now (an aggregate)."""

    camera_id: int
    camera: str
    zone: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class CountNotice:
    """Line crossings of one label in one direction during one interval."""

    camera_id: int
    camera: str
    rule: str
    line: str
    direction: str
    label: str
    interval_start: datetime
    interval_seconds: float
    count: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The count as a JSON object."""
        return {
            "camera": self.camera, "camera_id": self.camera_id, "rule": self.rule,
            "line": self.line, "direction": self.direction, "label": self.label,
            "interval_start": isotime(self.interval_start),
            "interval_seconds": self.interval_seconds, "count": self.count, **self.extra,
        }  # fmt: skip


def isotime(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; datetimes as RFC 3339.

    Raises:
        TypeError: ``value`` holds bytes (image bytes never leave through an integration) or
            anything else JSON cannot carry.
        ValueError: it holds NaN or an infinity.
    """
    return json.dumps(
        value, default=_default, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return isotime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(
            f"{len(value)} bytes in an outbound message: images leave only as snapshot URLs"
        )
    raise TypeError(f"{type(value).__name__} is not JSON")
