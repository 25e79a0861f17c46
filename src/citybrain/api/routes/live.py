"""Live routes: the event stream (SSE), a camera's MJPEG stream and its latest frame.

Frames come only from the hub, which holds the engine's anonymised JPEGs; nothing else is
ever served. Opening a stream and reading a frame are written to the audit trail first.
Cameras render live frames only while someone watches: a stream watches its camera while it
is open, a frame request asks for a fresh frame and waits a moment for it (the hub's
``frame_wait_s``) when nobody was watching.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from citybrain.api.deps import (
    Audit,
    Context,
    CurrentUser,
    DbSession,
    VideoViewer,
    visible_camera,
)
from citybrain.api.schemas import MAX_ID, Problem
from citybrain.api.streaming import BOUNDARY, MJPEG_TYPE, StreamGuard, mjpeg_part, video_ticket
from citybrain.records import Action
from citybrain.services.hub import FrameWatch, LatestFrame, LiveHub, StreamTicket, Subscription

__all__ = ["BOUNDARY", "router"]

router = APIRouter(tags=["live"])

_NO_CACHE = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}
CameraId = Annotated[int, Path(ge=1, le=MAX_ID, description="The camera's id.")]
_VIDEO_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem}, 404: {"model": Problem},
    503: {"model": Problem, "description": "The camera has sent no frame yet."},
}  # fmt: skip


def _sse(kind: str, data: str, seq: int | None = None) -> bytes:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n".encode()


async def _event_stream(
    hub: LiveHub, subscription: Subscription, heartbeat_s: float, guard: StreamGuard
) -> AsyncIterator[bytes]:
    try:
        yield b"retry: 3000\n\n"
        for camera_id, health in sorted(hub.health().items()):
            if subscription.wants(camera_id):
                yield _sse("health", health.model_dump_json())
        idle = 0.0
        while not subscription.closed and await guard.allows():
            wait = min(heartbeat_s, guard.recheck_s)
            messages = await subscription.get(timeout=wait)
            idle = 0.0 if messages else idle + wait
            if idle >= heartbeat_s:
                idle = 0.0
                yield b": keep-alive\n\n"  # also finds out when the client is gone
            for message in messages:
                yield _sse(message.kind, message.data, message.seq)
    finally:
        hub.unsubscribe(subscription)


@router.get(
    "/api/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "`event: event` (LiveEventPublic) and `event: health` "
                                    "(CameraHealthPublic) messages."}},
)  # fmt: skip
async def event_stream(
    principal: CurrentUser, context: Context, audit: Audit, request: Request
) -> Response:
    """New and updated events and camera health of the cameras you may see, as Server-Sent
    Events. A slow client loses the oldest messages, never the newest. The stream ends when
    your credential stops holding (checked every few seconds) or the server stops."""
    await run_in_threadpool(audit, Action.STREAM_OPEN, principal)
    hub = context.services.hub
    subscription = hub.subscribe(camera_ids=principal.camera_ids)
    guard = StreamGuard.of(context, request)
    return StreamingResponse(
        _event_stream(hub, subscription, context.heartbeat_s, guard),
        media_type="text/event-stream",
        headers=_NO_CACHE,
    )


async def _mjpeg(
    hub: LiveHub,
    frame: LatestFrame,
    poll_s: float,
    guard: StreamGuard,
    held: tuple[StreamTicket, FrameWatch],
) -> AsyncIterator[bytes]:
    try:
        last = -1
        current: LatestFrame | None = frame
        while current is not None and await guard.allows():  # None: the camera was removed
            if current.seq != last:
                last = current.seq
                yield mjpeg_part(current)
            await asyncio.sleep(poll_s)
            current = hub.frame(frame.camera_id)
    finally:
        for done in held:
            done.close()


async def _fresh(hub: LiveHub, camera_id: int, was_watched: bool) -> LatestFrame:
    """The camera's latest frame; when nobody was watching the camera (its latest frame, if
    any, may be old), the first one it renders now, or the latest after a moment.

    Raises:
        HTTPException: 503 when the camera has no frame at all by then.
    """
    frame = hub.frame(camera_id)
    if frame is None or not was_watched:
        frame = await hub.next_frame(camera_id, frame)
    if frame is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"camera {camera_id} has sent no frame yet: it may be starting, disabled "
            "or unreachable (see its health)",
            headers={"Retry-After": "2"},
        )
    return frame


@router.get(
    "/api/cameras/{camera_id}/live.mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {MJPEG_TYPE: {}}},
               **_VIDEO_ERRORS},
)  # fmt: skip
async def live_mjpeg(
    camera_id: CameraId,
    principal: VideoViewer,
    context: Context,
    session: DbSession,
    audit: Audit,
    request: Request,
) -> Response:
    """The camera's anonymised live view as multipart MJPEG (for an ``<img>`` tag). It ends
    when your credential stops holding or the server stops; a user may hold
    ``limits.live_streams_per_user`` live streams at once (429 beyond)."""
    await run_in_threadpool(visible_camera, session, principal, camera_id)
    hub = context.services.hub
    ticket = video_ticket(context, principal)
    was_watched = hub.watching(camera_id)
    watch = hub.watch([camera_id])  # the camera renders live frames while the stream is open
    try:
        frame = await _fresh(hub, camera_id, was_watched)
    except HTTPException:
        watch.close()
        ticket.close()
        raise
    await run_in_threadpool(audit, Action.LIVE_OPEN, principal, camera_id=camera_id)
    fps = context.services.settings.live_fps
    poll_s = min(0.5, max(0.02, 1 / (2 * fps)))
    guard = StreamGuard.of(context, request)
    return StreamingResponse(
        _mjpeg(hub, frame, poll_s, guard, (ticket, watch)),
        media_type=MJPEG_TYPE,
        headers=_NO_CACHE,
    )


@router.get(
    "/api/cameras/{camera_id}/frame.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **_VIDEO_ERRORS},
)
async def latest_frame(
    camera_id: CameraId, principal: VideoViewer, context: Context, session: DbSession, audit: Audit
) -> Response:
    """The camera's latest anonymised frame as a JPEG (fresh: when nobody was watching the
    camera, it waits a moment for the camera to render one)."""
    await run_in_threadpool(visible_camera, session, principal, camera_id)
    hub = context.services.hub
    was_watched = hub.watching(camera_id)
    hub.ask(camera_id)  # and keeps it rendering for a while, for a page that reloads it
    frame = await _fresh(hub, camera_id, was_watched)
    await run_in_threadpool(audit, Action.FRAME_READ, principal, camera_id=camera_id)
    return Response(frame.jpeg, media_type="image/jpeg", headers=_NO_CACHE)
