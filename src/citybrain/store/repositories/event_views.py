"""What event reads take and return: filters, pages and cursors."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement

from citybrain.errors import StoreError
from citybrain.records import EventRecord, EventStatus
from citybrain.store.schema import events
from citybrain.store.types import utc

__all__ = ["MAX_PAGE", "EventPage", "EventQuery", "decode_cursor", "encode_cursor"]

#: The largest page a search returns (the API's page limit too).
MAX_PAGE = 500


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

    def clauses(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses."""
        c = events.c
        clauses: list[ColumnElement[bool]] = []
        if self.since is not None:
            clauses.append(c.started_at >= utc(self.since))
        if self.until is not None:
            clauses.append(c.started_at < utc(self.until))
        if self.camera_ids is not None:
            clauses.append(c.camera_id.in_(sorted(self.camera_ids)))
        if self.kinds is not None:
            clauses.append(c.kind.in_(sorted(self.kinds)))
        if self.statuses is not None:
            clauses.append(c.status.in_(sorted(str(s) for s in self.statuses)))
        if self.zone is not None:
            clauses.append(c.zone == self.zone)
        return clauses

    @property
    def matches_nothing(self) -> bool:
        """Whether an empty filter set makes the answer empty without asking the database."""
        return any(
            values is not None and len(values) == 0
            for values in (self.camera_ids, self.kinds, self.statuses)
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
