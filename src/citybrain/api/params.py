"""Query parameters the routes share, and the one filter dependency of event reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, Field, StringConstraints

from citybrain.api.schemas import MAX_ID
from citybrain.records import EventStatus
from citybrain.store import EventQuery
from citybrain.store.types import utc

__all__ = [
    "CameraIds",
    "EventFilters",
    "Kind",
    "Since",
    "Until",
    "UtcDatetime",
    "visible_ids",
]


def _in_utc(value: datetime) -> datetime:
    try:
        return utc(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    except OverflowError:
        raise ValueError("out of range in UTC") from None


#: A time in a query: ISO 8601, taken as UTC when it has no offset.
UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]
Kind = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Zone = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
CameraIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None,
    Query(description="Only these cameras (repeat the parameter for several)."),
]
Since = Annotated[
    UtcDatetime | None,
    Query(alias="from", description="At or after (ISO 8601; UTC if naive)."),
]
Until = Annotated[UtcDatetime | None, Query(alias="to", description="Before (ISO 8601).")]
Kinds = Annotated[list[Kind] | None, Query(description="Only these rule kinds.")]
Statuses = Annotated[list[EventStatus] | None, Query(alias="status")]
ZoneFilter = Annotated[Zone | None, Query(description="Only events in this zone.")]


def visible_ids(
    allowed: frozenset[int] | None, requested: list[int] | None
) -> frozenset[int] | None:
    """The cameras a query may cover: the requested ones among ``allowed`` (``None``: all)."""
    if requested is None:
        return allowed
    wanted = frozenset(requested)
    return wanted if allowed is None else wanted & allowed


class EventFilters:
    """The filters of every event read (list, export, stats), as one dependency."""

    def __init__(
        self,
        since: Since = None,
        until: Until = None,
        camera: CameraIds = None,
        kind: Kinds = None,
        status: Statuses = None,
        zone: ZoneFilter = None,
    ) -> None:
        self.since = since
        self.until = until
        self.cameras = camera
        self.kinds = kind
        self.statuses = status
        self.zone = zone

    def query(self, allowed: frozenset[int] | None) -> EventQuery:
        """The store query, limited to the cameras in ``allowed`` (``None``: all)."""
        return EventQuery(
            since=self.since, until=self.until, camera_ids=visible_ids(allowed, self.cameras),
            kinds=self.kinds, statuses=self.statuses, zone=self.zone,
        )  # fmt: skip

    def asked(self) -> dict[str, object]:
        """The filters as given (for the audit trail), without those left out."""
        asked = {
            "from": None if self.since is None else self.since.isoformat(),
            "to": None if self.until is None else self.until.isoformat(),
            "camera": None if self.cameras is None else sorted(set(self.cameras)),
            "kind": self.kinds,
            "status": None if self.statuses is None else [str(s) for s in self.statuses],
            "zone": self.zone,
        }
        return {key: value for key, value in asked.items() if value is not None}
