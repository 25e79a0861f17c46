"""What event reads take and return: filters, records, pages, stats and cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citybrain.errors import StoreError
from citybrain.store.models import EventRow, EventStatus
from citybrain.store.types import utc

__all__ = ["EventPage", "EventQuery", "EventRecord", "EventStat", "decode_cursor", "encode_cursor"]


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for event search and stats; every one given must match.

    Attributes:
        since: events that started at or after this time.
        until: events that started before this time.
        camera_ids: only these cameras (the caller's allowed set); ``None`` means all cameras,
            an empty collection means none.
        kinds: only these rule kinds.
        statuses: only these statuses.
        zone: only events in this zone.
    """

    since: datetime | None = None
    until: datetime | None = None
    camera_ids: Collection[int] | None = None
    kinds: Collection[str] | None = None
    statuses: Collection[EventStatus | str] | None = None
    zone: str | None = None

    def __post_init__(self) -> None:
        for bound in (self.since, self.until):
            if bound is not None:
                utc(bound)  # refuses naive datetimes with a clear message
        for status in self.statuses or ():
            if status not in EventStatus.__members__.values():
                raise StoreError(f"unknown event status {status!r}")

    @property
    def matches_nothing(self) -> bool:
        """Whether an empty filter set makes the answer empty without asking the database."""
        return any(
            values is not None and len(values) == 0
            for values in (self.camera_ids, self.kinds, self.statuses)
        )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event, detached from the session."""

    id: str
    camera_id: int
    kind: str
    rule: str
    zone: str | None
    line: str | None
    label: str | None
    track_id: int | None
    started_at: datetime
    ended_at: datetime | None
    score: float
    bbox: tuple[float, float, float, float] | None
    details: dict[str, Any]
    snapshot: str | None
    status: EventStatus
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None

    @classmethod
    def of(cls, row: EventRow) -> EventRecord:
        """The record of an ORM row."""
        bbox = row.bbox
        return cls(
            id=row.id,
            camera_id=row.camera_id,
            kind=row.kind,
            rule=row.rule,
            zone=row.zone,
            line=row.line,
            label=row.label,
            track_id=row.track_id,
            started_at=row.started_at,
            ended_at=row.ended_at,
            score=row.score,
            bbox=None if bbox is None else (bbox[0], bbox[1], bbox[2], bbox[3]),
            details=dict(row.details),
            snapshot=row.snapshot,
            status=EventStatus(row.status),
            acknowledged_by=row.acknowledged_by,
            acknowledged_at=row.acknowledged_at,
            resolved_by=row.resolved_by,
            resolved_at=row.resolved_at,
            note=row.note,
        )


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of search results, newest first.

    Attributes:
        items: the events on this page.
        total: how many events match, counted up to the search's ``count_limit``.
        total_exact: ``False`` when counting stopped at the limit (show "``total``+").
        next_cursor: pass it back to get the next page; ``None`` on the last page.
    """

    items: list[EventRecord]
    total: int
    total_exact: bool
    next_cursor: str | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class EventStat:
    """How many events one camera raised of one kind in one time bucket."""

    camera_id: int
    kind: str
    bucket_start: datetime
    count: int


def encode_cursor(started_at: datetime, event_id: str) -> str:
    """An opaque keyset cursor for the position after ``(started_at, event_id)``."""
    raw = f"{utc(started_at).isoformat()}|{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position an :func:`encode_cursor` string points at.

    Raises:
        StoreError: the cursor was not made by :func:`encode_cursor`.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, event_id = raw.split("|", 1)
        return utc(datetime.fromisoformat(when)), event_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"invalid page cursor {cursor[:40]!r}") from exc
