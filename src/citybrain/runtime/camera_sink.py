"""A server camera's results, sent up to the server through the worker's outbox.

Events (with the anonymised, annotated snapshot on START) and line counts go up as typed
messages on the reliable queue; zone occupancy counts (:mod:`~citybrain.runtime.occupancy`) go up
on the lossy one when they change. Which frames become live frames is decided here alone: while
someone watches the camera, one at ``live_fps`` is handed to the worker's
:class:`~citybrain.runtime.live.LiveRenderer`, which anonymises and encodes it on its own thread
(and sends it up the lossy way); while nobody watches, none. A camera analysed on a substream
shows its viewing stream instead, decoded only while someone watches
(:class:`~citybrain.runtime.viewing.ViewingStream`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from citybrain.core.events import EventPhase, EventUpdate, LineCount
from citybrain.core.frame import Image
from citybrain.runtime.health import HealthMeter
from citybrain.runtime.live import LiveRenderer
from citybrain.runtime.messages import CountMessage, EventMessage
from citybrain.runtime.occupancy import OccupancyMeter
from citybrain.runtime.outbox import Outbox
from citybrain.runtime.viewing import ViewingStream
from citybrain.sinks.base import AnalysedFrame
from citybrain.sinks.snapshots import annotate, encode_jpeg

__all__ = ["OutboxSink"]


class OutboxSink:
    """Sends one camera's results up (a :class:`~citybrain.sinks.base.ResultSink`).

    Args:
        camera_id: the camera's id in the store.
        outbox: the way up.
        meter: counts the analysed frames for the camera's health.
        tick: called whenever the loop is idle (sends health when it is due).
        live_fps: anonymised live frames per second sent up while someone watches.
        live: renders the live frames (``None``: the camera has no live view).
        occupancy: counts tracked objects per zone and label, if the camera has zones.
        viewing: the camera's viewing stream, where it is analysed on another (a substream).
    """

    def __init__(
        self,
        camera_id: int,
        outbox: Outbox,
        meter: HealthMeter,
        tick: Callable[[], None],
        *,
        live_fps: float,
        live: LiveRenderer | None,
        occupancy: OccupancyMeter | None = None,
        viewing: ViewingStream | None = None,
    ) -> None:
        self.camera_id = camera_id
        #: POSIX time of the current stream's time 0 (sent with every event and count).
        self.wall_origin = 0.0
        self._outbox = outbox
        self._meter = meter
        self._tick = tick
        self._live_interval = 1.0 / live_fps
        self._live = live
        self._next_live = 0.0
        self._occupancy = occupancy if occupancy is not None and occupancy.active else None
        self._viewing = viewing

    def started(self, wall_origin: float) -> None:
        self.wall_origin = wall_origin

    def events(self, updates: Sequence[EventUpdate], safe_image: Image | None) -> None:
        for update in updates:
            snapshot = None
            if update.phase == EventPhase.START and safe_image is not None:
                snapshot = encode_jpeg(annotate(safe_image, update.event))
            self._outbox.send(EventMessage(self.camera_id, update, self.wall_origin, snapshot))

    def counts(self, counts: Sequence[LineCount]) -> None:
        for count in counts:
            self._outbox.send(CountMessage(self.camera_id, count, self.wall_origin))

    def analysed(self, frame: AnalysedFrame) -> None:
        self._meter.analysed()
        if self._occupancy is not None:
            counted = self._occupancy.observe(frame.detections, frame.width, frame.height)
            if counted is not None:
                self._outbox.send(counted)
        if self._live is None or not self._live.wanted(self.camera_id):
            return
        now = time.monotonic()
        if now < self._next_live:
            return
        self._next_live = now + self._live_interval
        if self._viewing is not None:
            frame = self._viewing.live_frame(frame)
        self._live.offer(self.camera_id, frame)

    def idle(self) -> None:
        if self._viewing is not None:
            self._viewing.idle()
        self._tick()
