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
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.notices import EventNotice
from citybrain.integrations.webhooks.engine import DeliveryEngine, RetryPolicy
from citybrain.integrations.webhooks.envelope import cloudevent, probe_message
from citybrain.integrations.webhooks.outbox import DeliveryOutbox
from citybrain.integrations.webhooks.sender import AttemptResult, WebhookSender
from citybrain.integrations.webhooks.targets import WebhookDirectory
from citybrain.netpolicy import NetworkPolicy

__all__ = ["WebhookService", "WebhookSettings"]

log = logging.getLogger(__name__)


class WebhookSettings(BaseModel):
    """The ``webhooks`` section of the server settings (every field has a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, title="Attempt timeout",
        description="Seconds one attempt may take (connect, send, answer).",
    )  # fmt: skip
    retry_first_seconds: float = Field(
        default=1.0, gt=0, le=3600, title="First retry delay",
        description="Delays double from this after each failure, with jitter.",
    )  # fmt: skip
    retry_max_seconds: float = Field(default=600.0, gt=0, le=86400, title="Longest retry delay")
    give_up_hours: float = Field(
        default=24.0, gt=0, le=24 * 14, title="Give-up time",
        description="A delivery failing this long is given up and its webhook marked failing.",
    )  # fmt: skip
    concurrency: int = Field(
        default=16, ge=1, le=1024, title="Parallel webhooks",
        description="Webhooks attempted at once (each webhook's deliveries go one by one).",
    )  # fmt: skip
    max_pending: int = Field(
        default=100_000, ge=1, le=10_000_000, title="Queue bound per webhook",
        description="Pending deliveries per webhook; beyond it new ones are dropped and counted "
        "(citybrain_webhook_dropped_total).",
    )  # fmt: skip

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(
            first_delay=self.retry_first_seconds,
            max_delay=self.retry_max_seconds,
            give_up_after=self.give_up_hours * 3600,
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
            outbox, directory, self._sender, retry=self.settings.retry, metrics=metrics,
            clock=clock, concurrency=self.settings.concurrency,
        )  # fmt: skip
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="webhooks", daemon=True)

    def publish(self, notice: EventNotice) -> int:
        """Queue ``notice`` for every webhook that selects it; how many deliveries were queued.

        Raises:
            TypeError: the event holds bytes (images never leave as bytes).
        """
        targets = [t for t in self._directory.targets() if t.selects(notice)]
        if not targets:
            return 0
        message = cloudevent(notice, source=self._source, base_url=self._base_url)
        now = self._clock()
        queued = 0
        for target in targets:
            if self._outbox.enqueue(target.id, message, now=now) is None:
                self._metrics.webhook_dropped.labels(str(target.id)).inc()
                log.warning("webhook %d: outbox full, %s dropped", target.id, message.event_type)
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
