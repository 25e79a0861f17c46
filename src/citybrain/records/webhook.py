"""Webhooks (where incidents are POSTed, signed) and their deliveries (the outbox).

The store derives the ``webhooks`` and ``webhook_deliveries`` tables from these records; the
API's webhook views are subclasses; the delivery engine's outbox reads and writes the rows.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from citybrain.records.base import Record
from citybrain.records.camera import NO_CONTROL

__all__ = [
    "MAX_WEBHOOK_URL",
    "DeliveryStatus",
    "EventKind",
    "WebhookDelivery",
    "WebhookDeliveryRow",
    "WebhookFields",
    "WebhookRecord",
    "WebhookRow",
    "WebhookUrl",
    "check_webhook_url",
]

MAX_WEBHOOK_URL = 2048


def check_webhook_url(url: str) -> str:
    """``url`` if it can be a webhook destination (http or https, a host, no fragment).

    Whether its host may be contacted is the network policy's call, made at every attempt
    (names resolve differently over time).

    Raises:
        ValueError: it cannot; the message says why.
    """
    if len(url) > MAX_WEBHOOK_URL:
        raise ValueError(f"a webhook URL has at most {MAX_WEBHOOK_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("a webhook URL is http:// or https://")
    if not parts.hostname:
        raise ValueError("a webhook URL needs a host")
    if parts.fragment:
        raise ValueError("a webhook URL has no #fragment")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValueError("a webhook URL has no spaces or control characters")
    return url


WebhookUrl = Annotated[
    str,
    AfterValidator(check_webhook_url),
    # repr=False: a URL may hold a token (user info, a secret path or query).
    Field(
        title="URL",
        description="http(s) URL deliveries are POSTed to; shown back with credentials hidden.",
        examples=["https://dispatch.example/hooks/citybrain"],
        repr=False,
    ),
]
#: An event kind (a rule kind such as ``restricted_zone``).
EventKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_CONTROL)]


class DeliveryStatus(StrEnum):
    """Where a delivery is: waiting (or being retried), accepted (2xx), or given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookFields(Record):
    """What an admin says about a webhook (its cameras are a relation, see the record)."""

    url: WebhookUrl
    description: Description | None = Field(default=None, title="Description")
    kinds: list[EventKind] | None = Field(
        default=None,
        title="Event kinds",
        description="The event kinds it receives (restricted_zone, occupancy, …); null = all.",
    )
    enabled: bool = Field(
        default=True,
        title="Enabled",
        description="false pauses it: no deliveries are added, pending ones wait.",
    )


class WebhookRecord(WebhookFields):
    """A stored webhook.

    Attributes:
        owner_id: the admin who created it; a webhook of a user limited to some cameras
            only ever carries events of those cameras (and goes when its owner goes).
        camera_filter: limited to ``camera_ids`` (possibly none left). A flag of its own, so
            that deleting the last camera of the filter leaves it receiving nothing rather than
            everything.
        camera_ids: the cameras it receives events of, when ``camera_filter``.
        failing_since: when a delivery was given up after failing for the give-up time;
            cleared at the next success.
    """

    id: int
    owner_id: int
    camera_filter: bool = False
    camera_ids: frozenset[int] = frozenset()
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def selected_cameras(self) -> frozenset[int] | None:
        """The camera filter: ``None`` means every camera."""
        return self.camera_ids if self.camera_filter else None


class WebhookRow(WebhookRecord):
    """A webhook with its signing secrets (read by the delivery engine only, never shown).

    Attributes:
        secret: the current ``whsec_…`` secret (needed in clear to sign).
        previous_secret: the secret before a rotation, which signs too until
            ``previous_secret_until``.
    """

    secret: str = Field(repr=False, exclude=True)
    previous_secret: str | None = Field(default=None, repr=False, exclude=True)
    previous_secret_until: datetime | None = None


class WebhookDelivery(Record):
    """One message to one webhook, and how its attempts went.

    Attributes:
        id: grows in enqueue order (the order of deliveries per webhook).
        message_id: ``webhook-id`` and CloudEvents ``id``: the same on every attempt.
        event_type: the CloudEvents type (``citybrain.event.started``, …).
        event_id: the event it carries, if any.
        last_status_code: the HTTP status of the latest attempt (``None``: no answer).
        last_error: what went wrong in the latest attempt, in words (never the answer's body).
    """

    id: int
    webhook_id: int
    message_id: str
    event_type: str
    event_id: str | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    enqueued_at: datetime
    next_attempt_at: datetime
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


class WebhookDeliveryRow(WebhookDelivery):
    """A delivery with the exact bytes every attempt sends."""

    body: bytes = Field(repr=False, exclude=True)
