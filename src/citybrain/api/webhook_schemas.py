"""What the webhook routes take and return (``/api/webhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field, field_validator

from citybrain.api.schemas import MAX_ID, Schema
from citybrain.config.model import RULE_KINDS
from citybrain.records import WebhookDelivery, WebhookFields, WebhookRecord, partial_model
from citybrain.records.webhook import EventKind
from citybrain.store import redacted_source

__all__ = [
    "DeliveriesPublic",
    "WebhookCreate",
    "WebhookCreated",
    "WebhookPublic",
    "WebhookTestPublic",
    "WebhookUpdate",
    "WebhooksPublic",
]

DeliveryPublic = WebhookDelivery


def _known_kind(kind: str) -> str:
    if kind not in RULE_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(RULE_KINDS)}")
    return kind


KnownKind = Annotated[EventKind, AfterValidator(_known_kind)]
CameraIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]],
    Field(min_length=1, max_length=10_000),
]


class WebhookCreate(WebhookFields):
    """A new webhook; its signing secret is made by the server and shown once."""

    kinds: list[KnownKind] | None = Field(
        default=None,
        max_length=64,
        title="Event kinds",
        description="The event kinds it receives (restricted_zone, occupancy, …); null = all.",
    )
    cameras: CameraIds | None = Field(
        default=None,
        title="Cameras",
        description="The cameras it receives events of; null = every camera you may see.",
    )

    @field_validator("kinds")
    @classmethod
    def _some_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        if kinds is not None and not kinds:
            raise ValueError("name at least one kind, or null for every kind")
        return None if kinds is None else list(dict.fromkeys(kinds))


class WebhookChange(WebhookCreate):
    rotate_secret: bool = Field(
        default=False,
        title="Rotate the secret",
        description="true: sign with a new secret (answered once); the old one signs too for "
        "24 hours, so that receivers can switch over.",
    )


if TYPE_CHECKING:  # type checkers see the full model; the route reads only what was sent
    WebhookUpdate = WebhookChange
else:
    WebhookUpdate = partial_model(
        WebhookChange,
        "WebhookUpdate",
        "The fields to change; absent fields stay as they are. `cameras: null` means every "
        "camera again.",
    )


class WebhookPublic(WebhookRecord):
    """A webhook as admins see it: the URL with credentials hidden, never the secret."""

    url: str = Field(title="URL", description="Where deliveries go (credentials hidden).")
    camera_filter: bool = Field(default=False, exclude=True)
    camera_ids: frozenset[int] = Field(default=frozenset(), exclude=True)
    cameras: list[int] | None = Field(description="The cameras it receives events of; null = all.")
    owner: str | None = Field(description="The user name of the admin who owns it.")
    failing: bool = Field(
        description="A delivery failed for the whole give-up time (24 h); cleared by the next "
        "success."
    )
    pending: int = Field(description="Deliveries waiting in the outbox.")

    @classmethod
    def of(cls, webhook: WebhookRecord, *, owner: str | None, pending: int) -> WebhookPublic:
        """The public view of a stored webhook (the one mapper for it)."""
        # A row with its secrets may come in: only the record's fields go out.
        shown = set(WebhookRecord.model_fields) - {"camera_ids", "camera_filter"}
        fields = webhook.model_dump(include=shown)
        selected = webhook.selected_cameras
        return cls.model_validate(
            fields | {
                "url": redacted_source(webhook.url),
                "cameras": None if selected is None else sorted(selected), "owner": owner,
                "failing": webhook.failing_since is not None, "pending": pending,
            }
        )  # fmt: skip


class WebhookCreated(WebhookPublic):
    """A webhook just created (or its secret just rotated): the only time the secret shows."""

    secret: str = Field(
        description="The `whsec_…` signing secret: verify `webhook-signature` with it (Standard "
        "Webhooks). Store it now: it is never shown again."
    )


class WebhooksPublic(Schema):
    items: list[WebhookPublic]


class DeliveriesPublic(Schema):
    items: list[DeliveryPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for older deliveries.")


class WebhookTestPublic(Schema):
    ok: bool = Field(description="The receiver answered 2xx.")
    status_code: int | None = Field(description="Its HTTP status; null when none came.")
    error: str | None = Field(description="What went wrong, in words (never its answer).")
    seconds: float
