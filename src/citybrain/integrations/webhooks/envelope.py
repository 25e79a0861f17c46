"""CloudEvents 1.0 envelopes (JSON, structured mode) for webhook deliveries.

One envelope per event phase, built once and stored in the outbox, so that every webhook and
every retry sends the same bytes with the same id (receivers de-duplicate on it)::

    {"specversion": "1.0", "id": "msg_…", "source": "https://cb.example",
     "type": "citybrain.event.started", "time": "2026-03-02T08:00:03Z",
     "subject": "gate", "datacontenttype": "application/json", "data": {…the API's event…}}
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from citybrain.integrations.mqtt.messages import absolute_url
from citybrain.integrations.notices import EventNotice, dumps, isotime

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "TEST_TYPE",
    "OutboundMessage",
    "cloudevent",
    "new_message_id",
    "probe_message",
]

#: CloudEvents' media type for a structured-mode JSON event.
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
#: The CloudEvents ``type`` of each event phase.
EVENT_TYPES = {
    "start": "citybrain.event.started",
    "update": "citybrain.event.updated",
    "end": "citybrain.event.ended",
}
#: The type of the message ``POST /api/webhooks/{id}/test`` sends.
TEST_TYPE = "citybrain.webhook.test"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A signed-to-be webhook message: its id (``webhook-id`` and CloudEvents ``id``), type,
    the exact body bytes, and the id of the event it carries (for the deliveries view)."""

    message_id: str
    event_type: str
    body: bytes
    event_id: str | None = None


def new_message_id() -> str:
    """A unique message id in the Standard Webhooks style (``msg_`` and 32 hex digits)."""
    return f"msg_{uuid.uuid4().hex}"


def cloudevent(
    notice: EventNotice,
    *,
    source: str,
    base_url: str | None = None,
    message_id: str | None = None,
) -> OutboundMessage:
    """The envelope of one event phase.

    Args:
        notice: the event phase.
        source: the CloudEvents ``source`` (the server's public URL, or a URI naming it).
        base_url: makes a relative ``snapshot_url`` absolute.
        message_id: the id to use (default: a new one).

    Raises:
        TypeError: the event holds bytes (images never leave as bytes).
    """
    data = dict(notice.event)
    if notice.snapshot_url is not None or "snapshot_url" in data:
        data["snapshot_url"] = absolute_url(
            notice.snapshot_url or data.get("snapshot_url"), base_url
        )
    message = _envelope(
        event_type=EVENT_TYPES[notice.phase], source=source, subject=notice.camera,
        time=notice.at, data=data, message_id=message_id,
    )  # fmt: skip
    return replace(message, event_id=notice.event_id or None)


def probe_message(*, source: str, webhook_id: int, at: datetime | None = None) -> OutboundMessage:
    """A ``citybrain.webhook.test`` envelope, for checking a receiver by hand."""
    return _envelope(
        event_type=TEST_TYPE, source=source, subject=None, time=at or datetime.now(UTC),
        data={"webhook_id": webhook_id, "text": "citybrain webhook test"}, message_id=None,
    )  # fmt: skip


def _envelope(
    *,
    event_type: str,
    source: str,
    subject: str | None,
    time: datetime,
    data: dict[str, Any],
    message_id: str | None,
) -> OutboundMessage:
    message_id = message_id or new_message_id()
    envelope: dict[str, Any] = {
        "specversion": "1.0", "id": message_id, "source": source, "type": event_type,
        "time": isotime(time),
    }  # fmt: skip
    if subject is not None:
        envelope["subject"] = subject
    envelope["datacontenttype"] = "application/json"
    envelope["data"] = data
    return OutboundMessage(message_id=message_id, event_type=event_type, body=dumps(envelope))
