"""An event as the operations centre keeps it: the engine's facts in wall-clock time, and its
handling by operators.

The descriptive fields are declared once, in :class:`citybrain.core.events.EventFacts`; here
they gain what the store and the API add. The store derives the ``events`` table from
:class:`EventRecord`, the API its views, the export its columns.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, computed_field

from citybrain.core.events import EventFacts, EventUpdate
from citybrain.records.base import Record, wall_time

__all__ = [
    "EventRecord",
    "EventStat",
    "EventState",
    "EventStatus",
    "EventView",
    "LiveEvent",
    "event_state",
    "snapshot_url",
]


class EventStatus(StrEnum):
    """Where an operator is with an event."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EventState(EventFacts):
    """An event as the engine last reported it, in wall-clock time (what the writer stores).

    Attributes:
        id: the engine's event id.
        camera_id: the camera's id in the store.
        started_at: when the incident began.
        ended_at: when it ended; ``None`` while it lasts.
        snapshot: the anonymised snapshot's path in the media store, once taken.
    """

    id: str
    camera_id: int
    started_at: datetime
    ended_at: datetime | None = None
    snapshot: str | None = None


class EventRecord(EventState):
    """A stored event: the engine's state and its handling by operators."""

    status: EventStatus = EventStatus.OPEN
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    note: str | None = None


def snapshot_url(event_id: str) -> str:
    """Where the API serves an event's snapshot (views show this, never the file's path)."""
    return f"/api/events/{event_id}/snapshot.jpg"


#: What the live stream says happened: the engine's phase, or the operator's action.
LivePhase = Literal["start", "update", "end", "acknowledged", "resolved"]


class LiveEvent(EventState):
    """An event as pushed to live subscribers (the console's feed, MQTT, webhooks).

    ``phase`` is the engine's (start, update, end) or the operator's action (acknowledged,
    resolved). Engine updates carry ``status: null``: the engine does not know it.
    """

    snapshot: str | None = Field(default=None, exclude=True)
    phase: LivePhase
    status: EventStatus | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    note: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def snapshot_url(self) -> str | None:
        """The anonymised snapshot, if one was taken."""
        return snapshot_url(self.id) if self.snapshot else None


class EventView(EventRecord):
    """A stored event as people and other systems see it: the API, exports, MQTT, webhooks.

    The snapshot is a URL (served with the audit trail's record of who looked), never the file.
    """

    snapshot: str | None = Field(default=None, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def snapshot_url(self) -> str | None:
        """The anonymised snapshot, if one was taken."""
        return snapshot_url(self.id) if self.snapshot else None


class EventStat(Record):
    """How many events one camera raised of one kind in one time bucket."""

    camera_id: int
    kind: str
    bucket_start: datetime
    count: int


def event_state(
    update: EventUpdate, *, camera_id: int, origin: float, snapshot: str | None = None
) -> EventState:
    """The engine's event update as the store keeps it (the mapper at that boundary).

    Args:
        update: what the rule emitted, in stream time.
        camera_id: the camera's id in the store.
        origin: POSIX time of the stream's t=0.
        snapshot: the snapshot's path in the media store, if one was saved with this update.
    """
    event = update.event
    return EventState(
        **event.facts(),
        id=event.id,
        camera_id=camera_id,
        started_at=wall_time(origin, event.start),
        ended_at=None if event.end is None else wall_time(origin, event.end),
        snapshot=snapshot,
    )
