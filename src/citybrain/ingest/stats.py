"""Counters a reader keeps, and the immutable snapshot it hands out."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, replace

from citybrain.ingest.hwaccel import SOFTWARE

__all__ = ["ReaderStats", "StatsRecorder"]

#: Seconds of decode history behind ``fps_in``.
FPS_WINDOW = 2.0


@dataclass(frozen=True, slots=True)
class ReaderStats:
    """A reader's state at one moment.

    Attributes:
        frames_decoded: frames decoded intact (every one, sampled or not).
        frames_skipped: frames the sampler would not take, left undecoded because no other
            frame needs them (non-reference frames such as most B-frames).
        frames_sampled: frames the sampler accepted and converted for analysis.
        frames_dropped: sampled frames thrown away because the consumer fell behind.
        frames_corrupt: packets or frames that failed to decode and were skipped.
        reconnects: successful reconnections to a live source.
        fps_in: rate of frames in (decoded or skipped) over the last couple of seconds.
        online: whether the source is connected and delivering.
        last_frame_time: wall-clock time (``time.time()``) of the last decoded frame, for
            health checks; ``None`` before the first.
        last_error: the latest problem (credentials redacted); ``None`` if none.
        width: frame width in pixels, once known.
        height: frame height in pixels, once known.
        decoder: what decodes the stream: ``"software"`` or a device type (``"cuda"``).
    """

    frames_decoded: int = 0
    frames_skipped: int = 0
    frames_sampled: int = 0
    frames_dropped: int = 0
    frames_corrupt: int = 0
    reconnects: int = 0
    fps_in: float = 0.0
    online: bool = False
    last_frame_time: float | None = None
    last_error: str | None = None
    width: int | None = None
    height: int | None = None
    decoder: str = SOFTWARE


class StatsRecorder:
    """Thread-safe counters behind :class:`ReaderStats`; the decode thread writes, anyone reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = ReaderStats()
        self._decode_times: deque[float] = deque()
        self._decoded = self._skipped = self._sampled = self._dropped = 0
        self._last_frame_time: float | None = None
        self._size: tuple[int | None, int | None] = (None, None)

    def decoded(self, width: int, height: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._decode_times.append(now)
            self._trim(now)
            self._decoded += 1  # per frame: plain counters, folded into the stats on read
            self._last_frame_time = time.time()
            self._size = (width, height)

    def skipped(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._decode_times.append(now)
            self._trim(now)
            self._skipped += 1

    def sampled(self, dropped: int) -> None:
        with self._lock:
            self._sampled += 1
            self._dropped += dropped

    def corrupt(self) -> None:
        with self._lock:
            self._stats = replace(self._stats, frames_corrupt=self._stats.frames_corrupt + 1)

    def reconnected(self) -> None:
        with self._lock:
            self._stats = replace(self._stats, reconnects=self._stats.reconnects + 1)

    def set_online(self, online: bool) -> None:
        with self._lock:
            self._stats = replace(self._stats, online=online)

    def set_decoder(self, decoder: str) -> None:
        with self._lock:
            self._stats = replace(self._stats, decoder=decoder)

    def error(self, message: str) -> None:
        with self._lock:
            self._stats = replace(self._stats, last_error=message)

    def snapshot(self) -> ReaderStats:
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            width, height = self._size
            return replace(
                self._stats,
                frames_decoded=self._decoded,
                frames_skipped=self._skipped,
                frames_sampled=self._sampled,
                frames_dropped=self._dropped,
                last_frame_time=self._last_frame_time,
                width=width,
                height=height,
                fps_in=self._rate(now),
            )

    def _trim(self, now: float) -> None:
        times = self._decode_times
        while times and now - times[0] > FPS_WINDOW:
            times.popleft()

    def _rate(self, now: float) -> float:
        times = self._decode_times
        if len(times) < 2:
            return 0.0
        # Measure up to now, so the rate falls when frames stop instead of freezing.
        span = max(now - times[0], times[-1] - times[0])
        return (len(times) - 1) / span if span > 0 else 0.0
