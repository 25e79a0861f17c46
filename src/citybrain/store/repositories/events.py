"""Events: search, stats, operator actions and retention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from citybrain.core.events import ENDED_BY, EndedBy
from citybrain.errors import StoreError
from citybrain.records import EventRecord, EventStat, EventStatus
from citybrain.store.repositories.event_views import (
    MAX_PAGE,
    EventPage,
    EventQuery,
    decode_cursor,
    encode_cursor,
)
from citybrain.store.schema import events
from citybrain.store.types import Bucket, time_bucket, utc, utcnow

__all__ = ["DEFAULT_COUNT_LIMIT", "EventRepo"]

#: Counting every match of a broad search over millions of rows costs more than the page itself.
DEFAULT_COUNT_LIMIT = 1_000


class EventRepo:
    """Event rows in one session (the caller commits). Writes from the engine go through
    :class:`citybrain.store.writer.EventWriter`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, *, event_id: str) -> EventRecord | None:
        """The event, or ``None`` if there is no such event."""
        row = self._session.execute(select(events).where(events.c.id == event_id)).first()
        return None if row is None else EventRecord.model_validate(row._mapping)

    def search(
        self,
        *,
        query: EventQuery,
        limit: int = 50,
        cursor: str | None = None,
        offset: int = 0,
        count_limit: int | None = DEFAULT_COUNT_LIMIT,
    ) -> EventPage:
        """Matching events, newest first, one page at a time.

        Args:
            query: the filters.
            limit: page size, 1 to :data:`MAX_PAGE`.
            cursor: ``next_cursor`` of the previous page (keyset paging: stable and fast at any
                depth); when given, ``offset`` must be 0.
            offset: rows to skip instead (for "page N" links).
            count_limit: stop counting matches here; ``None`` counts all.

        Raises:
            StoreError: ``limit`` is out of range, or both ``cursor`` and ``offset`` are given.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise StoreError(f"page size {limit} is out of range 1..{MAX_PAGE}")
        if cursor is not None and offset:
            raise StoreError("pass either a cursor or an offset, not both")
        if query.matches_nothing:
            return EventPage(items=[], total=0, total_exact=True, offset=offset)
        clauses = query.clauses()
        page = select(events).where(*clauses)
        if cursor is not None:
            started_at, event_id = decode_cursor(cursor)
            page = page.where(tuple_(events.c.started_at, events.c.id) < (started_at, event_id))
        page = page.order_by(events.c.started_at.desc(), events.c.id.desc())
        rows = self._session.execute(page.offset(offset).limit(limit + 1)).all()
        items = [EventRecord.model_validate(row._mapping) for row in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        total, exact = self._count(clauses, count_limit)
        return EventPage(
            items=items,
            total=total,
            total_exact=exact,
            next_cursor=None if last is None else encode_cursor(last.started_at, last.id),
            offset=offset,
        )

    def _count(self, clauses: list[Any], count_limit: int | None) -> tuple[int, bool]:
        matching: Select[Any] = select(func.count()).select_from(events).where(*clauses)
        if count_limit is None:
            return int(self._session.scalar(matching) or 0), True
        capped = select(events.c.id).where(*clauses).limit(count_limit + 1).subquery()
        total = int(self._session.scalar(select(func.count()).select_from(capped)) or 0)
        return min(total, count_limit), total <= count_limit

    def stats(self, *, query: EventQuery, bucket: Bucket = "hour") -> list[EventStat]:
        """Event counts per camera, kind and UTC hour (or day), oldest bucket first."""
        if query.matches_nothing:
            return []
        c = events.c
        start = time_bucket(bucket, c.started_at).label("bucket_start")
        rows = self._session.execute(
            select(c.camera_id, c.kind, start, func.count().label("count"))
            .where(*query.clauses())
            .group_by(c.camera_id, c.kind, start)
            .order_by(start, c.camera_id, c.kind)
        )
        return [EventStat.model_validate(row._mapping) for row in rows]

    def acknowledge(
        self, *, event_id: str, username: str, note: str | None = None, at: datetime | None = None
    ) -> EventRecord | None:
        """Mark an open event acknowledged, with an optional note; ``None`` if there is no such
        event.

        Raises:
            StoreError: the event is not open.
        """
        event = self._locked(event_id)
        if event is None:
            return None
        if event.status != EventStatus.OPEN:
            raise StoreError(
                f"event {event_id} is {event.status}; only an open event can be acknowledged"
            )
        changes: dict[str, Any] = {
            "status": EventStatus.ACKNOWLEDGED.value,
            "acknowledged_by": username,
            "acknowledged_at": utc(at) if at is not None else utcnow(),
        }
        if note is not None:
            changes["note"] = note
        return self._set(event_id, **changes)

    def resolve(
        self, *, event_id: str, username: str, note: str | None = None, at: datetime | None = None
    ) -> EventRecord | None:
        """Mark an open or acknowledged event resolved; ``None`` if there is no such event.

        Raises:
            StoreError: the event is already resolved.
        """
        event = self._locked(event_id)
        if event is None:
            return None
        if event.status == EventStatus.RESOLVED:
            raise StoreError(f"event {event_id} is already resolved")
        changes: dict[str, Any] = {
            "status": EventStatus.RESOLVED.value,
            "resolved_by": username,
            "resolved_at": utc(at) if at is not None else utcnow(),
        }
        if note is not None:
            changes["note"] = note
        return self._set(event_id, **changes)

    def delete_events_before(self, *, cutoff: datetime) -> list[str]:
        """Delete events that started before ``cutoff``.

        Returns:
            The snapshot paths of the deleted events, so that the caller deletes the files too.
        """
        gone = delete(events).where(events.c.started_at < utc(cutoff)).returning(events.c.snapshot)
        return [path for path in self._session.scalars(gone) if path]

    def end_open(self, *, reason: EndedBy, at: datetime | None = None) -> list[str]:
        """End every event still open (``ended_at`` null) at ``at`` (default now), marking
        ``details["ended_by"]`` ``reason``; returns their ids.

        For a server starting after a crash: nothing will ever end what the previous run left
        open. Operator fields are not touched.
        """
        when = utc(at) if at is not None else utcnow()
        rows = self._session.execute(
            select(events.c.id, events.c.details, events.c.started_at)
            .where(events.c.ended_at.is_(None))
            .with_for_update()
        ).all()
        for row in rows:
            self._session.execute(
                update(events)
                .where(events.c.id == row.id)
                .values(
                    ended_at=max(when, utc(row.started_at)),
                    details={**(row.details or {}), ENDED_BY: reason.value},
                )
            )
        return [row.id for row in rows]

    def _locked(self, event_id: str) -> EventRecord | None:
        # FOR UPDATE on PostgreSQL: two operators acting at once see each other's change.
        row = self._session.execute(
            select(events).where(events.c.id == event_id).with_for_update()
        ).first()
        return None if row is None else EventRecord.model_validate(row._mapping)

    def _set(self, event_id: str, **changes: Any) -> EventRecord:
        stmt = update(events).where(events.c.id == event_id).values(changes).returning(*events.c)
        return EventRecord.model_validate(self._session.execute(stmt).one()._mapping)
