"""``/api/events``: search, read, export, acknowledge, resolve, and the audited snapshot."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import Response, StreamingResponse
from pydantic import Field, StringConstraints

from citybrain.api.audit import Action, record
from citybrain.api.deps import (
    ApiContext,
    Client,
    Context,
    CurrentUser,
    EventExporter,
    EventHandler,
    Principal,
    VideoViewer,
    not_found,
)
from citybrain.api.export import (
    COLUMNS,
    DEFAULT_EXPORT_LIMIT,
    MAX_EXPORT_LIMIT,
    ExportFormat,
    encode_rows,
    event_pages,
    export_filename,
)
from citybrain.api.schemas import MAX_ID, EventPublic, EventsPublic, Problem, ResolveRequest
from citybrain.errors import StoreError
from citybrain.store import CameraRepo, EventQuery, EventRecord, EventRepo, EventStatus

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
Kinds = Annotated[list[Kind] | None, Query(description="Only these rule kinds.")]
Statuses = Annotated[list[EventStatus] | None, Query(alias="status")]
ZoneFilter = Annotated[Zone | None, Query(description="Only events in this zone.")]
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
    kind: Kinds = None,
    status_: Statuses = None,
    zone: ZoneFilter = None,
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


# Declared before /{event_id}: "export" is a valid event id.
@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}},
                     "description": "The events as an attachment."},
               403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem}},
)  # fmt: skip
def export_events(
    principal: EventExporter,
    context: Context,
    client: Client,
    since: Since = None,
    until: Until = None,
    camera: CameraIds = None,
    kind: Kinds = None,
    status_: Statuses = None,
    zone: ZoneFilter = None,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.CSV,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_LIMIT)] = DEFAULT_EXPORT_LIMIT,
) -> StreamingResponse:
    """The events of the cameras you may see as a CSV or JSONL file, newest first, with the
    filters of ``GET /api/events``. Naming a camera you may not see is a 404. Every export is
    written to the audit trail."""
    query = EventQuery(
        since=aware(since, "from"), until=aware(until, "to"),
        camera_ids=visible_ids(principal, camera), kinds=kind, statuses=status_, zone=zone,
    )  # fmt: skip
    names = _camera_names(context, principal, camera)
    _audit_export(context, principal, client, query, format_=format_, limit=limit, cameras=camera)

    def rows() -> Iterator[list[Mapping[str, Any]]]:
        for page in event_pages(context.services.store, query, limit=limit):
            yield [_export_row(event, names) for event in page]

    at = datetime.fromtimestamp(context.clock(), UTC)
    return StreamingResponse(
        encode_rows(rows(), format_),
        media_type=format_.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export_filename(format_, at)}"',
            "Cache-Control": "private, no-store",
        },
    )


def _camera_names(
    context: ApiContext, principal: Principal, requested: list[int] | None
) -> dict[int, str]:
    """The names of the cameras an export covers.

    Raises:
        HTTPException: 404 for a requested camera that is missing or hidden from the caller.
    """
    cameras = visible_ids(principal, requested)
    with context.services.store.session() as session:
        names = {c.id: c.name for c in CameraRepo(session).list_public(camera_ids=cameras)}
    for camera_id in requested or ():
        if camera_id not in names:
            raise not_found(f"camera {camera_id}")
    return names


def _audit_export(
    context: ApiContext,
    principal: Principal,
    client: str | None,
    query: EventQuery,
    *,
    format_: ExportFormat,
    limit: int,
    cameras: list[int] | None,
) -> None:
    """One audit entry for an export, with its filters as asked (the camera when only one)."""
    asked = sorted(set(cameras)) if cameras is not None else None
    detail = {
        "format": format_.value, "limit": limit, "camera": asked,
        "from": None if query.since is None else query.since.isoformat(),
        "to": None if query.until is None else query.until.isoformat(),
        "kind": None if query.kinds is None else list(query.kinds),
        "status": None if query.statuses is None else [str(s) for s in query.statuses],
        "zone": query.zone,
    }  # fmt: skip
    record(
        context.services.store, action=Action.EVENTS_EXPORT, username=principal.username,
        client=client, camera_id=asked[0] if asked is not None and len(asked) == 1 else None,
        detail={key: value for key, value in detail.items() if value is not None},
    )  # fmt: skip


def _export_row(event: EventRecord, names: Mapping[int, str]) -> dict[str, Any]:
    public = event_public(event).model_dump(mode="json")
    public["camera"] = names.get(event.camera_id, "")  # "" only if deleted while exporting
    return {column: public[column] for column in COLUMNS}


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

    def change(repo: EventRepo) -> EventRecord | None:
        return repo.acknowledge(event_id=event_id, username=principal.username)

    return _handle(context, principal, client, event_id, Action.EVENT_ACKNOWLEDGE, change)


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

    def change(repo: EventRepo) -> EventRecord | None:
        return repo.resolve(event_id=event_id, username=principal.username, note=note)

    return _handle(context, principal, client, event_id, Action.EVENT_RESOLVE, change)


def _handle(
    context: ApiContext,
    principal: Principal,
    client: str | None,
    event_id: str,
    action: Action,
    change: Callable[[EventRepo], EventRecord | None],
) -> EventPublic:
    """Apply an operator's state change, audit it and push the updated event to live views."""
    try:
        with context.services.store.session() as session:
            event = change(EventRepo(session))
    except StoreError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    if event is None:
        raise not_found(f"event {event_id}")
    record(
        context.services.store, action=action, username=principal.username,
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
