"""``GET /api/live/wall.mjpeg``: the live wall's cameras in one multipart stream.

A browser opens at most six HTTP/1.1 connections to one server, so a wall of 9 or 16
``live.mjpeg`` tiles (plus the event stream) would starve itself. This route sends the
anonymised frames of up to 16 cameras in one ``multipart/x-mixed-replace`` stream; each part
names its camera in ``X-Camera-Id``, and the console hands each part to its tile. Opening it is
audited once per camera, like ``live.mjpeg``; the caller's credential is checked again every
few seconds, so a revoked token or a disabled user stops receiving frames. The wall's cameras
count as watched while it is open (they render live frames only then).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from citybrain.api.deps import Audit, Context, DbSession, VideoViewer, visible_camera
from citybrain.api.schemas import MAX_ID, Problem
from citybrain.api.streaming import BOUNDARY, MJPEG_TYPE, StreamGuard, mjpeg_part, video_ticket
from citybrain.records import Action
from citybrain.services.hub import FrameWatch, LiveHub, StreamTicket

__all__ = ["BOUNDARY", "MAX_WALL_CAMERAS", "router"]

router = APIRouter(tags=["live"])

MAX_WALL_CAMERAS = 16
_NO_CACHE = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}

WallCameras = Annotated[
    list[Annotated[int, Query(ge=1, le=MAX_ID)]],
    Query(alias="camera", min_length=1, max_length=MAX_WALL_CAMERAS,
          description="The cameras on the wall (repeat the parameter), at most 16."),
]  # fmt: skip


async def _wall(
    hub: LiveHub,
    camera_ids: list[int],
    poll_s: float,
    guard: StreamGuard,
    held: tuple[StreamTicket, FrameWatch],
) -> AsyncIterator[bytes]:
    try:
        sent: dict[int, int] = {}
        while await guard.allows():
            for camera_id in camera_ids:
                frame = hub.frame(camera_id)
                if frame is not None and sent.get(camera_id) != frame.seq:
                    sent[camera_id] = frame.seq
                    yield mjpeg_part(frame, camera_header=True)
            await asyncio.sleep(poll_s)
    finally:
        for done in held:
            done.close()


@router.get(
    "/api/live/wall.mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {MJPEG_TYPE: {}},
                     "description": "Parts carry `X-Camera-Id`."},
               403: {"model": Problem}, 404: {"model": Problem}},
)  # fmt: skip
async def wall(
    camera: WallCameras,
    principal: VideoViewer,
    context: Context,
    session: DbSession,
    audit: Audit,
    request: Request,
) -> Response:
    """The anonymised live frames of several cameras in one stream (404 if any is hidden)."""
    camera_ids = list(dict.fromkeys(camera))
    for camera_id in camera_ids:
        await run_in_threadpool(visible_camera, session, principal, camera_id)
    ticket = video_ticket(context, principal)  # the whole wall is one stream
    for camera_id in camera_ids:
        await run_in_threadpool(
            audit, Action.LIVE_OPEN, principal, camera_id=camera_id, detail={"via": "wall"}
        )
    fps = context.services.settings.live_fps
    poll_s = min(0.5, max(0.02, 1 / (2 * fps)))
    guard = StreamGuard.of(context, request)
    hub = context.services.hub
    watch = hub.watch(camera_ids)
    return StreamingResponse(
        _wall(hub, camera_ids, poll_s, guard, (ticket, watch)),
        media_type=MJPEG_TYPE,
        headers=_NO_CACHE,
    )
