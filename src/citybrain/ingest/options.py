"""How a :class:`~citybrain.ingest.reader.Reader` reads its source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from citybrain.core.decoding import HwaccelSetting

__all__ = ["ReaderOptions", "ThreadType"]

ThreadType = Literal["NONE", "SLICE", "FRAME", "AUTO"]


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """Settings of one reader.

    Attributes:
        fps: analysis rate; only frames the :class:`Sampler` accepts at this rate are converted
            and delivered. ``None`` delivers every decoded frame.
        queue_size: frames held between the decode thread and the consumer.
        queue_bytes: and the bytes their pixels may take at most; ``None`` for no such bound.
        realtime: pace a file by its timestamps (like a camera) and drop the oldest frame when
            the consumer falls behind. Live sources are paced by the network and always drop.
        loop: replay a file forever, timestamps continuing to increase.
        live: treat an ``http(s)`` source as live (reconnect at its end); ``None`` decides by
            whether the stream has a known duration. RTSP and RTMP are always live.
        reconnect_initial: seconds to wait before the first reconnection attempt.
        reconnect_max: the longest wait between attempts (the wait doubles each time).
        max_reconnects: failed attempts in a row before :class:`SourceUnreachableError`;
            ``None`` retries forever.
        open_timeout: seconds to wait for a network source to open.
        read_timeout: seconds without data before a network source counts as disconnected.
        probe_seconds: how much of a network stream FFmpeg may buffer to identify it when it
            opens (its default, 5 s, delays every connection by about 2 s).
        thumbnail_width: also deliver a grey copy this many pixels wide (``Frame.thumbnail``)
            for the motion gate; ``None`` for none.
        thread_type: FFmpeg decoder threading. ``"AUTO"`` adds frame threading, which delays
            output by a few frames but keeps timestamps intact.
        max_width: frames wider than this are scaled down to it (their shape kept) as their BGR
            pixels are made, in the same swscale pass as the colour conversion; ``None``: as
            decoded.
        skip_unsampled: leave undecoded the frames the sampler would not take where no other
            frame refers to them (most B-frames); the sampled frames stay exactly the same.
        hwaccel: decode on a device (NVDEC: ``"cuda"``; ``"auto"``: one that works here) or
            ``"none"`` in software. A device that cannot be used means software decoding,
            never a failed reader.
    """

    fps: float | None = None
    queue_size: int = 8
    queue_bytes: int | None = None
    realtime: bool = False
    loop: bool = False
    live: bool | None = None
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    max_reconnects: int | None = None
    open_timeout: float = 10.0
    read_timeout: float = 10.0
    probe_seconds: float = 1.0
    thumbnail_width: int | None = None
    thread_type: ThreadType = "SLICE"
    skip_unsampled: bool = True
    max_width: int | None = None
    hwaccel: HwaccelSetting = "none"

    def __post_init__(self) -> None:
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive or None, got {self.fps}")
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {self.queue_size}")
        if self.max_width is not None and self.max_width < 2:
            raise ValueError(f"max_width must be at least 2 or None, got {self.max_width}")
        if self.queue_bytes is not None and self.queue_bytes < 1:
            raise ValueError(f"queue_bytes must be positive or None, got {self.queue_bytes}")
        if not 0 < self.reconnect_initial <= self.reconnect_max:
            raise ValueError(
                "need 0 < reconnect_initial <= reconnect_max, got "
                f"{self.reconnect_initial} and {self.reconnect_max}"
            )
        if self.max_reconnects is not None and self.max_reconnects < 0:
            raise ValueError(f"max_reconnects must be >= 0 or None, got {self.max_reconnects}")
        if not (self.open_timeout > 0 and self.read_timeout > 0 and self.probe_seconds > 0):
            raise ValueError("open_timeout, read_timeout and probe_seconds must be positive")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before reconnection attempt ``retry`` (0-based): exponential, capped."""
        return float(min(self.reconnect_initial * 2.0 ** min(retry, 30), self.reconnect_max))
