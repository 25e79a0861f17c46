"""Where the workers' messages go in the server: media store, database writers, live hub, metrics.

Called on the supervisor's drain threads (one per worker queue): every call here returns
quickly, because the writers batch in their own threads and the hub only queues.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from citybrain.core.events import EndedBy, EventPhase
from citybrain.errors import StoreError
from citybrain.records import EventState, LiveEvent, count_record, event_state, wall_time
from citybrain.records.event import LivePhase
from citybrain.runtime.messages import (
    CameraStopped,
    CountMessage,
    EventMessage,
    FrameMessage,
    HealthMessage,
    OccupancyMessage,
    WorkerMessage,
    WorkerStats,
)
from citybrain.runtime.site_plan import SiteContexts
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics
from citybrain.services.outbound import Outbound
from citybrain.store import CountWriter, EventWriter, MediaStore

__all__ = ["MessageRouter"]

log = logging.getLogger(__name__)

#: Open events whose context is remembered; more than this and the oldest is forgotten.
_OPEN_CONTEXTS = 10_000


class MessageRouter:
    """Routes each worker message to the server's parts (verb: :meth:`handle`).

    - :class:`EventMessage`: the snapshot (START only) into the media store, the update into
      the :class:`EventWriter` (outage-proof), then out to live subscribers;
    - :class:`CountMessage`: into the :class:`CountWriter`;
    - :class:`HealthMessage`: to the hub and the metrics;
    - :class:`FrameMessage`: the hub's latest frame of the camera;
    - :class:`WorkerStats`: the detector and queue metrics of the worker;
    - :class:`CameraStopped`: the camera's events still open end now (its worker died).

    It keeps each camera's open events (it sees every start and end) for the last case.

    With ``contexts``, every event gets ``context.sites``: the sites its camera sees that were
    valid when it started (issue 12). It is set here, where the event gets its wall-clock time,
    rather than in the worker: events of the camera's own rules and of rules from data alike
    get it, the workers need not be told of every change to a site's name or attributes, and
    the engine stays free of city data. An event keeps the context of its start to its end.
    - and, when the server hands incidents on (:class:`Outbound`), events, health, counts and
      :class:`OccupancyMessage` to MQTT and webhooks, after the writers have them.
    """

    def __init__(
        self,
        *,
        events: EventWriter,
        counts: CountWriter,
        hub: LiveHub,
        media: MediaStore,
        metrics: ServerMetrics,
        contexts: SiteContexts | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        self._contexts = contexts
        self._open_contexts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._events = events
        self._counts = counts
        self._hub = hub
        self._media = media
        self._metrics = metrics
        # camera id -> event id -> (state, camera name): a dead worker's events to end
        self._open: dict[int, dict[str, tuple[EventState, str]]] = {}
        self._open_lock = threading.Lock()
        self._outbound = outbound

    def handle(self, message: WorkerMessage) -> None:
        """Deliver one message."""
        if isinstance(message, EventMessage):
            self._event(message)
        elif isinstance(message, CountMessage):
            record = count_record(
                message.count, camera_id=message.camera_id, origin=message.wall_origin
            )
            self._counts.submit(record)
            if self._outbound is not None:
                self._outbound.count(record, message.count.camera)
        elif isinstance(message, HealthMessage):
            self._hub.publish_health(message.health)
            self._metrics.observe_health(message.health)
            if self._outbound is not None:
                self._outbound.health(message.health)
        elif isinstance(message, OccupancyMessage):
            if self._outbound is not None:
                self._outbound.occupancy(message)
        elif isinstance(message, FrameMessage):
            self._hub.set_frame(message)
        elif isinstance(message, WorkerStats):
            self._metrics.observe_worker(message)
        elif isinstance(message, CameraStopped):
            self._end_open(message.camera_id, message.reason)

    def _with_context(self, state: EventState, phase: str) -> EventState:
        """The event with the site context of its start (kept for its later updates)."""
        assert self._contexts is not None
        context = self._open_contexts.get(state.id)
        if context is None:
            context = self._contexts.context(state.camera_id, state.started_at)
            self._open_contexts[state.id] = context
            while len(self._open_contexts) > _OPEN_CONTEXTS:
                self._open_contexts.popitem(last=False)
        if phase == "end":
            self._open_contexts.pop(state.id, None)
        return state.model_copy(update={"context": context}) if context else state

    def forget(self, camera_id: int) -> None:
        """Drop a stopped camera's live frame, health and metric series."""
        self._hub.forget(camera_id)
        self._metrics.forget_camera(camera_id)
        if self._outbound is not None:
            self._outbound.forget_camera(camera_id)

    def _event(self, message: EventMessage) -> None:
        update, camera_id = message.update, message.camera_id
        snapshot = None
        if message.snapshot_jpeg is not None:
            at = wall_time(message.wall_origin, update.event.snapshot_at)
            try:
                snapshot = self._media.save_snapshot(
                    camera_id=camera_id, event_id=update.event.id, jpeg=message.snapshot_jpeg, at=at
                )
            except StoreError as exc:
                # The event matters more than its picture: store it without one.
                log.error("event %s of camera %d: %s", update.event.id, camera_id, exc)
        state = event_state(
            update, camera_id=camera_id, origin=message.wall_origin, snapshot=snapshot
        )
        if self._contexts is not None:
            state = self._with_context(state, update.phase.value)
        self._events.submit(state)
        self._track(state, update.phase, update.event.camera)
        if update.phase == "start":
            self._metrics.count_event(camera_id=camera_id, kind=state.kind)
        self._publish(state, update.phase.value, update.event.camera)

    def _publish(self, state: EventState, phase: LivePhase, camera: str) -> None:
        """One view of the event for live subscribers, MQTT and webhooks."""
        live = LiveEvent(**state.model_dump(), phase=phase)
        self._hub.publish_live(live)
        if self._outbound is not None:
            self._outbound.event(live, camera)

    def _track(self, state: EventState, phase: EventPhase, camera: str) -> None:
        """Note an event's latest state while it is open (keeping its snapshot)."""
        with self._open_lock:
            open_events = self._open.setdefault(state.camera_id, {})
            if phase == EventPhase.END:
                open_events.pop(state.id, None)
            else:
                old = open_events.get(state.id)
                if state.snapshot is None and old is not None and old[0].snapshot is not None:
                    state = state.model_copy(update={"snapshot": old[0].snapshot})
                open_events[state.id] = (state, camera)
            if not open_events:
                del self._open[state.camera_id]

    def _end_open(self, camera_id: int, reason: EndedBy) -> None:
        """End the camera's open events now, marked ``ended_by`` ``reason``."""
        with self._open_lock:
            left = self._open.pop(camera_id, {})
        now = datetime.now(UTC)
        for state, camera in left.values():
            ended = state.marked_ended_by(reason).model_copy(
                update={"ended_at": max(now, state.started_at)}
            )
            self._events.submit(ended)
            self._publish(ended, "end", camera)
        if left:
            log.warning("camera %d: %d open event(s) ended (%s)", camera_id, len(left), reason)
