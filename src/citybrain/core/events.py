"""Typed messages that rules emit: events that start, update and end; line-crossing counts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ENDED_BY",
    "BBox",
    "EndedBy",
    "Event",
    "EventFacts",
    "EventPhase",
    "EventUpdate",
    "LineCount",
    "new_event_id",
]


class EventPhase(StrEnum):
    """Where an event is in its life."""

    START = "start"
    UPDATE = "update"
    END = "end"


#: The ``details`` key that says why an event ended when its rule did not end it.
ENDED_BY = "ended_by"


class EndedBy(StrEnum):
    """Why an event was ended for its rule: what stopped watching (``details["ended_by"]``).

    An event its rule ends (the person left, the crowd thinned) has no ``ended_by``.
    """

    SOURCE_ENDED = "source_ended"
    SOURCE_LOST = "source_lost"
    CAMERA_STOPPED = "camera_stopped"
    WORKER_STOPPED = "worker_stopped"
    WORKER_DIED = "worker_died"
    SERVER_RESTART = "server_restart"
    INTERRUPTED = "interrupted"
    TIME_LIMIT = "time_limit"
    ERROR = "error"


def new_event_id() -> str:
    """A random, globally unique event id (no information about the scene in it)."""
    return uuid.uuid4().hex


BBox = tuple[float, float, float, float]


class EventFacts(BaseModel):
    """What a rule says about an incident: the fields every view of an event shares.

    This is the one declaration of an event's descriptive fields. The engine's :class:`Event`
    adds its stream-time identity; the store's record
    (:class:`citybrain.records.event.EventState`) adds wall-clock times and its camera's id,
    and derives its table columns, API views and export from these fields: a new field added
    here reaches them all (plus a migration).

    Attributes:
        kind: the rule kind, e.g. ``"restricted_zone"``.
        rule: the rule's name in the camera's config.
        zone: the zone the rule watches, if any.
        line: the line the rule watches, if any.
        label: the object class, e.g. ``"person"``; ``None`` for aggregate rules.
        track_id: the object's track within this camera; ``None`` for aggregate rules.
        score: the rule's confidence in ``[0, 1]`` (the best detector score seen, or the
            hard-hat classifier's "no hard hat" probability).
        bbox: ``x1, y1, x2, y2`` normalised to ``0..1`` at the best snapshot moment.
        details: small, rule-specific facts (e.g. ``count`` for occupancy, ``direction``).
        context: what the city's data says about the place, added where the event is stored
            (rules never set it): ``{"sites": [{id, kind, name, attributes}, ...]}`` for the
            sites the camera sees that were valid when the event started; empty otherwise.
    """

    # Frozen and never re-validated on copy: events are made a few times per incident, and
    # rules only ever build them from already-checked values.
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)

    kind: str
    rule: str
    zone: str | None = None
    line: str | None = None
    label: str | None = None
    track_id: int | None = None
    score: float = 0.0
    bbox: BBox | None = None
    details: dict[str, str | int | float] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)

    def facts(self) -> dict[str, Any]:
        """Just the :class:`EventFacts` fields, as a dict (for a record of another boundary)."""
        return {name: getattr(self, name) for name in EventFacts.model_fields}

    def marked_ended_by(self, reason: EndedBy) -> Self:
        """A copy whose ``details`` say why it was ended (``details["ended_by"]``)."""
        return self.model_copy(update={"details": {**self.details, ENDED_BY: reason.value}})


class Event(EventFacts):
    """One physical incident found by one rule on one camera, in stream time.

    Attributes:
        id: unique id, stable from start to end.
        camera: the camera's name.
        start: seconds from stream start when the incident began.
        end: seconds from stream start when it ended; ``None`` while it lasts.
        snapshot_at: the frame timestamp ``bbox`` was taken at.
    """

    id: str = ""
    camera: str
    start: float = 0.0
    end: float | None = None
    snapshot_at: float = 0.0

    def evolve(self, **changes: Any) -> Event:
        """A copy with some fields changed (not re-validated: rules pass checked values)."""
        return self.model_copy(update=changes)


@dataclass(frozen=True, slots=True)
class EventUpdate:
    """An event at one point of its life, as emitted by :meth:`Rule.evaluate`."""

    phase: EventPhase
    event: Event


@dataclass(frozen=True, slots=True)
class LineCount:
    """How many objects of one label crossed one line in one direction in one interval."""

    camera: str
    rule: str
    line: str
    interval_start: float
    interval_seconds: float
    direction: str
    label: str
    count: int
