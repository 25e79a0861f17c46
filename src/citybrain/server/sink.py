"""Where the workers' messages go in the server: media store, database writers, live hub, metrics.

Called on the supervisor's drain threads (one per worker queue): every call here returns
quickly, because the writers batch in their own threads and the hub only queues.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from citybrain.api.hub import LiveHub
from citybrain.api.media import MediaStore
from citybrain.api.metrics import ServerMetrics
from citybrain.core.events import EventPhase
from citybrain.errors import StoreError
from citybrain.runtime.messages import (
    CountMessage,
    EventMessage,
    FrameMessage,
    HealthMessage,
    WorkerMessage,
    WorkerStats,
)
from citybrain.store import CountWriter, EventWriter

__all__ = ["MessageSink"]

log = logging.getLogger(__name__)


class MessageSink:
    """Routes each worker message to the server's parts (verb: :meth:`handle`).

    - :class:`EventMessage`: the snapshot (START only) into the media store, the update into
      the :class:`EventWriter` (outage-proof), then out to live subscribers;
    - :class:`CountMessage`: into the :class:`CountWriter`;
    - :class:`HealthMessage`: to the hub and the metrics;
    - :class:`FrameMessage`: the hub's latest frame of the camera;
    - :class:`WorkerStats`: the detector and queue metrics of the worker.
    """

    def __init__(
        self,
        *,
        events: EventWriter,
        counts: CountWriter,
        hub: LiveHub,
        media: MediaStore,
        metrics: ServerMetrics,
    ) -> None:
        self._events = events
        self._counts = counts
        self._hub = hub
        self._media = media
        self._metrics = metrics

    def handle(self, message: WorkerMessage) -> None:
        """Deliver one message."""
        if isinstance(message, EventMessage):
            self._event(message)
        elif isinstance(message, CountMessage):
            origin = datetime.fromtimestamp(message.wall_origin, UTC)
            self._counts.submit(message.count, camera_id=message.camera_id, origin=origin)
        elif isinstance(message, HealthMessage):
            self._hub.publish_health(message.health)
            self._metrics.observe_health(message.health)
        elif isinstance(message, FrameMessage):
            self._hub.set_frame(message)
        elif isinstance(message, WorkerStats):
            self._metrics.observe_worker(message)

    def forget(self, camera_id: int) -> None:
        """Drop a stopped camera's live frame, health and metric series."""
        self._hub.forget(camera_id)
        self._metrics.forget_camera(camera_id)

    def _event(self, message: EventMessage) -> None:
        event = message.update.event
        origin = datetime.fromtimestamp(message.wall_origin, UTC)
        snapshot = None
        if message.snapshot_jpeg is not None:
            at = datetime.fromtimestamp(message.wall_origin + event.snapshot_at, UTC)
            try:
                snapshot = self._media.save_snapshot(
                    camera_id=message.camera_id, event_id=event.id, jpeg=message.snapshot_jpeg,
                    at=at,
                )  # fmt: skip
            except StoreError as exc:
                # The event matters more than its picture: store it without one.
                log.error("event %s of camera %d: %s", event.id, message.camera_id, exc)
        self._events.submit(
            message.update, camera_id=message.camera_id, origin=origin, snapshot=snapshot
        )
        if message.update.phase == EventPhase.START:
            self._metrics.count_event(camera_id=message.camera_id, kind=event.kind)
        self._hub.publish_event(message)
