"""Where the workers' messages go in the server: media store, database writers, live hub, metrics.

Called on the supervisor's drain threads (one per worker queue): every call here returns
quickly, because the writers batch in their own threads and the hub only queues.
"""

from __future__ import annotations

import logging

from citybrain.errors import StoreError
from citybrain.records import LiveEvent, count_record, event_state, wall_time
from citybrain.runtime.messages import (
    CountMessage,
    EventMessage,
    FrameMessage,
    HealthMessage,
    OccupancyMessage,
    WorkerMessage,
    WorkerStats,
)
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics
from citybrain.services.outbound import Outbound
from citybrain.store import CountWriter, EventWriter, MediaStore

__all__ = ["MessageRouter"]

log = logging.getLogger(__name__)


class MessageRouter:
    """Routes each worker message to the server's parts (verb: :meth:`handle`).

    - :class:`EventMessage`: the snapshot (START only) into the media store, the update into
      the :class:`EventWriter` (outage-proof), then out to live subscribers;
    - :class:`CountMessage`: into the :class:`CountWriter`;
    - :class:`HealthMessage`: to the hub and the metrics;
    - :class:`FrameMessage`: the hub's latest frame of the camera;
    - :class:`WorkerStats`: the detector and queue metrics of the worker;
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
        outbound: Outbound | None = None,
    ) -> None:
        self._events = events
        self._counts = counts
        self._hub = hub
        self._media = media
        self._metrics = metrics
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
        self._events.submit(state)
        if update.phase == "start":
            self._metrics.count_event(camera_id=camera_id, kind=state.kind)
        # One view of the event for live subscribers, MQTT and webhooks.
        live = LiveEvent(**state.model_dump(), phase=update.phase.value)
        self._hub.publish_live(live)
        if self._outbound is not None:
            self._outbound.event(live, update.event.camera)
