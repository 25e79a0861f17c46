"""Repositories: keyword-only reads and writes per entity, each bound to one session."""

from __future__ import annotations

from citybrain.store.repositories.audit import AuditPage, AuditRecord, AuditRepo
from citybrain.store.repositories.cameras import CameraChanges, CameraPublic, CameraRepo
from citybrain.store.repositories.counts import CountRepo, CountTotal
from citybrain.store.repositories.event_views import EventPage, EventQuery, EventRecord, EventStat
from citybrain.store.repositories.events import EventRepo
from citybrain.store.repositories.tokens import TokenRecord, TokenRepo
from citybrain.store.repositories.upserts import CountMode, CountValues, EventValues
from citybrain.store.repositories.users import UserRecord, UserRepo

__all__ = [
    "AuditPage",
    "AuditRecord",
    "AuditRepo",
    "CameraChanges",
    "CameraPublic",
    "CameraRepo",
    "CountMode",
    "CountRepo",
    "CountTotal",
    "CountValues",
    "EventPage",
    "EventQuery",
    "EventRecord",
    "EventRepo",
    "EventStat",
    "EventValues",
    "TokenRecord",
    "TokenRepo",
    "UserRecord",
    "UserRepo",
]
