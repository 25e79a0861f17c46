"""``/api/events``: search, read, export, acknowledge, resolve, and the audited snapshot."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from citybrain.api.deps import (
    Audit,
    Context,
    CurrentUser,
    DbSession,
    EventExporter,
    EventHandler,
    Principal,
    VideoViewer,
    not_found,
)
from citybrain.api.params import EventFilters
from citybrain.api.schemas import EventPublic, EventsPublic, NoteRequest, Problem
from citybrain.errors import StoreError
from citybrain.records import Action, EventRecord
from citybrain.services.export import (
    DEFAULT_EXPORT_LIMIT,
    MAX_EXPORT_LIMIT,
    ExportFormat,
    encode_rows,
    event_pages,
    export_filename,
    export_row,
)
from citybrain.store import MAX_PAGE, CameraRepo, EventRepo

__all__ = ["EventId", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/events", tags=["events"])

EventId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The event's id.")]
Filters = Annotated[EventFilters, Depends()]
#: How long a request for an event not (yet) stored waits for the event writer's batch.
_WRITTEN_WAIT_S = 2.0
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}
_HANDLING: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem}, 404: {"model": Problem},
    409: {"model": Problem, "description": "Not in a state that allows it."},
}  # fmt: skip


def _public(event: EventRecord) -> EventPublic:
    return EventPublic.model_validate(event.model_dump())


def _visible_event(
    context: Context, session: Session, principal: Principal, event_id: str
) -> EventRecord:
    event = EventRepo(session).get(event_id=event_id)
    if event is None and context.services.events_written(_WRITTEN_WAIT_S):
        # Shown live a moment ago but still in the writer's batch: look again once it is
        # stored, in a fresh transaction (one begun before the write need not see it under
        # snapshot isolation). Nothing was written in this one yet.
        session.rollback()
        event = EventRepo(session).get(event_id=event_id)
    if event is None or not principal.can_see(event.camera_id):
        raise not_found(f"event {event_id}")
    return event


@router.get("", responses={422: {"model": Problem}})
def list_events(
    principal: CurrentUser,
    session: DbSession,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    cursor: Annotated[str | None, Query(max_length=256, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> EventsPublic:
    """Events of the cameras you may see, newest first, a page at a time.

    Page with ``offset`` (for page links) or with the previous page's ``next_cursor`` (stable
    while new events arrive); not both.
    """
    query = filters.query(principal.camera_ids)
    try:
        page = EventRepo(session).search(query=query, limit=limit, cursor=cursor, offset=offset)
    except StoreError as exc:  # a bad cursor, or a cursor with an offset
        raise HTTPException(422, detail=str(exc)) from None
    return EventsPublic(
        items=[_public(e) for e in page.items], total=page.total,
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
    session: DbSession,
    audit: Audit,
    filters: Filters,
    format_: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.CSV,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_LIMIT)] = DEFAULT_EXPORT_LIMIT,
) -> StreamingResponse:
    """The events of the cameras you may see as a CSV or JSONL file, newest first, with the
    filters of ``GET /api/events``. Naming a camera you may not see is a 404. Every export is
    written to the audit trail."""
    query = filters.query(principal.camera_ids)
    names = _camera_names(session, query.camera_ids, filters.cameras)
    asked = filters.cameras
    audit(
        Action.EVENTS_EXPORT, principal,
        camera_id=asked[0] if asked is not None and len(set(asked)) == 1 else None,
        detail={"format": format_.value, "limit": limit, **filters.asked()},
    )  # fmt: skip
    store = context.services.store

    def rows() -> Iterator[list[Mapping[str, Any]]]:
        for page in event_pages(store, query, limit=limit):
            # "" only for a camera deleted while exporting.
            yield [export_row(event, names.get(event.camera_id, "")) for event in page]

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
    session: Session, cameras: Collection[int] | None, requested: list[int] | None
) -> dict[int, str]:
    """The names of the cameras an export covers.

    Raises:
        HTTPException: 404 for a requested camera that is missing or hidden from the caller.
    """
    names = {c.id: c.name for c in CameraRepo(session).list(camera_ids=cameras)}
    for camera_id in requested or ():
        if camera_id not in names:
            raise not_found(f"camera {camera_id}")
    return names


@router.get("/{event_id}", responses=_NOT_FOUND)
def get_event(
    event_id: EventId, principal: CurrentUser, context: Context, session: DbSession
) -> EventPublic:
    """One event (404 if it does not exist or you may not see its camera)."""
    return _public(_visible_event(context, session, principal, event_id))


@router.post("/{event_id}/acknowledge", responses=_HANDLING)
def acknowledge(
    event_id: EventId,
    principal: EventHandler,
    context: Context,
    session: DbSession,
    audit: Audit,
    body: NoteRequest | None = None,
) -> EventPublic:
    """Take an open event in hand, with an optional note; records who and when."""
    note = body.note if body is not None else None

    def change(repo: EventRepo) -> EventRecord | None:
        return repo.acknowledge(event_id=event_id, username=principal.username, note=note)

    return _handle(context, session, audit, principal, event_id, Action.EVENT_ACKNOWLEDGE, change)


@router.post("/{event_id}/resolve", responses=_HANDLING)
def resolve(
    event_id: EventId,
    principal: EventHandler,
    context: Context,
    session: DbSession,
    audit: Audit,
    body: NoteRequest | None = None,
) -> EventPublic:
    """Close an open or acknowledged event, with an optional note; records who and when."""
    note = body.note if body is not None else None

    def change(repo: EventRepo) -> EventRecord | None:
        return repo.resolve(event_id=event_id, username=principal.username, note=note)

    return _handle(context, session, audit, principal, event_id, Action.EVENT_RESOLVE, change)


def _handle(
    context: Context,
    session: Session,
    audit: Audit,
    principal: Principal,
    event_id: str,
    action: Action,
    change: Callable[[EventRepo], EventRecord | None],
) -> EventPublic:
    """Apply an operator's state change, audit it and push the updated event to live views."""
    _visible_event(context, session, principal, event_id)
    try:
        event = change(EventRepo(session))
    except StoreError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    if event is None:
        raise not_found(f"event {event_id}")
    # Committed with the change: the trail and the live views never show one without the other.
    session.commit()
    audit(action, principal, camera_id=event.camera_id, target=event_id)
    context.services.hub.publish_record(event)
    return _public(event)


@router.get(
    "/{event_id}/snapshot.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The anonymised snapshot."},
               403: {"model": Problem}, 404: {"model": Problem}},
)  # fmt: skip
def snapshot(
    event_id: EventId,
    principal: VideoViewer,
    context: Context,
    session: DbSession,
    audit: Audit,
) -> Response:
    """The event's anonymised snapshot. Every read is written to the audit trail."""
    event = _visible_event(context, session, principal, event_id)
    if event.snapshot is None:
        raise not_found(f"snapshot of event {event_id}")
    try:
        data = context.services.media.read(event.snapshot)
    except StoreError as exc:
        log.warning("snapshot of event %s not served: %s", event_id, exc)
        raise not_found(f"snapshot of event {event_id}") from None
    audit(Action.SNAPSHOT_READ, principal, camera_id=event.camera_id, target=event_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
