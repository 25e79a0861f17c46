"""``line_crossing``: tracked objects crossing a line, counted per interval and direction."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from citybrain.core.detections import Detections
from citybrain.core.events import Event, EventPhase, EventUpdate, LineCount, new_event_id
from citybrain.core.geometry import Line, normalised_anchors
from citybrain.rules.base import Observation, Rule, RuleResult, Schedule, bbox_normalised

__all__ = ["LineCrossingRule"]


@dataclass(slots=True)
class _Position:
    point: tuple[float, float]
    seen: float


class LineCrossingRule(Rule):
    """Counts crossings per ``interval`` seconds; optionally one event per crossing.

    Each track remembers the last anchor point that was clearly on one side of the line, so an
    object that stops on the line and then walks on is counted once.
    """

    kind = "line_crossing"

    def __init__(
        self,
        name: str,
        camera: str,
        line: Line,
        labels: list[str],
        *,
        interval: float,
        directions: list[str],
        events: bool,
        forget_after: float = 5.0,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(name, camera, labels, schedule)
        self.line = line
        self.interval = interval
        self.directions = set(directions)
        self.events = events
        self._forget_after = forget_after
        self._positions: dict[int, _Position] = {}
        self._present: list[int] = []
        self._bucket: int | None = None
        self._counts: Counter[tuple[str, str]] = Counter()

    def evaluate(self, observation: Observation) -> RuleResult:
        t = observation.timestamp
        counts = self._roll_interval(t)
        if self.unchanged(observation):
            # Nobody moved since the last detector run: nothing crossed; the tracks are seen.
            for track_id in self._present:
                if (position := self._positions.get(track_id)) is not None:
                    position.seen = t
            self._forget(t)
            return RuleResult(counts=counts)
        updates: list[EventUpdate] = []
        dets = observation.detections
        dets = dets[self.label_mask(dets) & (dets.tracker_id >= 0)]
        w, h = observation.width, observation.height
        points = normalised_anchors(dets, w, h, self.line.anchor)
        known = np.array([int(k) in self._positions for k in dets.tracker_id], dtype=bool)
        if known.any():
            before = np.array(
                [self._positions[int(k)].point for k in dets.tracker_id[known]], dtype=np.float32
            )
            crossed = self.line.crossed(before, points[known])
            active = self.active(observation)
            for row, sign in zip(np.flatnonzero(known).tolist(), crossed, strict=True):
                direction = "in" if sign > 0 else "out"
                if sign == 0 or not active or direction not in self.directions:
                    continue
                label = self.label_of(int(dets.class_id[row]))
                self._counts[(direction, label)] += 1
                if self.events:
                    updates.extend(self._crossing_event(observation, dets, row, direction))
        side = self.line.side(points)
        for i, track_id in enumerate(dets.tracker_id.tolist()):
            if side[i] != 0 or track_id not in self._positions:
                point = (float(points[i, 0]), float(points[i, 1]))
                self._positions[track_id] = _Position(point, t)
            else:
                self._positions[track_id].seen = t
        self._present = dets.tracker_id.tolist()
        self._forget(t)
        return RuleResult(updates=updates, counts=counts)

    def close(self, timestamp: float) -> RuleResult:
        counts = self._flush()
        self._positions.clear()
        return RuleResult(counts=counts)

    def _crossing_event(
        self, observation: Observation, dets: Detections, row: int, direction: str
    ) -> list[EventUpdate]:
        t = observation.timestamp
        event = Event(
            id=new_event_id(),
            kind=self.kind,
            rule=self.name,
            camera=self.camera,
            zone=None,
            line=self.line.name,
            label=self.label_of(int(dets.class_id[row])),
            track_id=int(dets.tracker_id[row]),
            start=round(t, 3),
            end=round(t, 3),
            score=round(float(dets.confidence[row]), 4),
            bbox=bbox_normalised(dets.xyxy[row], observation.width, observation.height),
            snapshot_at=t,
            details={"direction": direction},
        )
        return [EventUpdate(EventPhase.START, event), EventUpdate(EventPhase.END, event)]

    def _roll_interval(self, t: float) -> list[LineCount]:
        bucket = math.floor(t / self.interval)
        counts: list[LineCount] = []
        if self._bucket is not None and bucket != self._bucket:
            counts = self._flush()
        self._bucket = bucket
        return counts

    def _flush(self) -> list[LineCount]:
        if self._bucket is None:
            return []
        start = round(self._bucket * self.interval, 3)
        counts = [
            LineCount(
                camera=self.camera,
                rule=self.name,
                line=self.line.name,
                interval_start=start,
                interval_seconds=self.interval,
                direction=direction,
                label=label,
                count=n,
            )
            for (direction, label), n in sorted(self._counts.items())
        ]
        self._counts.clear()
        return counts

    def _forget(self, t: float) -> None:
        stale = [k for k, p in self._positions.items() if t - p.seen > self._forget_after]
        for track in stale:
            del self._positions[track]
