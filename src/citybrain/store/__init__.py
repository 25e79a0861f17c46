"""The store: SQLAlchemy models, Alembic migrations, repositories and the batched writers.

Example:
    >>> store = open_store(sqlite_url(Path("citybrain-data")))  # doctest: +SKIP
    >>> with store.session() as session:  # doctest: +SKIP
    ...     page = EventRepo(session).search(query=EventQuery(camera_ids={1, 2}), limit=50)
"""

from __future__ import annotations

from citybrain.store.db import Store, open_store, sqlite_url
from citybrain.store.models import EventStatus, Role
from citybrain.store.redact import redacted_source
from citybrain.store.repositories import (
    AuditRepo,
    CameraPublic,
    CameraRepo,
    CountRepo,
    EventPage,
    EventQuery,
    EventRecord,
    EventRepo,
    TokenRepo,
    UserRecord,
    UserRepo,
)
from citybrain.store.writer import BatchPolicy, CountWriter, EventWriter, WriterStats

__all__ = [
    "AuditRepo",
    "BatchPolicy",
    "CameraPublic",
    "CameraRepo",
    "CountRepo",
    "CountWriter",
    "EventPage",
    "EventQuery",
    "EventRecord",
    "EventRepo",
    "EventStatus",
    "EventWriter",
    "Role",
    "Store",
    "TokenRepo",
    "UserRecord",
    "UserRepo",
    "WriterStats",
    "open_store",
    "redacted_source",
    "sqlite_url",
]
