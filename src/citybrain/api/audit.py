"""Writing the audit trail: every read of video and every change, with who, when and where."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import Request

from citybrain.store import AuditRepo, Store

__all__ = ["Action", "client_address", "record"]


class Action(StrEnum):
    """What the trail records."""

    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    TOKEN_REVOKE = "token.revoke"
    CAMERA_CREATE = "camera.create"
    CAMERA_UPDATE = "camera.update"
    CAMERA_DELETE = "camera.delete"
    EVENT_ACKNOWLEDGE = "event.acknowledge"
    EVENT_RESOLVE = "event.resolve"
    SNAPSHOT_READ = "snapshot.read"
    EVENTS_EXPORT = "events.export"
    FRAME_READ = "frame.read"
    LIVE_OPEN = "live.open"
    STREAM_OPEN = "events.stream"
    AUDIT_READ = "audit.read"
    LOGOUT = "logout"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_PASSWORD = "user.password"


def client_address(request: Request) -> str | None:
    """The peer's address (a proxy in front must be trusted explicitly; none is here)."""
    return request.client.host if request.client is not None else None


def record(
    store: Store,
    *,
    action: Action,
    username: str | None,
    client: str | None,
    camera_id: int | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry in its own transaction (it stays even if the request fails later)."""
    with store.session() as session:
        AuditRepo(session).record(
            action=action.value,
            username=username,
            camera_id=camera_id,
            target=target,
            client=client,
            detail=detail,
        )
