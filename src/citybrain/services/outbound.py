"""Incidents handed on: the server's MQTT publisher and webhooks, fed by the message router.

:class:`Outbound` receives what the router routes (on the supervisor's drain threads) and hands
it to :class:`~citybrain.integrations.mqtt.MqttPublisher` (which queues on disk at once) and to
the :class:`~citybrain.integrations.webhooks.WebhookService` (through a bounded queue and a
thread of its own, which writes each batch of events to the outbox in one transaction, so that
a slow or unreachable database never holds up the camera's event path). Every call returns at
once and never raises into the router.

An event leaves as the API's live view of it (:class:`~citybrain.records.LiveEvent`: the
snapshot as a URL, never bytes), built once by the router, plus the camera's name.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.mqtt import MqttPublisher
from citybrain.integrations.notices import CountNotice, EventNotice, HealthNotice, OccupancyNotice
from citybrain.integrations.webhooks import WebhookService, new_secret
from citybrain.records import CameraHealth, LineCountRecord, LiveEvent
from citybrain.runtime.messages import OccupancyMessage
from citybrain.services.camera_names import CameraNames
from citybrain.services.webhook_store import SqlDirectory

__all__ = ["Outbound", "WebhookTest", "new_webhook_secret"]

log = logging.getLogger(__name__)

_BATCH = 500  # events written to the outbox in one transaction at most
_SNAPSHOTS = 10_000  # open events whose snapshot URL is remembered for their update and end
_RETRY_MIN_S, _RETRY_MAX_S = 0.5, 10.0


def new_webhook_secret() -> str:
    """A new ``whsec_…`` signing secret (shown to the admin once)."""
    return new_secret()


@dataclass(frozen=True, slots=True)
class WebhookTest:
    """How ``POST /api/webhooks/{id}/test`` went: ``ok`` for a 2xx."""

    ok: bool
    status_code: int | None
    error: str | None
    seconds: float


class Outbound:
    """MQTT and webhooks as the server sees them (see the module docstring).

    Args:
        names: camera id -> name.
        metrics: the integrations' metrics.
        mqtt: the publisher, ``None`` when MQTT is off.
        webhooks: the webhook service, ``None`` when webhooks are off (API tests).
        directory: the webhooks the service reads (told when the API changes one).
        queue_size: events waiting for the outbox at most; beyond it they are dropped, counted
            (``citybrain_webhook_fanout_dropped_total``) and logged.
        health_every: seconds between health messages of a camera whose state (online, last
            error) did not change; a change goes out at once.
    """

    def __init__(
        self,
        *,
        names: CameraNames,
        metrics: OutboundMetrics,
        mqtt: MqttPublisher | None = None,
        webhooks: WebhookService | None = None,
        directory: SqlDirectory | None = None,
        queue_size: int = 10_000,
        health_every: float = 10.0,
    ) -> None:
        self.mqtt = mqtt
        self.webhooks = webhooks
        self.metrics = metrics
        self._names = names
        if names.on_rename is None:  # a rename shows in the camera's messages: the old
            names.on_rename = self.renamed  # name's retained states go then
        self._directory = directory
        self._health_every = health_every
        self._queue: queue.Queue[EventNotice] = queue.Queue(queue_size)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fan_out, name="webhook-fanout", daemon=True)
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[str, str] = OrderedDict()
        self._health_sent: dict[int, tuple[bool, str | None, float]] = {}
        self._started = False

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the broker and start delivering (pending deliveries included)."""
        if self._started:
            return
        self._started = True
        if self.mqtt is not None:
            self.mqtt.start()
        if self.webhooks is not None:
            self.webhooks.start()
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what waits to the outbox, stop the webhook engine (pending deliveries stay for
        the next start), then send what MQTT has queued for a moment and say ``offline``."""
        if not self._started:
            return
        self._started = False
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.webhooks is not None:
            self.webhooks.close()
        if self.mqtt is not None:
            self.mqtt.close()

    # -- from the message router (drain threads) -----------------------------------------------

    def event(self, live: LiveEvent, camera: str) -> None:
        """An event started, was updated or ended (``live.phase``) on the camera ``camera``."""
        try:
            notice = self._event_notice(live, camera)
            self._names.note(live.camera_id, camera)
            if self.mqtt is not None:
                self.mqtt.publish_event(notice)
            if self.webhooks is not None:
                try:
                    self._queue.put_nowait(notice)
                except queue.Full:
                    self.metrics.webhook_fanout_dropped.inc()
                    log.error("webhooks: %d events wait for the outbox; event %s %s dropped",
                              self._queue.maxsize, live.id, live.phase)  # fmt: skip
        except Exception:  # never into the router: the event is stored and shown regardless
            log.exception("event %s could not be handed to MQTT or webhooks", live.id)

    def health(self, health: CameraHealth) -> None:
        """A camera's health (retained on MQTT; sent on change and every ``health_every``)."""
        if self.mqtt is None:
            return
        try:
            state = (health.online, health.last_error)
            now = time.monotonic()
            with self._lock:
                sent = self._health_sent.get(health.camera_id)
                if sent is not None and sent[:2] == state and now - sent[2] < self._health_every:
                    return
                self._health_sent[health.camera_id] = (*state, now)
            name = self._names.get(health.camera_id)
            if name is not None:
                fields = health.model_dump(mode="json")
                self.mqtt.publish_health(HealthNotice(health.camera_id, name, fields))
        except Exception:
            log.exception("health of camera %d could not be handed to MQTT", health.camera_id)

    def count(self, count: LineCountRecord, camera: str) -> None:
        """One interval's line crossings (``citybrain/counts``)."""
        if self.mqtt is None:
            return
        try:
            self.mqtt.publish_count(
                CountNotice(
                    camera_id=count.camera_id,
                    camera=camera,
                    rule=count.rule,
                    line=count.line,
                    direction=count.direction,
                    label=count.label,
                    interval_start=count.interval_start,
                    interval_seconds=count.interval_seconds,
                    count=count.count,
                )
            )
        except Exception:
            log.exception("a count of camera %d could not be handed to MQTT", count.camera_id)

    def occupancy(self, message: OccupancyMessage) -> None:
        """Zone occupancy per label (retained on MQTT; the publisher sends only changes)."""
        if self.mqtt is None:
            return
        try:
            self._names.note(message.camera_id, message.camera)
            name = self._names.get(message.camera_id)  # None: the camera stopped meanwhile
            if name is None:
                return
            for zone, label, count in message.counts:
                self.mqtt.publish_occupancy(
                    OccupancyNotice(message.camera_id, name, zone, label, count)
                )
        except Exception:
            log.exception("occupancy of camera %d could not be handed to MQTT", message.camera_id)

    def forget_camera(self, camera_id: int) -> None:
        """A camera was deleted or disabled: its retained MQTT states and sensors go."""
        name = self._names.forget(camera_id)
        with self._lock:
            self._health_sent.pop(camera_id, None)
        if name is not None and self.mqtt is not None:
            self.mqtt.forget_camera(name)

    def renamed(self, old_name: str) -> None:
        """A camera runs under a new name: the retained states of the old one go."""
        if self.mqtt is not None:
            self.mqtt.forget_camera(old_name)

    # -- for the API ------------------------------------------------------------------------

    def webhooks_changed(self) -> None:
        """A webhook was added or changed: the engine reads the webhooks again."""
        if self._directory is not None:
            self._directory.changed()

    def webhook_deleted(self, webhook_id: int) -> None:
        """A webhook was deleted (its deliveries went with it): its metrics go."""
        self.webhooks_changed()
        self.metrics.forget_webhook(webhook_id)

    def test_webhook(self, webhook_id: int, timeout: float = 30.0) -> WebhookTest | None:
        """Send a ``citybrain.webhook.test`` message now, outside the outbox; ``None`` when no
        webhook service runs.

        Raises:
            KeyError: no such webhook.
        """
        if self.webhooks is None or not self._started:
            return None
        self.webhooks_changed()
        result = self.webhooks.send_test(webhook_id, timeout)
        return WebhookTest(result.ok, result.status_code, result.error, result.seconds)

    # -- inside -------------------------------------------------------------------------------

    def _event_notice(self, live: LiveEvent, camera: str) -> EventNotice:
        phase: Literal["start", "update", "end"]
        if live.phase == "start":
            phase, at = "start", live.started_at
        elif live.phase == "end":
            phase, at = "end", live.ended_at or datetime.now(UTC)
        elif live.phase == "update":
            phase, at = "update", datetime.now(UTC)
        else:
            raise ValueError(f"operator action {live.phase!r} is not sent out")
        snapshot = self._snapshot_url(live)
        data = live.model_dump(mode="json", exclude={"phase"}) | {"snapshot_url": snapshot}
        return EventNotice(
            phase=phase, camera_id=live.camera_id, camera=camera, event=data, at=at,
            snapshot_url=snapshot,
        )  # fmt: skip

    def _snapshot_url(self, live: LiveEvent) -> str | None:
        """The snapshot URL of the START, remembered for the event's updates and its end."""
        with self._lock:
            url = live.snapshot_url or self._snapshots.get(live.id)
            if live.phase == "end":
                self._snapshots.pop(live.id, None)
            elif live.snapshot_url is not None:
                self._snapshots[live.id] = live.snapshot_url
                while len(self._snapshots) > _SNAPSHOTS:
                    self._snapshots.popitem(last=False)
            return url

    def _fan_out(self) -> None:
        """Write queued events to the outbox in batches, until closed and drained."""
        assert self.webhooks is not None
        failures = 0
        batch: list[EventNotice] = []
        while True:
            if not batch:
                try:
                    batch.append(self._queue.get(timeout=0.2))
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
            with contextlib.suppress(queue.Empty):
                while len(batch) < _BATCH:
                    batch.append(self._queue.get_nowait())
            try:
                self.webhooks.publish_many(batch)
            except Exception as exc:  # the database is away: keep the batch and try again
                failures += 1
                if self._stop.is_set() and failures > 3:
                    log.error("webhooks: %d events not written to the outbox at shutdown: %s",
                              len(batch) + self._queue.qsize(), exc)  # fmt: skip
                    return
                log.warning("webhooks: cannot write to the outbox (%s); retrying", exc)
                if self._stop.is_set():
                    time.sleep(_RETRY_MIN_S)
                else:
                    self._stop.wait(min(_RETRY_MAX_S, _RETRY_MIN_S * 2 ** min(failures, 5)))
                continue
            failures = 0
            batch = []
