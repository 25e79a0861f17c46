"""What every rule shares: its input (an :class:`Observation`), its output and its schedule."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np

from citybrain.core.detections import (
    COCO_LABELS,
    BoolArray,
    Detections,
    label_ids,
    reported_labels,
)
from citybrain.core.events import Event, EventUpdate, LineCount

__all__ = ["Observation", "Rule", "RuleResult", "Schedule", "bbox_normalised"]


@dataclass(frozen=True, slots=True)
class Observation:
    """What a camera saw at one moment, after tracking and attributes.

    Attributes:
        camera: the camera's name.
        timestamp: seconds since the stream started (the only clock rules use).
        width: frame width in pixels.
        height: frame height in pixels.
        detections: tracked detections, possibly with ``data["hardhat"]``.
        wall_time: the POSIX time of this frame, used only by weekly schedules.
    """

    camera: str
    timestamp: float
    width: int
    height: int
    detections: Detections
    wall_time: float | None = None


@dataclass(frozen=True, slots=True)
class RuleResult:
    """Event updates and finished count intervals produced by one evaluation."""

    updates: list[EventUpdate] = field(default_factory=list)
    counts: list[LineCount] = field(default_factory=list)


def bbox_normalised(xyxy: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """One pixel box as ``0..1`` fractions of the frame, rounded to 4 decimals."""
    scale = np.array([width, height, width, height], dtype=np.float64)
    x1, y1, x2, y2 = np.clip(np.asarray(xyxy, dtype=np.float64) / scale, 0.0, 1.0).round(4)
    return (float(x1), float(y1), float(x2), float(y2))


class Schedule:
    """Weekly windows in a time zone; a rule with a schedule is active only inside them."""

    _DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

    def __init__(self, windows: Sequence[tuple[Sequence[str], time, time]], timezone: str) -> None:
        self._windows = windows
        self._zone = ZoneInfo(timezone)

    def active(self, wall_time: float | None) -> bool:
        """Whether ``wall_time`` (POSIX seconds) is in a window; unknown time counts as active."""
        if wall_time is None:
            return True
        now = datetime.fromtimestamp(wall_time, self._zone)
        day, clock = self._DAYS[now.weekday()], now.time()
        yesterday = self._DAYS[(now.weekday() - 1) % 7]
        for days, start, end in self._windows:
            if start <= end:
                if day in days and start <= clock <= end:
                    return True
            elif (day in days and clock >= start) or (yesterday in days and clock <= end):
                return True  # an overnight window belongs to the day it starts on
        return False


class Rule(abc.ABC):
    """A named rule over one camera's observations (verb: :meth:`evaluate`)."""

    kind: str

    def __init__(
        self, name: str, camera: str, labels: list[str], schedule: Schedule | None = None
    ) -> None:
        self.name = name
        self.camera = camera
        self.labels = labels
        self._class_ids = label_ids(labels)
        self._reported = reported_labels(labels)
        self._schedule = schedule
        self._last_seen: tuple[Detections, int, int] | None = None

    def label_mask(self, detections: Detections) -> BoolArray:
        """Which detections have one of this rule's labels."""
        return np.isin(detections.class_id, self._class_ids)

    def label_of(self, class_id: int) -> str:
        """The label events and counts report for ``class_id``: the name the rule lists it
        under (a group's name for its members), else its COCO name."""
        reported = self._reported.get(class_id)
        if reported is not None:
            return reported
        return COCO_LABELS[class_id] if 0 <= class_id < len(COCO_LABELS) else str(class_id)

    def event_template(
        self,
        *,
        zone: str | None = None,
        line: str | None = None,
        label: str | None = None,
        details: dict[str, str | int | float] | None = None,
    ) -> Event:
        """An event of this rule with its identity filled in; times, id and score still blank."""
        return Event(
            id="",
            kind=self.kind,
            rule=self.name,
            camera=self.camera,
            zone=zone,
            line=line,
            label=label,
            track_id=None,
            start=0.0,
            end=None,
            score=0.0,
            bbox=None,
            snapshot_at=0.0,
            details=details or {},
        )

    def active(self, observation: Observation) -> bool:
        return self._schedule is None or self._schedule.active(observation.wall_time)

    def unchanged(self, observation: Observation) -> bool:
        """Whether ``observation`` carries the very detections the previous call saw.

        Between detector runs a camera passes the same :class:`Detections` object frame after
        frame, so whatever a rule derives from the detections alone (who is in the zone) can
        be kept instead of recomputed; only time moves on.
        """
        seen = (observation.detections, observation.width, observation.height)
        last, self._last_seen = self._last_seen, seen
        return last is not None and last[0] is seen[0] and last[1:] == seen[1:]

    @abc.abstractmethod
    def evaluate(self, observation: Observation) -> RuleResult:
        """Update the rule's state with one observation and report what changed."""

    @abc.abstractmethod
    def close(self, timestamp: float) -> RuleResult:
        """End every open event and flush partial counts (the stream has ended)."""
