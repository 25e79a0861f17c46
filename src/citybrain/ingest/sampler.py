"""Pick frames for analysis at a target rate, by frame timestamps."""

from __future__ import annotations

from collections import deque
from statistics import median

__all__ = ["Sampler"]


class Sampler:
    """Accepts frames on a fixed grid of timestamps, ``1 / fps`` apart.

    A frame is accepted when it is at or past the next grid point, less half an input frame
    interval (so frames that arrive a little early through jitter still count and the mean rate
    stays at ``fps``). After a gap in the timestamps the grid restarts at the next frame instead
    of catching up, so a gap never causes a burst; a timestamp that goes backwards restarts it too.

    Args:
        fps: target rate in frames per second; ``None`` accepts every frame.

    Example:
        >>> sampler = Sampler(5.0)
        >>> sum(sampler.accept(i / 15) for i in range(15))  # one second of 15 fps video
        5
    """

    def __init__(self, fps: float | None) -> None:
        if fps is not None and not fps > 0:
            raise ValueError(f"Sampler fps must be positive or None, got {fps}")
        self.fps = fps
        self._period = 1.0 / fps if fps else 0.0
        self._next_due: float | None = None
        self._last: float | None = None
        # Recent input frame intervals; their median ignores the odd gap or jittery frame.
        self._steps: deque[float] = deque(maxlen=9)

    def accept(self, timestamp: float) -> bool:
        """Whether the frame at ``timestamp`` (seconds) should be analysed."""
        if self.fps is None:
            return True
        restarted = self._last is not None and timestamp < self._last
        self._observe(timestamp)
        due = self._next_due
        if due is None or restarted:
            return self._take(timestamp, anchor=True)
        interval = median(self._steps) if self._steps else self._period
        tolerance = min(interval, self._period) / 2
        if timestamp + tolerance < due:
            return False
        # A frame later than half a period past its grid point means we missed slots: restart.
        return self._take(timestamp, anchor=timestamp - due > self._period / 2)

    def rejects(self, timestamp: float) -> bool:
        """Whether a frame at ``timestamp`` will surely not be accepted, whatever frames come
        before it (with increasing timestamps): a decoder may then leave it undecoded, as
        long as :meth:`accept` still sees it, in order."""
        due = self._next_due
        if self.fps is None or due is None or self._last is None or timestamp < self._last:
            return False
        # The tolerance is never above half a period, and the next grid point only moves on.
        return timestamp + self._period / 2 < due

    def _observe(self, timestamp: float) -> None:
        if self._last is not None and timestamp > self._last:
            self._steps.append(timestamp - self._last)
        self._last = timestamp

    def _take(self, timestamp: float, *, anchor: bool) -> bool:
        if anchor or self._next_due is None:
            self._next_due = timestamp + self._period
        else:
            self._next_due += self._period
        return True
