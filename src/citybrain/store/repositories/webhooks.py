"""Webhooks and their deliveries (the outbox the delivery engine works from)."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from types import EllipsisType
from typing import Any

from sqlalchemy import Row, and_, delete, func, insert, select, update
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.records import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryRow,
    WebhookFields,
    WebhookRow,
)
from citybrain.store.schema import cameras, webhook_cameras, webhook_deliveries, webhooks
from citybrain.store.types import utcnow

__all__ = ["DeliveryRepo", "WebhookRepo"]

#: The fields a change may touch (what an admin sets), besides the cameras and the secret.
SETTABLE = frozenset(WebhookFields.model_fields)
_PENDING = DeliveryStatus.PENDING.value
_d = webhook_deliveries.c


class WebhookRepo:
    """Webhook rows in one session (the caller commits). Rows carry the signing secrets:
    views shown to people leave them out."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(
        self,
        fields: WebhookFields,
        *,
        owner_id: int,
        secret: str,
        camera_ids: Collection[int] | None = None,
    ) -> WebhookRow:
        """Add a webhook, limited to ``camera_ids`` when given (``None``: every camera).

        Raises:
            StoreError: a camera id or the owner does not exist.
        """
        now = utcnow()
        values = fields.model_dump() | {
            "owner_id": owner_id, "secret": secret, "camera_filter": camera_ids is not None,
            "created_at": now, "updated_at": now,
        }  # fmt: skip
        stmt = insert(webhooks).values(values).returning(webhooks.c.id)
        webhook_id = int(self._session.execute(stmt).scalar_one())
        self._set_cameras(webhook_id, camera_ids or ())
        created = self.get(webhook_id=webhook_id)
        assert created is not None
        return created

    def get(self, *, webhook_id: int) -> WebhookRow | None:
        """The webhook, or ``None``."""
        found = self.list(webhook_ids=[webhook_id])
        return found[0] if found else None

    def list(
        self, *, owner_id: int | None = None, webhook_ids: Iterable[int] | None = None
    ) -> builtins.list[WebhookRow]:
        """Webhooks by id, of one owner when given."""
        query = select(webhooks).order_by(webhooks.c.id)
        if owner_id is not None:
            query = query.where(webhooks.c.owner_id == owner_id)
        if webhook_ids is not None:
            query = query.where(webhooks.c.id.in_(sorted(webhook_ids)))
        rows = self._session.execute(query).all()
        links = select(webhook_cameras).where(
            webhook_cameras.c.webhook_id.in_([row.id for row in rows])
        )
        chosen: dict[int, set[int]] = {}
        for link in self._session.execute(links):
            chosen.setdefault(link.webhook_id, set()).add(link.camera_id)
        return [_webhook(row, chosen.get(row.id, set())) for row in rows]

    def update(
        self,
        *,
        webhook_id: int,
        changes: Mapping[str, Any],
        camera_ids: Collection[int] | EllipsisType | None = ...,
    ) -> WebhookRow | None:
        """Change some fields, and the cameras when ``camera_ids`` is given (``None``: every
        camera again); ``None`` if there is no such webhook.

        Raises:
            StoreError: a field is not one an admin sets, or a camera id does not exist.
        """
        unknown = set(changes) - SETTABLE
        if unknown:
            raise StoreError(f"unknown webhook field(s) {sorted(unknown)}")
        values = {**changes, "updated_at": utcnow()}
        if camera_ids is not ...:
            values["camera_filter"] = camera_ids is not None
        if not self._update(webhook_id, values):
            return None
        if camera_ids is not ...:
            self._session.execute(
                delete(webhook_cameras).where(webhook_cameras.c.webhook_id == webhook_id)
            )
            self._set_cameras(webhook_id, camera_ids or ())
        return self.get(webhook_id=webhook_id)

    def rotate_secret(
        self, *, webhook_id: int, secret: str, previous_until: datetime | None
    ) -> bool:
        """Sign with ``secret`` from now on; the old one signs too until ``previous_until``
        (``None``: not at all). Whether there is such a webhook."""
        current = self._session.execute(
            select(webhooks.c.secret).where(webhooks.c.id == webhook_id)
        ).scalar_one_or_none()
        if current is None:
            return False
        return self._update(
            webhook_id,
            {
                "secret": secret, "previous_secret": current if previous_until else None,
                "previous_secret_until": previous_until, "updated_at": utcnow(),
            },
        )  # fmt: skip

    def set_failing(self, *, webhook_id: int, since: datetime | None) -> None:
        """Mark the webhook failing since ``since``, or healthy again (``None``)."""
        self._update(webhook_id, {"failing_since": since})

    def delete(self, *, webhook_id: int) -> bool:
        """Delete a webhook with its deliveries; whether there was one."""
        gone = delete(webhooks).where(webhooks.c.id == webhook_id).returning(webhooks.c.id)
        return self._session.execute(gone).first() is not None

    def _update(self, webhook_id: int, values: Mapping[str, Any]) -> bool:
        stmt = update(webhooks).where(webhooks.c.id == webhook_id).values(values)
        return self._session.execute(stmt.returning(webhooks.c.id)).first() is not None

    def _set_cameras(self, webhook_id: int, camera_ids: Collection[int]) -> None:
        wanted = set(camera_ids)
        if not wanted:
            return
        known = set(self._session.scalars(select(cameras.c.id).where(cameras.c.id.in_(wanted))))
        if missing := wanted - known:
            raise StoreError(f"unknown camera id(s) {sorted(missing)}")
        rows = [{"webhook_id": webhook_id, "camera_id": camera_id} for camera_id in sorted(wanted)]
        self._session.execute(insert(webhook_cameras), rows)


def _webhook(row: Row[Any], camera_ids: Collection[int]) -> WebhookRow:
    return WebhookRow.model_validate({**row._mapping, "camera_ids": frozenset(camera_ids)})


class DeliveryRepo:
    """Delivery rows in one session (the caller commits): the outbox's reads and writes."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, rows: Sequence[Mapping[str, Any]]) -> builtins.list[int]:
        """Insert pending deliveries (``webhook_id``, ``message_id``, ``event_type``,
        ``event_id``, ``body``, ``enqueued_at``), due at once; their ids, in order."""
        if not rows:
            return []
        values = [
            {**row, "status": _PENDING, "attempts": 0, "next_attempt_at": row["enqueued_at"]}
            for row in rows
        ]
        if len(values) == 1:  # the common case: one statement, no ordering question
            stmt = insert(webhook_deliveries).values(values[0]).returning(_d.id)
            return [int(self._session.execute(stmt).scalar_one())]
        ids = self._session.execute(
            insert(webhook_deliveries).returning(_d.id, sort_by_parameter_order=True), values
        ).scalars()
        return [int(i) for i in ids]

    def ahead(self, *, per_webhook: int) -> builtins.list[WebhookDeliveryRow]:
        """The oldest ``per_webhook`` pending deliveries of every webhook, by webhook and id
        (the first of each is the one to attempt: deliveries go in order)."""
        ranked = (
            select(
                _d.id,
                func.row_number().over(partition_by=_d.webhook_id, order_by=_d.id).label("rank"),
            )
            .where(_d.status == _PENDING)
            .subquery()
        )
        query = (
            select(webhook_deliveries)
            .join(ranked, _d.id == ranked.c.id)
            .where(ranked.c.rank <= per_webhook)
            .order_by(_d.webhook_id, _d.id)
        )
        return [WebhookDeliveryRow.model_validate(r._mapping) for r in self._session.execute(query)]

    def settle(self, *, delivery_id: int, changes: Mapping[str, Any]) -> bool:
        """Record how an attempt went (status, attempts, times, code, error) on a pending
        delivery; whether it was still pending."""
        stmt = (
            update(webhook_deliveries)
            .where(and_(_d.id == delivery_id, _d.status == _PENDING))
            .values(changes)
            .returning(_d.id)
        )
        return self._session.execute(stmt).first() is not None

    def expire(self, *, webhook_id: int, enqueued_before: datetime, error: str) -> int:
        """Give up every pending delivery of ``webhook_id`` enqueued before the time; how many."""
        stmt = (
            update(webhook_deliveries)
            .where(
                _d.webhook_id == webhook_id,
                _d.status == _PENDING,
                _d.enqueued_at < enqueued_before,
            )
            .values(status=DeliveryStatus.FAILED.value, last_error=error)
        )
        return int(self._session.execute(stmt).rowcount)  # type: ignore[attr-defined]

    def purge(self, *, webhook_id: int) -> int:
        """Delete every delivery of a webhook; how many were pending."""
        pending = self.pending_counts().get(webhook_id, 0)
        self._session.execute(delete(webhook_deliveries).where(_d.webhook_id == webhook_id))
        return pending

    def pending_counts(self) -> dict[int, int]:
        """Pending deliveries per webhook."""
        query = (
            select(_d.webhook_id, func.count()).where(_d.status == _PENDING).group_by(_d.webhook_id)
        )
        return {int(w): int(n) for w, n in self._session.execute(query)}

    def page(
        self,
        *,
        webhook_id: int,
        status: DeliveryStatus | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> builtins.list[WebhookDelivery]:
        """A webhook's deliveries, newest first, older than ``before_id`` when given."""
        query = select(*(c for c in webhook_deliveries.c if c.name != "body")).where(
            _d.webhook_id == webhook_id
        )
        if status is not None:
            query = query.where(_d.status == status.value)
        if before_id is not None:
            query = query.where(_d.id < before_id)
        rows = self._session.execute(query.order_by(_d.id.desc()).limit(limit))
        return [WebhookDelivery.model_validate(row._mapping) for row in rows]

    def delete_finished_before(self, *, cutoff: datetime) -> int:
        """Delete delivered and given-up deliveries enqueued before ``cutoff`` (retention);
        pending ones stay (they are never older than the give-up time)."""
        stmt = delete(webhook_deliveries).where(_d.status != _PENDING, _d.enqueued_at < cutoff)
        return int(self._session.execute(stmt).rowcount)  # type: ignore[attr-defined]
