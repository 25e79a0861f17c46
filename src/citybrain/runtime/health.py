"""How one running camera is doing, measured on the machine's clock for operators.

Health is about the machine, not the stream: rates and staleness are measured with the wall and
monotonic clocks here, never inside the pipeline, whose rules only see frame timestamps.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from citybrain.ingest import ReaderStats
from citybrain.ingest.hwaccel import SOFTWARE
from citybrain.records import CameraHealth

__all__ = ["STALE_AFTER", "HealthMeter", "SourceTotals"]

#: A camera whose last decoded frame is older than this (seconds) is reported offline.
STALE_AFTER = 2.5
#: Seconds of history behind the analysed frame rate.
RATE_WINDOW = 3.0


@dataclass(frozen=True, slots=True)
class SourceTotals:
    """Counters of the readers and pipelines a camera has already closed (they restart)."""

    dropped: int = 0
    reconnects: int = 0

    def add(self, dropped: int, reconnects: int) -> SourceTotals:
        return SourceTotals(self.dropped + dropped, self.reconnects + reconnects)


class HealthMeter:
    """Turns a camera's counters into :class:`CameraHealth` (verb: :meth:`measure`).

    Args:
        camera_id: the camera's id.
        stale_after: seconds without a decoded frame after which the camera counts as offline.
    """

    def __init__(self, camera_id: int, *, stale_after: float = STALE_AFTER) -> None:
        self.camera_id = camera_id
        self._stale_after = stale_after
        self._analysed: deque[float] = deque()
        self._last_analysed_wall: float | None = None
        self._first: float | None = None

    def analysed(self) -> None:
        """Note one analysed frame (now)."""
        now = time.monotonic()
        if self._first is None:
            self._first = now
        self._analysed.append(now)
        self._last_analysed_wall = time.time()
        self._trim(now)

    def measure(
        self,
        reader: ReaderStats | None,
        *,
        detector_dropped: int,
        totals: SourceTotals,
        error: str | None,
    ) -> CameraHealth:
        """The camera's health now.

        Args:
            reader: the current reader's counters; ``None`` while no reader is open.
            detector_dropped: frames the current pipeline dropped because the detector was busy.
            totals: counters of earlier readers and pipelines of this camera.
            error: the latest error (already redacted), if any.
        """
        wall = time.time()
        now = time.monotonic()
        self._trim(now)
        fresh = (
            reader is not None
            and reader.last_frame_time is not None
            and wall - reader.last_frame_time < self._stale_after
        )
        online = bool(reader is not None and reader.online and fresh)
        last = self._last_analysed_wall
        return CameraHealth(
            camera_id=self.camera_id,
            online=online,
            fps_in=round(reader.fps_in, 2) if reader is not None and online else 0.0,
            fps_analysed=round(self._rate(now), 2),
            lag_seconds=None if last is None else round(max(0.0, wall - last), 3),
            frames_dropped=totals.dropped
            + detector_dropped
            + (reader.frames_dropped if reader else 0),
            reconnects=totals.reconnects + (reader.reconnects if reader else 0),
            last_error=error,
            at=wall,
            decoder=reader.decoder if reader is not None else SOFTWARE,
        )

    def _trim(self, now: float) -> None:
        while self._analysed and now - self._analysed[0] > RATE_WINDOW:
            self._analysed.popleft()

    def _rate(self, now: float) -> float:
        times = self._analysed
        if self._first is not None and now - self._first >= RATE_WINDOW:
            # A full window: frames in it over its length (falls to zero when frames stop).
            return len(times) / RATE_WINDOW
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else 0.0
