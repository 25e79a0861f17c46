"""Typed messages that rules emit: events that start, update and end; line-crossing counts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = ["Event", "EventPhase", "EventUpdate", "LineCount", "new_event_id"]


class EventPhase(StrEnum):
    """Where an event is in its life."""

    START = "start"
    UPDATE = "update"
    END = "end"


def new_event_id() -> str:
    """A random, globally unique event id (no information about the scene in it)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Event:
    """One physical incident found by one rule on one camera.

    Attributes:
        id: unique id, stable from start to end.
        kind: the rule kind, e.g. ``"restricted_zone"``.
        rule: the rule's name in the camera's config.
        camera: the camera's name.
        zone: the zone the rule watches, if any.
        line: the line the rule watches, if any.
        label: the object class, e.g. ``"person"``; ``None`` for aggregate rules.
        track_id: the object's track within this camera; ``None`` for aggregate rules.
        start: seconds from stream start when the incident began.
        end: seconds from stream start when it ended; ``None`` while it lasts.
        score: the rule's confidence in ``[0, 1]`` (the best detector score seen, or the
            hard-hat classifier's "no hard hat" probability).
        bbox: ``x1, y1, x2, y2`` normalised to ``0..1`` at the best snapshot moment.
        snapshot_at: the frame timestamp ``bbox`` was taken at.
        details: small, rule-specific facts (e.g. ``count`` for occupancy, ``direction``).
    """

    id: str
    kind: str
    rule: str
    camera: str
    zone: str | None
    line: str | None
    label: str | None
    track_id: int | None
    start: float
    end: float | None
    score: float
    bbox: tuple[float, float, float, float] | None
    snapshot_at: float
    details: dict[str, str | int | float] = field(default_factory=dict)

    def evolve(self, **changes: object) -> Event:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]


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
