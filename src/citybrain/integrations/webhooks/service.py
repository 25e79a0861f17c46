"""Webhooks in the server: events in (from any thread), deliveries out (on a thread of their own).

:class:`WebhookService` turns each :class:`~citybrain.integrations.notices.EventNotice` into
one CloudEvents envelope, writes a delivery for every webhook that selects it into the outbox
(before anything is sent), and wakes the :class:`~.engine.DeliveryEngine`, which runs on an
asyncio loop in the service's own thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Sequence

from citybrain.config.outbound import WebhookSettings
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.notices import EventNotice
from citybrain.integrations.webhooks.engine import DeliveryEngine, RetryPolicy
from citybrain.integrations.webhooks.envelope import OutboundMessage, cloudevent, probe_message
from citybrain.integrations.webhooks.outbox import DeliveryOutbox
from citybrain.integrations.webhooks.sender import AttemptResult, WebhookSender
from citybrain.integrations.webhooks.targets import WebhookDirectory
from citybrain.netpolicy import NetworkPolicy

__all__ = ["WebhookService", "WebhookSettings", "retry_policy"]

log = logging.getLogger(__name__)


def retry_policy(settings: WebhookSettings) -> RetryPolicy:
    """The engine's backoff and give-up times from the ``webhooks`` settings."""
    return RetryPolicy(
        first_delay=settings.retry_first_seconds,
        max_delay=settings.retry_max_seconds,
        give_up_after=settings.give_up_hours * 3600,
    )


class WebhookService:
    """Fans events out to webhooks and runs their deliveries (thread-safe producers).

    Args:
        outbox: where deliveries are written before they are sent.
        directory: the webhooks.
        policy: the outbound network policy.
        metrics: the integrations' metrics.
        settings: timeouts, retries, bounds.
        source: the CloudEvents ``source`` (the server's public URL, or a URI naming it).
        base_url: the server's public URL (absolute snapshot URLs), if known.
        clock: POSIX time.
        sender: the HTTP side (default: one built from ``policy`` and ``settings``).
    """

    def __init__(
        self,
        outbox: DeliveryOutbox,
        directory: WebhookDirectory,
        *,
        policy: NetworkPolicy,
        metrics: OutboundMetrics,
        settings: WebhookSettings | None = None,
        source: str = "/citybrain",
        base_url: str | None = None,
        clock: Callable[[], float] = time.time,
        sender: WebhookSender | None = None,
    ) -> None:
        self.settings = settings or WebhookSettings()
        self._outbox = outbox
        self._directory = directory
        self._metrics = metrics
        self._source = source
        self._base_url = base_url
        self._clock = clock
        self._sender = sender or WebhookSender(policy, timeout=self.settings.timeout_seconds)
        self.engine = DeliveryEngine(
            outbox, directory, self._sender, retry=retry_policy(self.settings), metrics=metrics,
            clock=clock, concurrency=self.settings.concurrency,
        )  # fmt: skip
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="webhooks", daemon=True)

    def publish(self, notice: EventNotice) -> int:
        """Queue ``notice`` for every webhook that selects it; how many deliveries were queued
        (none for an event that holds bytes: images never leave as bytes)."""
        return self.publish_many([notice])

    def publish_many(self, notices: Sequence[EventNotice]) -> int:
        """:meth:`publish` for several notices in order, written to the outbox at once (one
        transaction where it is a database); how many deliveries were queued.

        An event that cannot be sent (bytes or NaN in it) is logged and left out.

        Raises:
            Whatever the outbox raises (the database is away): nothing was queued then.
        """
        everyone = self._directory.targets()
        items: list[tuple[int, OutboundMessage]] = []
        for notice in notices:
            targets = [t for t in everyone if t.selects(notice)]
            if not targets:
                continue
            try:
                message = cloudevent(notice, source=self._source, base_url=self._base_url)
            except (TypeError, ValueError) as exc:  # bytes or NaN in it: never sendable
                log.error("event %s %s not sent to webhooks: %s", notice.event_id, notice.phase,
                          exc)  # fmt: skip
                continue
            items += [(target.id, message) for target in targets]
        if not items:
            return 0
        ids = self._outbox.enqueue_many(items, now=self._clock())
        queued = 0
        for (webhook_id, message), delivery_id in zip(items, ids, strict=True):
            if delivery_id is None:
                self._metrics.webhook_dropped.labels(str(webhook_id)).inc()
                log.warning("webhook %d: outbox full, %s dropped", webhook_id, message.event_type)
            else:
                queued += 1
        if queued:
            self.engine.wake()
        return queued

    def send_test(self, webhook_id: int, timeout: float = 30.0) -> AttemptResult:
        """Send a ``citybrain.webhook.test`` message now, outside the outbox, and wait for it.

        Raises:
            KeyError: no such webhook.
            RuntimeError: the service is not running.
        """
        target = self._directory.target(webhook_id)
        if target is None:
            raise KeyError(webhook_id)
        if self._loop is None:
            raise RuntimeError("the webhook service is not running")
        message = probe_message(source=self._source, webhook_id=webhook_id)
        future = asyncio.run_coroutine_threadsafe(
            self._sender.send(
                target.id, target.url, target.secrets, message.message_id, message.body
            ),
            self._loop,
        )
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return AttemptResult(False, None, f"no result within {timeout:g} s", timeout)

    def start(self) -> None:
        """Start delivering (pending deliveries from before a restart included)."""
        self._thread.start()
        self._ready.wait(10)

    def close(self, timeout: float = 15.0) -> None:
        """Stop after the attempts under way; pending deliveries stay in the outbox."""
        self.engine.stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            self._loop = None
            loop.close()

    async def _serve(self) -> None:
        self._ready.set()
        try:
            await self.engine.run()
        finally:
            await self._sender.aclose()
