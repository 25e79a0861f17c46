"""Line-crossing counts as the store keeps them (wall-clock interval starts)."""

from __future__ import annotations

from datetime import datetime

from citybrain.core.events import LineCount
from citybrain.records.base import Record, wall_time

__all__ = ["COUNT_KEY", "CountTotal", "LineCountRecord", "count_record"]

#: The fields that identify one count; a second write of the same key adds to or replaces it.
COUNT_KEY = ("camera_id", "rule", "line", "interval_start", "direction", "label")


class LineCountRecord(Record):
    """How many objects of one label crossed one line in one direction in one interval."""

    camera_id: int
    rule: str
    line: str
    interval_start: datetime
    interval_seconds: float
    direction: str
    label: str
    count: int


class CountTotal(Record):
    """Crossings of one line, in one direction, by one label (in one bucket when asked)."""

    camera_id: int
    rule: str
    line: str
    direction: str
    label: str
    count: int
    bucket_start: datetime | None = None


def count_record(count: LineCount, *, camera_id: int, origin: float) -> LineCountRecord:
    """The engine's count as the store keeps it; ``origin`` is the POSIX time of stream t=0."""
    return LineCountRecord(
        camera_id=camera_id,
        rule=count.rule,
        line=count.line,
        interval_start=wall_time(origin, count.interval_start),
        interval_seconds=float(count.interval_seconds),
        direction=count.direction,
        label=count.label,
        count=int(count.count),
    )
