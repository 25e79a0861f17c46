"""The delivery engine: attempts each webhook's oldest pending delivery when it is due.

- **In order per webhook**: only the head of a webhook's queue is attempted, one attempt at a
  time; the next delivery waits until the head is delivered or given up.
- **At least once**: a delivery leaves the outbox only on a 2xx (the receiver may see it again
  if its 2xx is lost, with the same ``webhook-id`` to de-duplicate on).
- **Exponential backoff with jitter**: after the n-th consecutive failure of a webhook the
  head is due again in ``first_delay * 2**(n-1)`` seconds (at most ``max_delay``), each delay
  drawn from its upper half; the last retry falls at the give-up time.
- **Give up after 24 h**: a delivery that still fails once it is ``give_up_after`` old is
  marked failed, as is every delivery queued behind it for as long (their receiver failed all
  that time); the webhook is marked failing until its next success. Backoff belongs to the
  webhook, not the delivery: after a give-up the next delivery waits for the next retry time,
  so a failing receiver sees one attempt per ``max_delay`` however long the backlog.

Webhooks are attempted side by side, at most ``concurrency`` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from citybrain.integrations.backoff import backoff_delay
from citybrain.integrations.metrics import OutboundMetrics
from citybrain.integrations.webhooks.outbox import Delivery, DeliveryOutbox
from citybrain.integrations.webhooks.sender import AttemptResult, WebhookSender
from citybrain.integrations.webhooks.targets import WebhookDirectory, WebhookTarget

__all__ = ["DeliveryEngine", "RetryPolicy"]

log = logging.getLogger(__name__)

_QUEUED_EVERY_S = 1.0  # how often the queued-deliveries gauge is refreshed
_OUTBOX_RETRY_S = 2.0  # how soon an outbox that could not be read is tried again


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again, and when to give up (seconds)."""

    first_delay: float = 1.0
    max_delay: float = 600.0
    give_up_after: float = 24 * 3600.0

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (>= 1)."""
        return backoff_delay(failures, self.first_delay, self.max_delay, rng)


class DeliveryEngine:
    """Runs deliveries out of an outbox (see the module docstring); lives on one event loop.

    Args:
        outbox: where deliveries wait.
        directory: the webhooks.
        sender: makes the attempts.
        retry: backoff and give-up times.
        metrics: delivered, failed attempts, given up, queued, failing, latency.
        clock: POSIX time.
        rng: jitter source (``random.random``).
        concurrency: webhooks attempted at once at most.
        poll_seconds: longest sleep between looks at the outbox (deliveries written by
            another process are noticed at least this often).
    """

    def __init__(
        self,
        outbox: DeliveryOutbox,
        directory: WebhookDirectory,
        sender: WebhookSender,
        *,
        retry: RetryPolicy | None = None,
        metrics: OutboundMetrics | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        concurrency: int = 16,
        poll_seconds: float = 5.0,
    ) -> None:
        self._outbox = outbox
        self._directory = directory
        self._sender = sender
        self._retry = retry or RetryPolicy()
        self._metrics = metrics or OutboundMetrics()
        self._clock = clock
        self._rng = rng
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._chores: set[asyncio.Task[None]] = set()
        self._streak: dict[int, int] = {}  # consecutive failures per webhook
        # A failing webhook's next attempt, whichever delivery is at its head by then: giving
        # one up must not make the next one due at once (a backlog would hammer the receiver).
        self._not_before: dict[int, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._stopping = False
        self._queued_at = 0.0

    def wake(self) -> None:
        """Look at the outbox now (call from any thread after an enqueue)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wakeup.set)

    def stop(self) -> None:
        """Ask :meth:`run` to return (from any thread); attempts under way finish first."""
        self._stopping = True
        self.wake()

    async def run(self) -> None:
        """Deliver until :meth:`stop`."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        problem: str | None = None
        try:
            while not self._stopping:
                try:
                    wait = self.dispatch()
                    problem = None
                except Exception as exc:  # the database is away: deliveries wait in it
                    if str(exc) != problem:
                        log.warning("webhooks: cannot read the outbox (%s); retrying", exc)
                    problem, wait = str(exc), min(self._poll, _OUTBOX_RETRY_S)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wakeup.wait()
                self._wakeup.clear()
        finally:
            if self._busy or self._chores:
                await asyncio.gather(*self._busy.values(), *self._chores, return_exceptions=True)
            self._loop = None

    async def deliver_due(self) -> float:
        """One pass: attempt every due head and wait for those attempts; seconds to the next."""
        wait = self.dispatch()
        while self._busy or self._chores:
            await asyncio.gather(*self._busy.values(), *self._chores, return_exceptions=True)
        return wait

    def dispatch(self) -> float:
        """Start an attempt for every due head whose webhook is idle; seconds to the next due."""
        now = self._clock()
        wait = self._poll
        for head in sorted(self._outbox.heads(), key=lambda d: d.next_attempt_at):
            if head.webhook_id in self._busy:
                continue
            target = self._directory.target(head.webhook_id)
            if target is None:  # deleted: its deliveries and its connections go with it
                self._outbox.purge(head.webhook_id)
                self._metrics.forget_webhook(head.webhook_id)
                self._background(self._sender.forget(head.webhook_id))
                continue
            if not target.enabled:
                continue
            due = max(head.next_attempt_at, self._not_before.get(head.webhook_id, 0.0))
            if due > now:
                wait = min(wait, due - now)
                continue
            if len(self._busy) >= self._concurrency:
                break  # a finishing attempt wakes us
            task = asyncio.get_running_loop().create_task(self._attempt(head, target))
            self._busy[head.webhook_id] = task
        self._refresh_queued(now)
        return max(wait, 0.0)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._chores.add(task)  # keep a reference until it is done
        task.add_done_callback(self._chores.discard)

    async def _attempt(self, delivery: Delivery, target: WebhookTarget) -> None:
        try:
            result = await self._sender.send(
                target.id, target.url, target.secrets, delivery.message_id, delivery.body
            )
            self._settle(delivery, target, result)
        except Exception:  # a bug must not stop deliveries to every other webhook
            log.exception("webhook %d: delivery %d failed unexpectedly", target.id, delivery.id)
        finally:
            self._busy.pop(target.id, None)
            if self._wakeup is not None:
                self._wakeup.set()

    def _settle(self, delivery: Delivery, target: WebhookTarget, result: AttemptResult) -> None:
        now = self._clock()
        attempts = delivery.attempts + 1
        label = str(target.id)
        if result.ok:
            assert result.status_code is not None
            self._outbox.mark_delivered(
                delivery.id, attempts=attempts, status_code=result.status_code, at=now
            )
            self._streak.pop(target.id, None)
            self._not_before.pop(target.id, None)
            self._metrics.webhook_delivered.labels(label).inc()
            self._metrics.webhook_latency.observe(max(0.0, now - delivery.enqueued_at))
            if target.failing_since is not None:
                self._directory.set_failing(target.id, None)
                self._metrics.webhook_failing.labels(label).set(0)
                log.info("webhook %d: delivering again", target.id)
            return
        self._metrics.webhook_attempts_failed.labels(label).inc()
        error = result.error or "failed"
        # The webhook's failures in a row (after a restart: the head's attempts so far).
        streak = max(self._streak.get(target.id, 0), delivery.attempts) + 1
        self._streak[target.id] = streak
        retry_at = now + self._retry.delay(streak, self._rng)
        deadline = delivery.enqueued_at + self._retry.give_up_after
        if now >= deadline:
            self._not_before[target.id] = retry_at
            self._give_up(delivery, target, result, attempts, now)
            return
        due = self._not_before[target.id] = min(retry_at, deadline)
        self._outbox.record_failure(
            delivery.id, attempts=attempts, status_code=result.status_code, error=error, at=now,
            next_attempt_at=due,
        )  # fmt: skip

    def _give_up(
        self,
        delivery: Delivery,
        target: WebhookTarget,
        result: AttemptResult,
        attempts: int,
        now: float,
    ) -> None:
        hours = self._retry.give_up_after / 3600
        error = f"{result.error or 'failed'}; gave up after {hours:g} h"
        self._outbox.mark_failed(
            delivery.id, attempts=attempts, status_code=result.status_code, error=error, at=now
        )
        behind = self._outbox.expire(
            target.id, enqueued_before=now - self._retry.give_up_after, at=now,
            error=f"receiver failing for {hours:g} h: not attempted",
        )  # fmt: skip
        self._metrics.webhook_failed.labels(str(target.id)).inc(1 + behind)
        if target.failing_since is None:
            self._directory.set_failing(target.id, now)
            self._metrics.webhook_failing.labels(str(target.id)).set(1)
            log.warning(
                "webhook %d marked failing: deliveries failed for %g h (%s); %d given up",
                target.id, hours, result.error, 1 + behind,
            )  # fmt: skip

    def _refresh_queued(self, now: float) -> None:
        if now - self._queued_at < _QUEUED_EVERY_S:
            return
        self._queued_at = now
        counts = self._outbox.pending_counts()
        for target in self._directory.targets():
            self._metrics.webhook_queued.labels(str(target.id)).set(counts.get(target.id, 0))
