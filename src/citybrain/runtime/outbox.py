"""The way up from a worker to the server: events never dropped, telemetry dropped when late.

Two bounded queues. Events and line counts go through the *reliable* one: a full queue makes
the camera thread wait (the server is slow to read), it never loses an event. Health, live
frames and worker notices go through the *lossy* one: when it is full the message is dropped
and counted, because the next one a moment later supersedes it.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

from citybrain.runtime.messages import CountMessage, EventMessage, OutboxStats, WorkerMessage

__all__ = ["MessageQueue", "Outbox", "OutboxClosedError"]


class MessageQueue(Protocol):
    """The part of ``multiprocessing.Queue`` (or ``queue.Queue``) the outbox uses."""

    def put(self, obj: WorkerMessage, block: bool = True, timeout: float | None = None) -> None: ...

    def qsize(self) -> int: ...


class OutboxClosedError(Exception):
    """The outbox was closed while a reliable message was waiting for room."""


class Outbox:
    """Sends worker messages up (verb: :meth:`send`); thread-safe.

    Args:
        reliable: the queue for events and counts.
        lossy: the queue for health, frames and worker notices.
        retry_seconds: how long one wait for room in the reliable queue lasts before it checks
            whether the outbox was closed, and tries again.
    """

    def __init__(
        self, reliable: MessageQueue, lossy: MessageQueue, *, retry_seconds: float = 0.5
    ) -> None:
        self._reliable = reliable
        self._lossy = lossy
        self._retry = retry_seconds
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Lossy messages dropped so far because their queue was full."""
        with self._lock:
            return self._dropped

    def stats(self) -> OutboxStats:
        """How many messages wait in each queue now, and how many lossy ones were dropped."""
        return OutboxStats(
            reliable_depth=_depth(self._reliable), lossy_depth=_depth(self._lossy),
            dropped=self.dropped,
        )  # fmt: skip

    def send(self, message: WorkerMessage) -> bool:
        """Send ``message``; ``False`` if it was a lossy message and was dropped.

        Raises:
            OutboxClosedError: a reliable message could not be sent before :meth:`close`.
        """
        if isinstance(message, EventMessage | CountMessage):
            self._send_reliable(message)
            return True
        try:
            self._lossy.put(message, block=False)
        except queue.Full:
            with self._lock:
                self._dropped += 1
            return False
        return True

    def close(self) -> None:
        """Release senders waiting for room (their messages raise :class:`OutboxClosedError`)."""
        self._closed.set()

    def _send_reliable(self, message: EventMessage | CountMessage) -> None:
        while True:
            try:
                self._reliable.put(message, block=True, timeout=self._retry)
                return
            except queue.Full:
                if self._closed.is_set():
                    raise OutboxClosedError(
                        f"worker outbox closed with an undelivered {type(message).__name__} "
                        f"of camera {message.camera_id}"
                    ) from None


def _depth(target: MessageQueue) -> int | None:
    try:
        return target.qsize()
    except NotImplementedError:  # multiprocessing queues on macOS (no sem_getvalue)
        return None
