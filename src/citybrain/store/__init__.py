"""The store: tables derived from the records, Alembic migrations, repositories, the batched
writers and the media store of snapshots.

Example:
    >>> store = open_store(sqlite_url(Path("citybrain-data")))  # doctest: +SKIP
    >>> with store.session() as session:  # doctest: +SKIP
    ...     page = EventRepo(session).search(query=EventQuery(camera_ids={1, 2}), limit=50)
"""

from __future__ import annotations

from citybrain.store.db import Store, describe_error, open_store, sqlite_url
from citybrain.store.media import MediaStore
from citybrain.store.redact import redacted_source
from citybrain.store.repositories import (
    MAX_PAGE,
    AuditRepo,
    CameraRepo,
    CountRepo,
    DeliveryRepo,
    EventPage,
    EventQuery,
    EventRepo,
    ImportOutcome,
    SitePage,
    SiteRepo,
    TokenRepo,
    UserRepo,
    WebhookRepo,
)
from citybrain.store.writer import BatchPolicy, CountWriter, EventWriter, WriterStats

__all__ = [
    "MAX_PAGE",
    "AuditRepo",
    "BatchPolicy",
    "CameraRepo",
    "CountRepo",
    "CountWriter",
    "DeliveryRepo",
    "EventPage",
    "EventQuery",
    "EventRepo",
    "EventWriter",
    "ImportOutcome",
    "MediaStore",
    "SitePage",
    "SiteRepo",
    "Store",
    "TokenRepo",
    "UserRepo",
    "WebhookRepo",
    "WriterStats",
    "describe_error",
    "open_store",
    "redacted_source",
    "sqlite_url",
]
