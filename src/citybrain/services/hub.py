"""The live hub: in-process publish/subscribe of events, camera health and the latest frames.

Publishers call from any thread (the runtime's receiver thread, API request threads);
subscribers are asyncio tasks (one per open ``/api/events/stream``). Each subscriber has a
bounded queue that drops its oldest message when the client is slow, so one stalled browser
never holds memory or slows the publishers. Messages are serialised once, then fanned out.

The hub also knows who watches which camera live (:meth:`LiveHub.watch` for a video stream,
:meth:`LiveHub.ask` for one frame): cameras render live frames only while someone does, so the
camera runtime reads :meth:`LiveHub.watched` and is told (:meth:`LiveHub.on_demand_change`)
when it changes.

Example:
    >>> hub = LiveHub()
    >>> hub.set_frame(FrameMessage(camera_id=1, jpeg=b"\\xff\\xd8...", timestamp=3.0))
    >>> hub.frame(1).seq
    1
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Literal

from citybrain.records import CameraHealth, EventRecord, EventState, LiveEvent
from citybrain.records.event import LivePhase
from citybrain.runtime.messages import FrameMessage

__all__ = [
    "JPEG_MAGIC",
    "FrameWatch",
    "LatestFrame",
    "LiveHub",
    "LiveMessage",
    "StreamTicket",
    "Subscription",
]

JPEG_MAGIC = b"\xff\xd8"


@dataclass(frozen=True, slots=True)
class LiveMessage:
    """One message for subscribers: ``kind`` is the SSE event name, ``data`` its JSON."""

    seq: int
    kind: str
    camera_id: int
    data: str


@dataclass(frozen=True, slots=True)
class LatestFrame:
    """A camera's newest anonymised JPEG; ``seq`` grows with every new frame."""

    camera_id: int
    jpeg: bytes
    timestamp: float
    seq: int


class Subscription:
    """One subscriber's bounded queue; read it with :meth:`get` on its event loop.

    Messages are numbered per subscription (the SSE ``id``), so the numbers a client sees say
    nothing about how busy the cameras it may not see are.
    """

    def __init__(
        self, camera_ids: Collection[int] | None, maxsize: int, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._camera_ids = None if camera_ids is None else frozenset(camera_ids)
        self._queue: deque[LiveMessage] = deque(maxlen=maxsize)
        self._lock = threading.Lock()
        self._loop = loop
        self._wake = asyncio.Event()
        self._seq = 0
        self.closed = False
        self.dropped = 0

    def wants(self, camera_id: int) -> bool:
        """Whether this subscriber may see ``camera_id``."""
        return self._camera_ids is None or camera_id in self._camera_ids

    def offer(self, kind: str, camera_id: int, data: str) -> None:
        """Queue a message (any thread), dropping the oldest if the queue is full."""
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._seq += 1
            self._queue.append(LiveMessage(self._seq, kind, camera_id, data))
        self._wake_up()

    def close(self) -> None:
        """End the subscription (the server is stopping): :meth:`get` returns at once."""
        self.closed = True
        self._wake_up()

    def _wake_up(self) -> None:
        # The loop may already be closed when a client has just gone; nothing to wake then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake.set)

    async def get(self, timeout: float) -> list[LiveMessage]:
        """Every queued message, waiting up to ``timeout`` seconds for one (``[]`` if none)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        with self._lock:
            messages = list(self._queue)
            self._queue.clear()
        return messages


class StreamTicket:
    """One open video stream of a user, counted by :meth:`LiveHub.open_stream`."""

    def __init__(self, held: weakref.WeakSet[StreamTicket]) -> None:
        self._held = held

    def close(self) -> None:
        """The stream ended: it no longer counts."""
        self._held.discard(self)


class FrameWatch:
    """Someone watching cameras live (a video stream), from :meth:`LiveHub.watch` until
    :meth:`close` or until the watch is dropped."""

    def __init__(self, hub: LiveHub, camera_ids: Collection[int]) -> None:
        self._hub = hub
        self.camera_ids = frozenset(camera_ids)

    def close(self) -> None:
        """The stream ended: these cameras are no longer watched by it."""
        self._hub._unwatch(self)


class LiveHub:
    """Fans out live messages and keeps the latest frame and health of each camera.

    Args:
        queue_size: messages a subscriber's queue holds before its oldest is dropped.
        frame_wait_s: how long a request for a camera nobody watched waits for its first fresh
            frame (the camera starts rendering only when asked).
        ask_hold_s: how long one frame request keeps its camera watched (a page that reloads a
            still frame every few seconds finds it fresh).
    """

    def __init__(
        self, *, queue_size: int = 256, frame_wait_s: float = 2.0, ask_hold_s: float = 10.0
    ) -> None:
        self._queue_size = queue_size
        self.frame_wait_s = frame_wait_s
        self._ask_hold_s = ask_hold_s
        # Weak: a stream whose response never started cannot keep its cameras watched.
        self._watches: weakref.WeakSet[FrameWatch] = weakref.WeakSet()
        self._asked: dict[int, float] = {}  # camera id -> monotonic time its ask expires
        self._demand_listener: Callable[[], None] | None = None
        self._lock = threading.Lock()
        # Weak: a stream whose response never started cannot leak its subscription.
        self._subscribers: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._frames: dict[int, LatestFrame] = {}
        self._health: dict[int, CameraHealth] = {}
        self._frame_seq = 0
        self._streams: dict[str, weakref.WeakSet[StreamTicket]] = {}
        self.closed = False

    # -- publishers (any thread) ------------------------------------------------------------

    def publish_event(self, phase: Literal["start", "update", "end"], state: EventState) -> None:
        """Push an engine event update (start, update or end) to subscribers."""
        self.publish_live(LiveEvent(**state.model_dump(), phase=phase))

    def publish_live(self, live: LiveEvent) -> None:
        """Push an event's live view (built once by the router, for MQTT and webhooks too)."""
        self._fan_out("event", live.camera_id, live.model_dump_json())

    def publish_record(self, record: EventRecord) -> None:
        """Push a stored event after an operator acknowledged or resolved it."""
        phase: LivePhase = "resolved" if record.status == "resolved" else "acknowledged"
        live = LiveEvent.model_validate(
            record.model_dump(include=set(LiveEvent.model_fields)) | {"phase": phase}
        )
        self._fan_out("event", record.camera_id, live.model_dump_json())

    def publish_health(self, health: CameraHealth) -> None:
        """Record a camera's health and push it to subscribers."""
        with self._lock:
            self._health[health.camera_id] = health
        self._fan_out("health", health.camera_id, health.model_dump_json())

    def set_frame(self, frame: FrameMessage) -> None:
        """Keep ``frame`` as its camera's latest (it must be an anonymised JPEG).

        Raises:
            ValueError: the bytes are not a JPEG.
        """
        if not frame.jpeg.startswith(JPEG_MAGIC):
            raise ValueError(f"camera {frame.camera_id}: a live frame must be a JPEG")
        with self._lock:
            self._frame_seq += 1
            self._frames[frame.camera_id] = LatestFrame(
                frame.camera_id, frame.jpeg, frame.timestamp, self._frame_seq
            )

    def forget(self, camera_id: int) -> None:
        """Drop a deleted or stopped camera's frame and health."""
        with self._lock:
            self._frames.pop(camera_id, None)
            self._health.pop(camera_id, None)

    # -- who watches (API request threads and the event loop) --------------------------------

    def on_demand_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (quickly, on the caller's thread) when a camera becomes watched or
        stops being watched by a stream. Expired frame requests are not announced: the runtime
        reads :meth:`watched` regularly."""
        self._demand_listener = listener

    def watch(self, camera_ids: Collection[int]) -> FrameWatch:
        """Someone watches ``camera_ids`` live until the returned watch is closed or dropped."""
        watch = FrameWatch(self, camera_ids)
        self._change(lambda: self._watches.add(watch))
        return watch

    def ask(self, camera_id: int) -> None:
        """Someone wants a fresh frame of ``camera_id``: it counts as watched for a while."""
        until = time.monotonic() + self._ask_hold_s

        def add() -> None:
            self._asked[camera_id] = until

        self._change(add)

    def watched(self) -> frozenset[int]:
        """The cameras someone watches now (streams open, frame requests not yet expired)."""
        now = time.monotonic()
        with self._lock:
            for camera_id in [c for c, until in self._asked.items() if until <= now]:
                del self._asked[camera_id]
            ids = set(self._asked)
            for watch in self._watches:
                ids |= watch.camera_ids
        return frozenset(ids)

    def watching(self, camera_id: int) -> bool:
        """Whether someone watches ``camera_id`` now (so its latest frame is fresh)."""
        return camera_id in self.watched()

    async def next_frame(
        self, camera_id: int, after: LatestFrame | None, timeout: float | None = None
    ) -> LatestFrame | None:
        """The camera's first frame newer than ``after``, waiting up to ``timeout`` seconds
        (:attr:`frame_wait_s` if omitted); past it, the latest frame (``None``: none at all)."""
        deadline = time.monotonic() + (self.frame_wait_s if timeout is None else timeout)
        while not self.closed and time.monotonic() < deadline:
            current = self.frame(camera_id)
            if current is not None and (after is None or current.seq != after.seq):
                return current
            await asyncio.sleep(0.02)
        return self.frame(camera_id)

    def _unwatch(self, watch: FrameWatch) -> None:
        self._change(lambda: self._watches.discard(watch))

    def _change(self, apply: Callable[[], None]) -> None:
        before = self.watched()
        with self._lock:
            apply()
        listener = self._demand_listener
        if listener is not None and self.watched() != before:
            listener()

    # -- readers ----------------------------------------------------------------------------

    def frame(self, camera_id: int) -> LatestFrame | None:
        """The camera's latest frame, or ``None`` if it has sent none."""
        with self._lock:
            return self._frames.get(camera_id)

    def health(self) -> dict[int, CameraHealth]:
        """The latest health of every camera that reported one."""
        with self._lock:
            return dict(self._health)

    def subscribe(self, *, camera_ids: Collection[int] | None) -> Subscription:
        """A new subscriber for ``camera_ids`` (``None``: all); call on its event loop."""
        subscription = Subscription(camera_ids, self._queue_size, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def open_stream(self, holder: str, limit: int) -> StreamTicket | None:
        """A ticket for one more open video stream of ``holder`` (a user), or ``None`` if they
        hold ``limit`` already. The stream holds the ticket while it runs: it counts until
        :meth:`StreamTicket.close` or until the stream is dropped, started or not."""
        with self._lock:
            held = self._streams.setdefault(holder, weakref.WeakSet())
            if self.closed or len(held) >= limit:
                return None
            ticket = StreamTicket(held)
            held.add(ticket)
            return ticket

    def close(self) -> None:
        """The server is stopping: every stream ends now instead of holding the shutdown."""
        with self._lock:
            self.closed = True
            subscriptions = list(self._subscribers)
        for subscription in subscriptions:
            subscription.close()

    def _fan_out(self, kind: str, camera_id: int, data: str) -> None:
        with self._lock:
            targets = [s for s in self._subscribers if s.wants(camera_id)]
        for subscription in targets:
            subscription.offer(kind, camera_id, data)
