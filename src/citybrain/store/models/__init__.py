"""The ORM models, one module per entity; importing this package registers every table."""

from __future__ import annotations

from citybrain.store.models.audit import AuditRow
from citybrain.store.models.base import Base, utcnow
from citybrain.store.models.camera import Camera
from citybrain.store.models.count import COUNT_KEY, LineCountRow
from citybrain.store.models.event import EventRow, EventStatus
from citybrain.store.models.user import ApiToken, Role, User, user_cameras

__all__ = [
    "COUNT_KEY",
    "ApiToken",
    "AuditRow",
    "Base",
    "Camera",
    "EventRow",
    "EventStatus",
    "LineCountRow",
    "Role",
    "User",
    "user_cameras",
    "utcnow",
]
