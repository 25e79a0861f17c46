"""The audit trail: who did what, when, from where."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from citybrain.records.base import Record

__all__ = ["Action", "AuditEntry"]


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
    SITES_IMPORT = "sites.import"
    SITE_DELETE = "site.delete"
    # webhooks (issue 14)
    WEBHOOK_CREATE = "webhook.create"
    WEBHOOK_UPDATE = "webhook.update"
    WEBHOOK_ROTATE = "webhook.rotate"
    WEBHOOK_DELETE = "webhook.delete"
    WEBHOOK_TEST = "webhook.test"


class AuditEntry(Record):
    """One audited action.

    Attributes:
        id: its number in the trail.
        at: when.
        username: who (``None`` for the system).
        action: what, one of :class:`Action` (kept as text so old entries stay readable).
        camera_id: the camera it was about, if one (not a reference: the trail outlives
            the cameras it mentions).
        target: what else it was about (an event id, a camera's name).
        client: the address it came from.
        detail: small facts (the filters of an export, the fields changed).
    """

    id: int
    at: datetime
    username: str | None = None
    action: str
    camera_id: int | None = None
    target: str | None = None
    client: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
