"""Repositories: keyword-only reads and writes per entity, each bound to one session."""

from __future__ import annotations

from citybrain.store.repositories.audit import AuditPage, AuditRepo
from citybrain.store.repositories.cameras import CameraRepo
from citybrain.store.repositories.counts import CountRepo
from citybrain.store.repositories.event_views import MAX_PAGE, EventPage, EventQuery
from citybrain.store.repositories.events import EventRepo
from citybrain.store.repositories.sites import ImportOutcome, SitePage, SiteRepo
from citybrain.store.repositories.tokens import TokenRepo
from citybrain.store.repositories.upserts import CountMode
from citybrain.store.repositories.users import UserRepo
from citybrain.store.repositories.webhooks import DeliveryRepo, WebhookRepo

__all__ = [
    "MAX_PAGE",
    "AuditPage",
    "AuditRepo",
    "CameraRepo",
    "CountMode",
    "CountRepo",
    "DeliveryRepo",
    "EventPage",
    "EventQuery",
    "EventRepo",
    "ImportOutcome",
    "SitePage",
    "SiteRepo",
    "TokenRepo",
    "UserRepo",
    "WebhookRepo",
]
