"""The webhook engine's outbox and directory in the store (the durable side of webhooks).

:class:`SqlOutbox` implements :class:`~citybrain.integrations.webhooks.DeliveryOutbox` on the
``webhook_deliveries`` table: a delivery is a row before anything is sent, so pending
deliveries survive a restart (the engine picks up the heads again and resumes each webhook's
backoff from its head's attempts). :class:`SqlDirectory` implements
:class:`~citybrain.integrations.webhooks.WebhookDirectory` on the ``webhooks`` table, cached,
since it is read for every event.

One engine per database: several servers on one PostgreSQL would each attempt the same heads
(at least once still holds, in order too, but receivers would see more repeats).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from citybrain.integrations.webhooks import Delivery, OutboundMessage, WebhookTarget
from citybrain.records import DeliveryStatus, WebhookDeliveryRow, WebhookRow
from citybrain.store import DeliveryRepo, Store, UserRepo, WebhookRepo

__all__ = ["SqlDirectory", "SqlOutbox"]

_ERROR_CHARS = 500
_COUNTS_EVERY_S = 10.0  # how often the per-webhook pending counts are read again
_READ_EVERY_S = 10.0  # how often the pending deliveries are read again regardless
_TARGETS_EVERY_S = 5.0  # how often the webhooks are read again without being told


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id, webhook_id=row.webhook_id, message_id=row.message_id,
        event_type=row.event_type, body=row.body, enqueued_at=row.enqueued_at.timestamp(),
        attempts=row.attempts, next_attempt_at=row.next_attempt_at.timestamp(),
        status=row.status, last_status_code=row.last_status_code, last_error=row.last_error,
        last_attempt_at=None if row.last_attempt_at is None else row.last_attempt_at.timestamp(),
        event_id=row.event_id,
    )  # fmt: skip


class SqlOutbox:
    """The outbox in the store (a :class:`~citybrain.integrations.webhooks.DeliveryOutbox`).

    Every change is written to the database first. Reads are cached: the engine asks for the
    heads after every attempt, so the oldest ``ahead`` pending deliveries of each webhook are
    read at once and kept in order in memory; writes through this outbox keep that prefix
    true, and it is read again when one runs out, after an expiry or purge, on an error, and
    every few seconds regardless. (One engine per database: see the module docstring.)

    Args:
        store: the database.
        max_pending: pending deliveries per webhook at most; beyond it ``enqueue`` refuses.
        ahead: pending deliveries read ahead per webhook.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_pending: int = 100_000,
        ahead: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._max_pending = max_pending
        self._per_webhook = ahead
        self._clock = clock
        self._lock = threading.RLock()
        # webhook -> its oldest pending deliveries, in order; `_whole` holds the webhooks whose
        # every pending delivery is in there (new ones may be appended to those only).
        self._queues: dict[int, deque[Delivery]] = {}
        self._whole: set[int] = set()
        self._read_at: float | None = None
        # Pending counts for the bound: read now and then, kept up to date in between.
        self._pending: dict[int, int] = {}
        self._counted_at: float | None = None

    def enqueue(self, webhook_id: int, message: OutboundMessage, *, now: float) -> int | None:
        return self.enqueue_many([(webhook_id, message)], now=now)[0]

    def enqueue_many(
        self, items: Sequence[tuple[int, OutboundMessage]], *, now: float
    ) -> list[int | None]:
        with self._lock:
            counts = self._counts()
            accepted: list[bool] = []
            for webhook_id, _ in items:
                accepted.append(counts.get(webhook_id, 0) < self._max_pending)
                if accepted[-1]:
                    counts[webhook_id] = counts.get(webhook_id, 0) + 1
            chosen = [item for item, ok in zip(items, accepted, strict=True) if ok]
            rows = [
                {
                    "webhook_id": webhook_id, "message_id": message.message_id,
                    "event_type": message.event_type, "event_id": message.event_id,
                    "body": message.body, "enqueued_at": _at(now),
                }
                for webhook_id, message in chosen
            ]  # fmt: skip
            try:
                with self._store.session() as session:
                    ids = DeliveryRepo(session).add(rows)
            except Exception:
                self._forget_all()  # our counts went up for nothing
                raise
            for (webhook_id, message), delivery_id in zip(chosen, ids, strict=True):
                self._remember(webhook_id, message, delivery_id, now)
        found = iter(ids)
        return [next(found) if ok else None for ok in accepted]

    def heads(self) -> Sequence[Delivery]:
        with self._lock:
            now = self._clock()
            exhausted = any(not q and w not in self._whole for w, q in self._queues.items())
            if self._read_at is None or exhausted or now - self._read_at >= _READ_EVERY_S:
                self._read(now)
            return [queue[0] for queue in self._queues.values() if queue]

    def mark_delivered(
        self, delivery_id: int, *, attempts: int, status_code: int, at: float
    ) -> None:
        self._settle(
            delivery_id, True, status=DeliveryStatus.DELIVERED.value, attempts=attempts,
            last_status_code=status_code, last_error=None, last_attempt_at=_at(at),
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
        self._settle(
            delivery_id, False, attempts=attempts, last_status_code=status_code,
            last_error=error[:_ERROR_CHARS], last_attempt_at=_at(at),
            next_attempt_at=_at(next_attempt_at),
        )  # fmt: skip

    def mark_failed(
        self, delivery_id: int, *, attempts: int, status_code: int | None, error: str, at: float
    ) -> None:
        self._settle(
            delivery_id, True, status=DeliveryStatus.FAILED.value, attempts=attempts,
            last_status_code=status_code, last_error=error[:_ERROR_CHARS],
            last_attempt_at=_at(at),
        )  # fmt: skip

    def expire(self, webhook_id: int, *, enqueued_before: float, error: str, at: float) -> int:
        try:
            with self._store.session() as session:
                return DeliveryRepo(session).expire(
                    webhook_id=webhook_id, enqueued_before=_at(enqueued_before),
                    error=error[:_ERROR_CHARS],
                )  # fmt: skip
        finally:
            self._forget_all()

    def purge(self, webhook_id: int) -> int:
        try:
            with self._store.session() as session:
                return DeliveryRepo(session).purge(webhook_id=webhook_id)
        finally:
            self._forget_all()

    def pending_counts(self) -> dict[int, int]:
        with self._store.session() as session:
            counts = DeliveryRepo(session).pending_counts()
        with self._lock:
            self._pending, self._counted_at = dict(counts), self._clock()
        return counts

    # -- the cache ---------------------------------------------------------------------------

    def _settle(self, delivery_id: int, finished: bool, **changes: Any) -> None:
        try:
            with self._store.session() as session:
                DeliveryRepo(session).settle(delivery_id=delivery_id, changes=changes)
        except Exception:
            self._forget_all()
            raise
        with self._lock:
            webhook_id = next(
                (w for w, q in self._queues.items() if q and q[0].id == delivery_id), None
            )
            if webhook_id is None:  # not a head we know (its webhook went, the cache was dropped)
                self._read_at = None
                return
            queue = self._queues[webhook_id]
            if not finished:
                times = {k: v.timestamp() for k, v in changes.items() if isinstance(v, datetime)}
                queue[0] = replace(queue[0], **{**changes, **times})
                return
            queue.popleft()
            self._pending[webhook_id] = max(0, self._pending.get(webhook_id, 1) - 1)

    def _remember(
        self, webhook_id: int, message: OutboundMessage, delivery_id: int, now: float
    ) -> None:
        """A delivery just written: append it where the cache holds all of its webhook's."""
        if self._read_at is None:
            return
        if webhook_id not in self._queues:
            self._queues[webhook_id] = deque()
            self._whole.add(webhook_id)  # none pending was known: this is the only one
        if webhook_id in self._whole:
            delivery = Delivery(
                id=delivery_id, webhook_id=webhook_id, message_id=message.message_id,
                event_type=message.event_type, body=message.body, enqueued_at=now,
                next_attempt_at=now, event_id=message.event_id,
            )  # fmt: skip
            self._queues[webhook_id].append(delivery)

    def _read(self, now: float) -> None:
        with self._store.session() as session:
            rows = DeliveryRepo(session).ahead(per_webhook=self._per_webhook)
        queues: dict[int, deque[Delivery]] = {}
        for row in rows:
            queues.setdefault(row.webhook_id, deque()).append(_delivery(row))
        self._queues = queues
        self._whole = {w for w, q in queues.items() if len(q) < self._per_webhook}
        self._read_at = now

    def _counts(self) -> dict[int, int]:
        """The pending counts (read again when stale)."""
        now = self._clock()
        if self._counted_at is None or now - self._counted_at >= _COUNTS_EVERY_S:
            with self._store.session() as session:
                self._pending = DeliveryRepo(session).pending_counts()
            self._counted_at = now
        return self._pending

    def _forget_all(self) -> None:
        with self._lock:
            self._read_at = self._counted_at = None


class SqlDirectory:
    """The webhooks in the store (a :class:`~citybrain.integrations.webhooks.WebhookDirectory`).

    The targets are cached: read again when :meth:`changed` is called (the API does after every
    change), every few seconds regardless (a user's camera limit changed), and whenever the
    engine asks for a webhook the cache does not know (one created a moment ago).

    Args:
        store: the database.
        clock: monotonic seconds.
        wall: POSIX time (whether a rotated secret still signs).
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._targets: dict[int, WebhookTarget] = {}
        self._read_at: float | None = None

    def changed(self) -> None:
        """A webhook (or a user, or a camera) changed: read them again at the next look."""
        with self._lock:
            self._read_at = None

    def targets(self) -> Sequence[WebhookTarget]:
        return list(self._current().values())

    def target(self, webhook_id: int) -> WebhookTarget | None:
        found = self._current().get(webhook_id)
        if found is None:  # created since the last read? Never purge a webhook on a stale cache
            self.changed()
            found = self._current().get(webhook_id)
        return found

    def set_failing(self, webhook_id: int, since: float | None) -> None:
        with self._store.session() as session:
            WebhookRepo(session).set_failing(
                webhook_id=webhook_id, since=None if since is None else _at(since)
            )
        self.changed()

    def _current(self) -> dict[int, WebhookTarget]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= _TARGETS_EVERY_S:
                self._targets = self._read()
                self._read_at = now
            return self._targets

    def _read(self) -> dict[int, WebhookTarget]:
        with self._store.session() as session:
            rows = WebhookRepo(session).list()
            owners = {
                user.id: user.allowed_camera_ids
                for user in UserRepo(session).list()
                if user.id in {row.owner_id for row in rows}
            }
        return {row.id: self._target(row, owners) for row in rows}

    def _target(self, row: WebhookRow, owners: dict[int, frozenset[int] | None]) -> WebhookTarget:
        secrets: tuple[str, ...] = (row.secret,)
        until = row.previous_secret_until
        if row.previous_secret and until is not None and until.timestamp() > self._wall():
            secrets = (row.secret, row.previous_secret)
        return WebhookTarget(
            id=row.id, url=row.url, secrets=secrets, enabled=row.enabled,
            kinds=None if row.kinds is None else frozenset(row.kinds), cameras=row.selected_cameras,
            owner_cameras=owners.get(row.owner_id, frozenset()),
            failing_since=None if row.failing_since is None else row.failing_since.timestamp(),
        )  # fmt: skip
