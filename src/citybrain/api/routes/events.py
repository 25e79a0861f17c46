"""``/api/events``: search, read, acknowledge, resolve, and the audited snapshot."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import Response
from pydantic import Field, StringConstraints

from citybrain.api.audit import Action, record
from citybrain.api.deps import (
    ApiContext,
    Client,
    Context,
    CurrentUser,
    EventHandler,
    Principal,
    VideoViewer,
    not_found,
)
from citybrain.api.schemas import MAX_ID, EventPublic, EventsPublic, Problem, ResolveRequest
from citybrain.errors import StoreError
from citybrain.store import EventQuery, EventRecord, EventRepo, EventStatus

__all__ = ["EventId", "Kind", "Zone", "aware", "event_public", "router", "visible_ids"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/events", tags=["events"])

EventId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The event's id.")]
Kind = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
Zone = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
CameraIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None,
    Query(description="Only these cameras (repeat the parameter for several)."),
]
Since = Annotated[
    datetime | None,
    Query(alias="from", description="Started at or after (ISO 8601; UTC if naive)."),
]
Until = Annotated[datetime | None, Query(alias="to", description="Started before (ISO 8601).")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}
_HANDLING: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem}, 404: {"model": Problem},
    409: {"model": Problem, "description": "Not in a state that allows it."},
}  # fmt: skip


def aware(value: datetime | None, name: str) -> datetime | None:
    """``value`` in UTC (naive values are taken as UTC).

    Raises:
        HTTPException: 422 when the value cannot be expressed in UTC (past year 9999).
    """
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise HTTPException(
            422,
            detail=[{"loc": ["query", name], "msg": "out of range in UTC", "type": "value_error"}],
        ) from None


def visible_ids(principal: Principal, requested: list[int] | None) -> frozenset[int] | None:
    """The cameras a query may cover: the requested ones the caller may see (``None``: all)."""
    allowed = principal.camera_ids
    if requested is None:
        return allowed
    wanted = frozenset(requested)
    return wanted if allowed is None else wanted & allowed


def event_public(event: EventRecord) -> EventPublic:
    """The API's view of a stored event (its snapshot as a URL, never a file path)."""
    return EventPublic(
        id=event.id, camera_id=event.camera_id, kind=event.kind, rule=event.rule,
        zone=event.zone, line=event.line, label=event.label, track_id=event.track_id,
        started_at=event.started_at, ended_at=event.ended_at, score=event.score,
        bbox=event.bbox, details=event.details, status=event.status,
        acknowledged_by=event.acknowledged_by, acknowledged_at=event.acknowledged_at,
        resolved_by=event.resolved_by, resolved_at=event.resolved_at, note=event.note,
        snapshot_url=f"/api/events/{event.id}/snapshot.jpg" if event.snapshot else None,
    )  # fmt: skip


def _visible_event(context: ApiContext, principal: Principal, event_id: str) -> EventRecord:
    with context.services.store.session() as session:
        event = EventRepo(session).get(event_id=event_id)
    if event is None or not principal.can_see(event.camera_id):
        raise not_found(f"event {event_id}")
    return event


@router.get("", responses={422: {"model": Problem}})
def list_events(
    principal: CurrentUser,
    context: Context,
    since: Since = None,
    until: Until = None,
    camera: CameraIds = None,
    kind: Annotated[list[Kind] | None, Query(description="Only these rule kinds.")] = None,
    status_: Annotated[list[EventStatus] | None, Query(alias="status")] = None,
    zone: Annotated[Zone | None, Query(description="Only events in this zone.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=256, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> EventsPublic:
    """Events of the cameras you may see, newest first, a page at a time.

    Page with ``offset`` (for page links) or with the previous page's ``next_cursor`` (stable
    while new events arrive); not both.
    """
    query = EventQuery(
        since=aware(since, "from"), until=aware(until, "to"),
        camera_ids=visible_ids(principal, camera), kinds=kind, statuses=status_, zone=zone,
    )  # fmt: skip
    try:
        with context.services.store.session() as session:
            page = EventRepo(session).search(query=query, limit=limit, cursor=cursor, offset=offset)
    except StoreError as exc:  # a bad cursor, or a cursor with an offset
        raise HTTPException(422, detail=str(exc)) from None
    return EventsPublic(
        items=[event_public(e) for e in page.items], total=page.total,
        total_exact=page.total_exact, limit=limit, offset=offset, next_cursor=page.next_cursor,
    )  # fmt: skip


@router.get("/{event_id}", responses=_NOT_FOUND)
def get_event(event_id: EventId, principal: CurrentUser, context: Context) -> EventPublic:
    """One event (404 if it does not exist or you may not see its camera)."""
    return event_public(_visible_event(context, principal, event_id))


@router.post("/{event_id}/acknowledge", responses=_HANDLING)
def acknowledge(
    event_id: EventId, principal: EventHandler, context: Context, client: Client
) -> EventPublic:
    """Take an open event in hand; records who and when."""
    _visible_event(context, principal, event_id)
    try:
        with context.services.store.session() as session:
            event = EventRepo(session).acknowledge(event_id=event_id, username=principal.username)
    except StoreError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    if event is None:
        raise not_found(f"event {event_id}")
    record(
        context.services.store, action=Action.EVENT_ACKNOWLEDGE, username=principal.username,
        client=client, camera_id=event.camera_id, target=event_id,
    )  # fmt: skip
    context.services.hub.publish_record(event)
    return event_public(event)


@router.post("/{event_id}/resolve", responses=_HANDLING)
def resolve(
    event_id: EventId,
    principal: EventHandler,
    context: Context,
    client: Client,
    body: ResolveRequest | None = None,
) -> EventPublic:
    """Close an open or acknowledged event, with an optional note; records who and when."""
    _visible_event(context, principal, event_id)
    note = body.note if body is not None else None
    try:
        with context.services.store.session() as session:
            event = EventRepo(session).resolve(
                event_id=event_id, username=principal.username, note=note
            )
    except StoreError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    if event is None:
        raise not_found(f"event {event_id}")
    record(
        context.services.store, action=Action.EVENT_RESOLVE, username=principal.username,
        client=client, camera_id=event.camera_id, target=event_id,
    )  # fmt: skip
    context.services.hub.publish_record(event)
    return event_public(event)


@router.get(
    "/{event_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The anonymised snapshot."},
               403: {"model": Problem}, 404: {"model": Problem}},
)  # fmt: skip
def snapshot(
    event_id: EventId, principal: VideoViewer, context: Context, client: Client
) -> Response:
    """The event's anonymised snapshot. Every read is written to the audit trail."""
    event = _visible_event(context, principal, event_id)
    if event.snapshot is None:
        raise not_found(f"snapshot of event {event_id}")
    try:
        data = context.media.read(event.snapshot)
    except StoreError as exc:
        log.warning("snapshot of event %s not served: %s", event_id, exc)
        raise not_found(f"snapshot of event {event_id}") from None
    record(
        context.services.store, action=Action.SNAPSHOT_READ, username=principal.username,
        client=client, camera_id=event.camera_id, target=event_id,
    )  # fmt: skip
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
