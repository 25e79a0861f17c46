"""``GET /api/live/wall.mjpeg``: the live wall's cameras in one multipart stream.

A browser opens at most six HTTP/1.1 connections to one server, so a wall of 9 or 16
``live.mjpeg`` tiles (plus the event stream) would starve itself. This route sends the
anonymised frames of up to 16 cameras in one ``multipart/x-mixed-replace`` stream; each part
names its camera in ``X-Camera-Id``, and the console hands each part to its tile. Opening it is
audited once per camera, like ``live.mjpeg``; the caller's credential is checked again every
few seconds, so a revoked token or a disabled user stops receiving frames.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from citybrain.api.audit import Action, record
from citybrain.api.deps import (
    ApiContext,
    Client,
    Context,
    VideoViewer,
    current_user,
    visible_camera,
)
from citybrain.api.hub import LatestFrame, LiveHub
from citybrain.api.schemas import MAX_ID, Problem

__all__ = ["BOUNDARY", "MAX_WALL_CAMERAS", "RECHECK_S", "router"]

router = APIRouter(tags=["live"])

BOUNDARY = "frame"
MAX_WALL_CAMERAS = 16
#: How often an open wall stream checks that its credential is still valid.
RECHECK_S = 5.0
_NO_CACHE = {"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"}

WallCameras = Annotated[
    list[Annotated[int, Query(ge=1, le=MAX_ID)]],
    Query(alias="camera", min_length=1, max_length=MAX_WALL_CAMERAS,
          description="The cameras on the wall (repeat the parameter), at most 16."),
]  # fmt: skip


def _part(frame: LatestFrame) -> bytes:
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(frame.jpeg)}\r\n"
        f"X-Camera-Id: {frame.camera_id}\r\nX-Timestamp: {frame.timestamp:.3f}\r\n\r\n"
    )
    return head.encode() + frame.jpeg + b"\r\n"


async def _wall(
    hub: LiveHub, camera_ids: list[int], poll_s: float, still_valid: Callable[[], Awaitable[bool]]
) -> AsyncIterator[bytes]:
    sent: dict[int, int] = {}
    checked = time.monotonic()
    while True:
        for camera_id in camera_ids:
            frame = hub.frame(camera_id)
            if frame is not None and sent.get(camera_id) != frame.seq:
                sent[camera_id] = frame.seq
                yield _part(frame)
        await asyncio.sleep(poll_s)
        if time.monotonic() - checked >= RECHECK_S:
            checked = time.monotonic()
            if not await still_valid():
                return


def _checker(context: ApiContext, request: Request) -> Callable[[], Awaitable[bool]]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())

    def check() -> bool:
        try:
            current_user(context, credentials)
        except HTTPException:
            return False
        return True

    async def still_valid() -> bool:
        return await run_in_threadpool(check)

    return still_valid


@router.get(
    "/api/live/wall.mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}},
                     "description": "Parts carry `X-Camera-Id`."},
               403: {"model": Problem}, 404: {"model": Problem}},
)  # fmt: skip
async def wall(
    camera: WallCameras, principal: VideoViewer, context: Context, client: Client, request: Request
) -> Response:
    """The anonymised live frames of several cameras in one stream (404 if any is hidden)."""
    camera_ids = list(dict.fromkeys(camera))
    for camera_id in camera_ids:
        await run_in_threadpool(visible_camera, context, principal, camera_id)
    for camera_id in camera_ids:
        await run_in_threadpool(
            record, context.services.store, action=Action.LIVE_OPEN,
            username=principal.username, client=client, camera_id=camera_id,
            detail={"via": "wall"},
        )  # fmt: skip
    fps = context.services.settings.live_fps
    poll_s = min(0.5, max(0.02, 1 / (2 * fps)))
    return StreamingResponse(
        _wall(context.services.hub, camera_ids, poll_s, _checker(context, request)),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers=_NO_CACHE,
    )
