"""The bounded hand-over between a decode thread and its consumer."""

from __future__ import annotations

import threading
import time
from collections import deque

from citybrain.core.frame import Frame

__all__ = ["FrameQueue"]


class FrameQueue:
    """A bounded frame buffer that ends with either ``None`` (end of source) or an exception.

    The producer either blocks on a full queue or drops the oldest frame; the end marker and
    errors are kept apart from the frames, so they are never dropped and are delivered after the
    frames queued before them. The queue is full at ``maxsize`` frames or, with ``max_bytes``,
    once its frames' pixels take that many bytes (though it always takes one frame).
    """

    def __init__(self, maxsize: int, max_bytes: int | None = None) -> None:
        self._frames: deque[Frame] = deque()
        self._maxsize = maxsize
        self._max_bytes = max_bytes
        self._bytes = 0
        self._cond = threading.Condition()
        self._finished = False
        self._error: BaseException | None = None
        self._cancelled = False

    def put(self, frame: Frame, *, drop_oldest: bool) -> int:
        """Queue ``frame``; returns how many frames were dropped to make room.

        Without ``drop_oldest`` this blocks while the queue is full, until there is room or
        :meth:`cancel` is called (then ``frame`` is discarded and 0 returned).
        """
        with self._cond:
            dropped = 0
            if drop_oldest:
                while self._frames and self._full(frame):
                    self._bytes -= self._frames.popleft().nbytes
                    dropped += 1
            else:
                self._cond.wait_for(lambda: not self._full(frame) or self._cancelled)
                if self._cancelled:
                    return 0
            self._frames.append(frame)
            self._bytes += frame.nbytes
            self._cond.notify_all()
            return dropped

    def _full(self, frame: Frame) -> bool:
        """Whether there is no room for ``frame`` (an empty queue always has room)."""
        if not self._frames:
            return False
        if len(self._frames) >= self._maxsize:
            return True
        return self._max_bytes is not None and self._bytes + frame.nbytes > self._max_bytes

    def __len__(self) -> int:
        """Frames waiting (a glimpse: it may change at once)."""
        return len(self._frames)

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the end: ``get`` returns ``None`` (or raises ``error``) once the frames run out."""
        with self._cond:
            if not self._finished:
                self._finished = True
                self._error = error
            self._cond.notify_all()

    def cancel(self) -> None:
        """Drop queued frames, wake a blocked producer and end the queue (consumer closed it)."""
        with self._cond:
            self._cancelled = True
            self._frames.clear()
            self._bytes = 0
            self._finished = True
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Frame | None:
        """The next frame; ``None`` at the end.

        Raises:
            TimeoutError: no frame arrived within ``timeout`` seconds.
            BaseException: the error the producer finished with, after the frames before it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._frames and not self._finished:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"no frame within {timeout} s")
                self._cond.wait(remaining)
            if self._frames:
                frame = self._frames.popleft()
                self._bytes -= frame.nbytes
                self._cond.notify_all()
                return frame
            if self._error is not None:
                raise self._error
            return None
