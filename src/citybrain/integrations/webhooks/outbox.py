"""The webhook outbox: deliveries written down before they are sent, in order per webhook.

:class:`DeliveryOutbox` is what the delivery engine needs. The durable implementation is a
store table (phase B: a ``webhook_deliveries`` row per delivery, so that pending deliveries
survive a restart); :class:`MemoryOutbox` implements the same contract in memory, for tests
and the benchmark.

The contract:

- :meth:`~DeliveryOutbox.enqueue` stores a pending delivery, or refuses it (``None``) when the
  webhook already has ``max_pending`` waiting: the loss is the caller's to count.
- :meth:`~DeliveryOutbox.heads` gives each webhook's *oldest* pending delivery (whether due or
  not): only it may be attempted, which keeps deliveries in order per webhook.
- An attempt ends in :meth:`~DeliveryOutbox.mark_delivered`, :meth:`~DeliveryOutbox.record_failure`
  (still pending, retried at ``next_attempt_at``) or :meth:`~DeliveryOutbox.mark_failed`
  (given up); :meth:`~DeliveryOutbox.expire` gives up the pending deliveries of a webhook that
  waited longer than the give-up time behind one that failed for all of it.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from citybrain.integrations.webhooks.envelope import OutboundMessage
from citybrain.records.webhook import DeliveryStatus

__all__ = ["Delivery", "DeliveryOutbox", "DeliveryStatus", "MemoryOutbox"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to one webhook, and how its attempts went (times are POSIX seconds).

    Attributes:
        id: the delivery's id; ids grow in enqueue order.
        webhook_id: the webhook.
        message_id: ``webhook-id`` and CloudEvents ``id`` (the same on every attempt).
        event_type: the CloudEvents type.
        body: the exact bytes to POST.
        event_id: the event it carries, if any.
        enqueued_at: when it was written down.
        attempts: attempts made so far.
        next_attempt_at: when it is due.
        status: pending, delivered or failed.
        last_status_code: the HTTP status of the latest attempt (``None``: no response).
        last_error: what went wrong in the latest attempt, in words (never the response body).
        last_attempt_at: when the latest attempt ended.
    """

    id: int
    webhook_id: int
    message_id: str
    event_type: str
    body: bytes
    enqueued_at: float
    attempts: int = 0
    next_attempt_at: float = 0.0
    status: DeliveryStatus = DeliveryStatus.PENDING
    last_status_code: int | None = None
    last_error: str | None = None
    last_attempt_at: float | None = None
    event_id: str | None = None


class DeliveryOutbox(Protocol):
    """Where deliveries wait (see the module docstring). Implementations are thread-safe."""

    def enqueue(self, webhook_id: int, message: OutboundMessage, *, now: float) -> int | None:
        """Store a pending delivery due at ``now``; its id, or ``None`` if the webhook's
        queue is full."""

    def enqueue_many(
        self, items: Sequence[tuple[int, OutboundMessage]], *, now: float
    ) -> list[int | None]:
        """:meth:`enqueue` for each ``(webhook_id, message)``, in order and at once (one
        transaction where the outbox is a database); the ids, ``None`` where refused."""

    def heads(self) -> Sequence[Delivery]:
        """The oldest pending delivery of every webhook that has one."""

    def mark_delivered(
        self, delivery_id: int, *, attempts: int, status_code: int, at: float
    ) -> None:
        """The receiver accepted it."""

    def record_failure(
        self,
        delivery_id: int,
        *,
        attempts: int,
        status_code: int | None,
        error: str,
        at: float,
        next_attempt_at: float,
    ) -> None:
        """An attempt failed; it stays pending, due again at ``next_attempt_at``."""

    def mark_failed(
        self, delivery_id: int, *, attempts: int, status_code: int | None, error: str, at: float
    ) -> None:
        """Given up after failing for the whole give-up time."""

    def expire(self, webhook_id: int, *, enqueued_before: float, error: str, at: float) -> int:
        """Give up every pending delivery of ``webhook_id`` enqueued before
        ``enqueued_before``; how many."""

    def purge(self, webhook_id: int) -> int:
        """Forget every delivery of a deleted webhook; how many were pending."""

    def pending_counts(self) -> dict[int, int]:
        """Pending deliveries per webhook."""


class MemoryOutbox:
    """:class:`DeliveryOutbox` in memory; keeps the last ``history`` finished deliveries of
    each webhook for inspection.

    Args:
        max_pending: pending deliveries per webhook at most.
        history: finished deliveries kept per webhook.
    """

    def __init__(self, *, max_pending: int = 100_000, history: int = 1000) -> None:
        self._max_pending = max_pending
        self._history_size = history
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[int, deque[Delivery]] = {}
        self._history: dict[int, deque[Delivery]] = {}

    def enqueue(self, webhook_id: int, message: OutboundMessage, *, now: float) -> int | None:
        with self._lock:
            queue = self._pending.setdefault(webhook_id, deque())
            if len(queue) >= self._max_pending:
                return None
            delivery = Delivery(
                id=next(self._ids), webhook_id=webhook_id, message_id=message.message_id,
                event_type=message.event_type, body=message.body, enqueued_at=now,
                next_attempt_at=now, event_id=message.event_id,
            )  # fmt: skip
            queue.append(delivery)
            return delivery.id

    def enqueue_many(
        self, items: Sequence[tuple[int, OutboundMessage]], *, now: float
    ) -> list[int | None]:
        return [self.enqueue(webhook_id, message, now=now) for webhook_id, message in items]

    def heads(self) -> Sequence[Delivery]:
        with self._lock:
            return [queue[0] for queue in self._pending.values() if queue]

    def mark_delivered(
        self, delivery_id: int, *, attempts: int, status_code: int, at: float
    ) -> None:
        self._finish(
            delivery_id, DeliveryStatus.DELIVERED, attempts=attempts, last_status_code=status_code,
            last_error=None, last_attempt_at=at,
        )  # fmt: skip

    def record_failure(
        self,
        delivery_id: int,
        *,
        attempts: int,
        status_code: int | None,
        error: str,
        at: float,
        next_attempt_at: float,
    ) -> None:
        with self._lock:
            for queue in self._pending.values():
                if queue and queue[0].id == delivery_id:
                    queue[0] = replace(
                        queue[0], attempts=attempts, last_status_code=status_code,
                        last_error=error, last_attempt_at=at, next_attempt_at=next_attempt_at,
                    )  # fmt: skip
                    return
        raise KeyError(f"delivery {delivery_id} is not at the head of a queue")

    def mark_failed(
        self, delivery_id: int, *, attempts: int, status_code: int | None, error: str, at: float
    ) -> None:
        self._finish(
            delivery_id, DeliveryStatus.FAILED, attempts=attempts, last_status_code=status_code,
            last_error=error, last_attempt_at=at,
        )  # fmt: skip

    def expire(self, webhook_id: int, *, enqueued_before: float, error: str, at: float) -> int:
        expired = 0
        with self._lock:
            queue = self._pending.get(webhook_id, deque())
            while queue and queue[0].enqueued_at < enqueued_before:
                gone = replace(queue.popleft(), status=DeliveryStatus.FAILED, last_error=error)
                self._remember(gone)
                expired += 1
        return expired

    def purge(self, webhook_id: int) -> int:
        with self._lock:
            self._history.pop(webhook_id, None)
            return len(self._pending.pop(webhook_id, ()))

    def pending_counts(self) -> dict[int, int]:
        with self._lock:
            return {wid: len(queue) for wid, queue in self._pending.items() if queue}

    def history(self, webhook_id: int) -> list[Delivery]:
        """The finished deliveries of a webhook (oldest first), then its pending ones."""
        with self._lock:
            done = list(self._history.get(webhook_id, ()))
            return done + list(self._pending.get(webhook_id, ()))

    def _finish(self, delivery_id: int, status: DeliveryStatus, **changes: object) -> None:
        with self._lock:
            for queue in self._pending.values():
                if queue and queue[0].id == delivery_id:
                    done = replace(queue.popleft(), status=status, **changes)  # type: ignore[arg-type]
                    self._remember(done)
                    return
        raise KeyError(f"delivery {delivery_id} is not at the head of a queue")

    def _remember(self, delivery: Delivery) -> None:
        kept = self._history.setdefault(delivery.webhook_id, deque(maxlen=self._history_size))
        kept.append(delivery)
