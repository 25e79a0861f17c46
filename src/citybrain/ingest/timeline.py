"""One increasing clock over a source's segments (file loops, reconnections), and pacing."""

from __future__ import annotations

import threading
import time

__all__ = ["Pacer", "Timeline"]

#: Fallback frame interval when a stream declares no rate (seconds).
DEFAULT_INTERVAL = 1 / 25
#: A timestamp this many seconds behind the last one means the stream's clock restarted.
CLOCK_RESET = 1.0
#: Falling this far behind the pacing schedule restarts it instead of rushing to catch up.
MAX_PACING_LAG = 1.0


class Timeline:
    """Maps a stream's own timestamps to output timestamps that only ever increase.

    The first frame is at 0. Each later segment (a new loop of a file, a new connection to a
    camera) starts ``gap`` seconds after the last frame of the one before, where the gap is one
    frame interval for a loop and the real time between frames for a reconnection. Inside a
    segment, time follows the stream; a timestamp that goes backwards or is missing is replaced
    by the previous one plus a frame interval, and after a large step back (the stream's clock
    restarted) time follows the stream again from there.
    """

    def __init__(self) -> None:
        self._offset: float | None = None
        self._last: float | None = None
        self._last_wall = 0.0
        self._gap: float | None = 0.0
        self._interval = DEFAULT_INTERVAL

    @property
    def last(self) -> float | None:
        """The latest timestamp handed out."""
        return self._last

    def start_segment(self, interval: float | None, gap: float | None) -> None:
        """Begin a new segment.

        Args:
            interval: the stream's nominal frame interval in seconds, if it declares one.
            gap: seconds between the last frame so far and this segment's first frame;
                ``None`` measures it with the monotonic clock when that frame arrives.
        """
        self._offset = None
        self._gap = gap
        if interval and interval > 0:
            self._interval = interval

    def peek(self, pts: float) -> float | None:
        """What :meth:`map` would make of ``pts`` if it followed the stream (``None`` where it
        cannot tell yet, or would not follow it), without moving the clock."""
        if self._offset is None or self._last is None:
            return None
        stamp = pts + self._offset
        return stamp if stamp > self._last else None

    def map(self, pts: float | None) -> float:
        """The output timestamp of a frame whose stream timestamp is ``pts`` seconds."""
        now = time.monotonic()
        last = self._last
        if self._offset is None or last is None:
            stamp = 0.0 if last is None else last + self._segment_gap(now)
            self._offset = stamp - (pts or 0.0)
        elif pts is None:
            stamp = last + self._interval
        else:
            stamp = pts + self._offset
        if last is not None and stamp <= last:
            # A big step back is the stream's clock restarting: follow it from here on.
            if pts is not None and last - stamp > CLOCK_RESET:
                self._offset += last + self._interval - stamp
            stamp = last + self._interval
        self._last, self._last_wall = stamp, now
        return stamp

    def _segment_gap(self, now: float) -> float:
        gap = self._gap if self._gap is not None else now - self._last_wall
        return max(gap, self._interval)


class Pacer:
    """Sleeps so that frames come out at the pace of their timestamps (a file as a camera).

    Args:
        stop: set to cut a wait short.
    """

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._anchor: float | None = None

    def wait(self, timestamp: float) -> None:
        """Block until ``timestamp`` is due on the monotonic clock."""
        now = time.monotonic()
        if self._anchor is None:
            self._anchor = now - timestamp
        delay = self._anchor + timestamp - now
        if delay > 0:
            self._stop.wait(delay)
        elif delay < -MAX_PACING_LAG:
            self._anchor = now - timestamp
