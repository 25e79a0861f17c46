"""What every long-lived response (event stream, MJPEG, the live wall) shares: it ends when the
caller's credential no longer holds or when the server stops, a user's video streams are
counted against their limit, and MJPEG parts are framed one way."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request, status

from citybrain.api.deps import ApiContext, Principal, credential_check
from citybrain.services.hub import LatestFrame, LiveHub, StreamTicket

__all__ = ["BOUNDARY", "MJPEG_TYPE", "StreamGuard", "mjpeg_part", "video_ticket"]

#: The multipart boundary of the MJPEG streams (``live.mjpeg`` and the wall).
BOUNDARY = "frame"
MJPEG_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"


def mjpeg_part(frame: LatestFrame, *, camera_header: bool = False) -> bytes:
    """One JPEG of a ``multipart/x-mixed-replace`` stream, with its capture time (and, on a
    stream of several cameras, the camera it is of)."""
    camera = f"X-Camera-Id: {frame.camera_id}\r\n" if camera_header else ""
    head = (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(frame.jpeg)}\r\n"
        f"{camera}X-Timestamp: {frame.timestamp:.3f}\r\n\r\n"
    )
    return head.encode() + frame.jpeg + b"\r\n"


class StreamGuard:
    """Asks, between a stream's messages, whether it may go on (verb: :meth:`allows`).

    It may not once the server is stopping (at once) or once the caller's credential stopped
    holding (a revoked or expired token, a disabled user: checked every ``recheck_s``).
    """

    def __init__(
        self, hub: LiveHub, still_valid: Callable[[], Awaitable[bool]], recheck_s: float
    ) -> None:
        self._hub = hub
        self._still_valid = still_valid
        self.recheck_s = recheck_s
        self._checked = time.monotonic()

    @classmethod
    def of(cls, context: ApiContext, request: Request) -> StreamGuard:
        return cls(context.services.hub, credential_check(context, request), context.recheck_s)

    async def allows(self) -> bool:
        """Whether the stream may send on."""
        if self._hub.closed:
            return False
        if time.monotonic() - self._checked < self.recheck_s:
            return True
        self._checked = time.monotonic()
        return await self._still_valid()


def video_ticket(context: ApiContext, principal: Principal) -> StreamTicket:
    """A ticket for one more live video stream of the caller.

    Raises:
        HTTPException: 429 when the caller holds as many as ``limits.live_streams_per_user``
            (503 while the server is stopping).
    """
    hub = context.services.hub
    if hub.closed:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the server is stopping")
    limit = context.services.settings.limits.live_streams_per_user
    ticket = hub.open_stream(f"user:{principal.user.id}", limit)
    if ticket is None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"you have {limit} live video streams open already (the limit per user); "
            "close one first",
        )
    return ticket
