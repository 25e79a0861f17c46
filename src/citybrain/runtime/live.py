"""Live frames of a worker's cameras, rendered only while someone watches, off the analysis path.

Anonymising a frame (a CenterFace pass) and JPEG-encoding it cost about as much as analysing
it, so a camera nobody watches renders no live frame at all. The server says which cameras are
watched (:class:`~citybrain.runtime.messages.LiveDemand`, a lease it renews); a camera's sink
asks :meth:`LiveRenderer.wanted` and, at the live rate, hands the analysed frame to
:meth:`LiveRenderer.offer`. One thread per worker renders what is offered: each camera has one
slot holding its newest frame (a newer frame replaces an older one still waiting), so the
analysis threads never wait for rendering and what waits is bounded by the number of cameras.

Example:
    >>> renderer = LiveRenderer(outbox)  # doctest: +SKIP
    >>> renderer.demand((3,), until=time.time() + 5.0)  # doctest: +SKIP
    >>> renderer.wanted(3), renderer.wanted(4)  # doctest: +SKIP
    (True, False)
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection

from citybrain.runtime.messages import FrameMessage, LiveDemand
from citybrain.runtime.outbox import Outbox
from citybrain.sinks.base import AnalysedFrame
from citybrain.sinks.snapshots import encode_jpeg

__all__ = ["DemandLease", "LiveRenderer"]

log = logging.getLogger(__name__)


class LiveRenderer:
    """Renders offered live frames on its own thread and sends them up (thread-safe).

    Args:
        outbox: where the JPEGs go (the lossy way).
        quality: JPEG quality of live frames.
        niceness: how much lower than the analysis threads' the render thread's scheduling
            priority is (Linux: its own nice value): when the cores are short, live frames
            come more slowly (their slots keep the newest) rather than analysis falling behind.

    Attributes:
        rendered: live frames rendered and sent so far.
        superseded: offered frames replaced by a newer one of their camera before they were
            rendered (the renderer fell behind).
    """

    def __init__(self, outbox: Outbox, *, quality: int = 70, niceness: int = 10) -> None:
        self._outbox = outbox
        self._quality = quality
        self._niceness = niceness
        self._cond = threading.Condition()
        self._slots: dict[int, AnalysedFrame] = {}  # camera id -> newest frame not yet rendered
        self._watched: frozenset[int] = frozenset()
        self._until = 0.0
        self._closed = False
        self.rendered = 0
        self.superseded = 0
        self._thread = threading.Thread(target=self._run, name="live-render", daemon=True)
        self._thread.start()

    def demand(self, camera_ids: Collection[int], until: float) -> None:
        """Render the live frames of ``camera_ids`` until ``until`` (POSIX time), and no others.

        Frames of cameras no longer watched that wait in their slots are dropped."""
        with self._cond:
            self._watched, self._until = frozenset(camera_ids), until
            for camera_id in [c for c in self._slots if c not in self._watched]:
                del self._slots[camera_id]

    def wanted(self, camera_id: int) -> bool:
        """Whether someone watches ``camera_id`` now (cheap: called for every analysed frame)."""
        return camera_id in self._watched and time.time() < self._until

    def offer(self, camera_id: int, frame: AnalysedFrame) -> None:
        """Render ``frame`` as ``camera_id``'s next live frame, unless a newer one comes first."""
        with self._cond:
            if self._closed:
                return
            if camera_id in self._slots:
                self.superseded += 1
            self._slots[camera_id] = frame  # an existing slot keeps its turn
            self._cond.notify()

    def forget(self, camera_id: int) -> None:
        """The camera stopped: drop its waiting frame."""
        with self._cond:
            self._slots.pop(camera_id, None)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (a frame being rendered is still sent); waiting frames are dropped."""
        with self._cond:
            self._closed = True
            self._slots.clear()
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _next(self) -> tuple[int, AnalysedFrame] | None:
        with self._cond:
            while not self._slots and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            camera_id = next(iter(self._slots))  # the camera that has waited longest
            return camera_id, self._slots.pop(camera_id)

    def _run(self) -> None:
        _lower_priority(self._niceness)
        while (item := self._next()) is not None:
            camera_id, frame = item
            try:
                jpeg = encode_jpeg(frame.render(), quality=self._quality)
            except Exception:  # one bad frame must not end every camera's live view
                log.exception("camera %d: live frame not rendered", camera_id)
                continue
            self._outbox.send(FrameMessage(camera_id, jpeg, frame.timestamp))
            with self._cond:
                self.rendered += 1


def _lower_priority(niceness: int) -> None:
    """Raise the calling thread's nice value by ``niceness`` (Linux, where a thread has one of
    its own; elsewhere it would renice the whole process, so nothing is done there)."""
    if not niceness or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):  # a limit on nice values: render at the same priority
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)


class DemandLease:
    """Decides when the server tells its workers which cameras are watched (verb: :meth:`due`).

    A demand goes out when the watched set changes, and again every ``renew`` seconds while it
    is not empty, each time holding for ``lease`` seconds: a worker whose server stopped
    renewing (gone, or the message lost) stops rendering by itself.

    Args:
        watched: the cameras watched now (the live hub's view; called from the control thread).
        lease: seconds each demand holds.
        renew: seconds between renewals (well under ``lease``).
    """

    def __init__(
        self, watched: Callable[[], Collection[int]], *, lease: float = 6.0, renew: float = 2.0
    ) -> None:
        if not 0 < renew < lease:
            raise ValueError("DemandLease: renew must be positive and shorter than the lease")
        self._watched = watched
        self._lease = lease
        self._renew = renew
        self._sent: tuple[int, ...] | None = None  # None: the workers may know nothing yet
        self._renew_at = 0.0

    def reset(self) -> None:
        """A worker (re)started: it needs the current demand, changed or not."""
        self._sent = None

    def due(self) -> LiveDemand | None:
        """The demand to send to every worker now, or ``None`` when nothing needs saying."""
        camera_ids = tuple(sorted(set(self._watched())))
        now = time.monotonic()
        renewal = bool(camera_ids) and now >= self._renew_at
        if camera_ids == self._sent and not renewal:
            return None
        self._sent, self._renew_at = camera_ids, now + self._renew
        return LiveDemand(camera_ids, time.time() + self._lease)
