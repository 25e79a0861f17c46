"""Events: search, stats, operator actions and retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, func, select, tuple_
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.store.models import EventRow, EventStatus, utcnow
from citybrain.store.repositories.event_views import (
    EventPage,
    EventQuery,
    EventRecord,
    EventStat,
    decode_cursor,
    encode_cursor,
)
from citybrain.store.types import Bucket, time_bucket, utc

__all__ = ["DEFAULT_COUNT_LIMIT", "EventRepo", "event_filters"]

#: Counting every match of a broad search over millions of rows costs more than the page itself.
DEFAULT_COUNT_LIMIT = 1_000
MAX_PAGE = 500


def event_filters(query: EventQuery) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``query``."""
    clauses: list[ColumnElement[bool]] = []
    if query.since is not None:
        clauses.append(EventRow.started_at >= utc(query.since))
    if query.until is not None:
        clauses.append(EventRow.started_at < utc(query.until))
    if query.camera_ids is not None:
        clauses.append(EventRow.camera_id.in_(sorted(query.camera_ids)))
    if query.kinds is not None:
        clauses.append(EventRow.kind.in_(sorted(query.kinds)))
    if query.statuses is not None:
        clauses.append(EventRow.status.in_(sorted(str(s) for s in query.statuses)))
    if query.zone is not None:
        clauses.append(EventRow.zone == query.zone)
    return clauses


class EventRepo:
    """Event rows in one session (the caller commits). Writes from the engine go through
    :class:`citybrain.store.writer.EventWriter`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, *, event_id: str) -> EventRecord | None:
        """The event, or ``None`` if there is no such event."""
        row = self._session.get(EventRow, event_id)
        return None if row is None else EventRecord.of(row)

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
            limit: page size, 1 to 500.
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
        clauses = event_filters(query)
        page = select(EventRow).where(*clauses)
        if cursor is not None:
            started_at, event_id = decode_cursor(cursor)
            page = page.where(tuple_(EventRow.started_at, EventRow.id) < (started_at, event_id))
        page = page.order_by(EventRow.started_at.desc(), EventRow.id.desc())
        rows = list(self._session.scalars(page.offset(offset).limit(limit + 1)))
        items = [EventRecord.of(row) for row in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        total, exact = self._count(clauses, count_limit)
        return EventPage(
            items=items,
            total=total,
            total_exact=exact,
            next_cursor=None if last is None else encode_cursor(last.started_at, last.id),
            offset=offset,
        )

    def _count(
        self, clauses: list[ColumnElement[bool]], count_limit: int | None
    ) -> tuple[int, bool]:
        matching: Select[int] = select(func.count()).select_from(EventRow).where(*clauses)
        if count_limit is None:
            return int(self._session.scalar(matching) or 0), True
        capped = select(EventRow.id).where(*clauses).limit(count_limit + 1).subquery()
        total = int(self._session.scalar(select(func.count()).select_from(capped)) or 0)
        return min(total, count_limit), total <= count_limit

    def stats(self, *, query: EventQuery, bucket: Bucket = "hour") -> list[EventStat]:
        """Event counts per camera, kind and UTC hour (or day), oldest bucket first."""
        if query.matches_nothing:
            return []
        start = time_bucket(bucket, EventRow.started_at).label("bucket_start")
        rows = self._session.execute(
            select(EventRow.camera_id, EventRow.kind, start, func.count().label("n"))
            .where(*event_filters(query))
            .group_by(EventRow.camera_id, EventRow.kind, start)
            .order_by(start, EventRow.camera_id, EventRow.kind)
        )
        return [
            EventStat(camera_id=camera_id, kind=kind, bucket_start=when, count=int(n))
            for camera_id, kind, when, n in rows
        ]

    def acknowledge(
        self, *, event_id: str, username: str, at: datetime | None = None
    ) -> EventRecord | None:
        """Mark an open event acknowledged; ``None`` if there is no such event.

        Raises:
            StoreError: the event is not open.
        """
        row = self._locked(event_id)
        if row is None:
            return None
        if row.status != EventStatus.OPEN:
            raise StoreError(
                f"event {event_id} is {row.status}; only an open event can be acknowledged"
            )
        row.status = EventStatus.ACKNOWLEDGED.value
        row.acknowledged_by = username
        row.acknowledged_at = utc(at) if at is not None else utcnow()
        self._session.flush()
        return EventRecord.of(row)

    def resolve(
        self, *, event_id: str, username: str, note: str | None = None, at: datetime | None = None
    ) -> EventRecord | None:
        """Mark an open or acknowledged event resolved; ``None`` if there is no such event.

        Raises:
            StoreError: the event is already resolved.
        """
        row = self._locked(event_id)
        if row is None:
            return None
        if row.status == EventStatus.RESOLVED:
            raise StoreError(f"event {event_id} is already resolved")
        row.status = EventStatus.RESOLVED.value
        row.resolved_by = username
        row.resolved_at = utc(at) if at is not None else utcnow()
        if note is not None:
            row.note = note
        self._session.flush()
        return EventRecord.of(row)

    def delete_events_before(self, *, cutoff: datetime) -> list[str]:
        """Delete events that started before ``cutoff``.

        Returns:
            The snapshot paths of the deleted events, so that the caller deletes the files too.
        """
        gone = (
            delete(EventRow)
            .where(EventRow.started_at < utc(cutoff))
            .returning(EventRow.snapshot)
            .execution_options(synchronize_session=False)
        )
        return [path for path in self._session.scalars(gone) if path]

    def _locked(self, event_id: str) -> EventRow | None:
        # FOR UPDATE on PostgreSQL: two operators acting at once see each other's change.
        return self._session.get(EventRow, event_id, with_for_update=True)
