"""Webhooks: CloudEvents over HTTP, signed per Standard Webhooks, from an outbox.

See :mod:`~citybrain.integrations.webhooks.engine` for the delivery guarantees and
:mod:`~citybrain.integrations.webhooks.sender` for what a single attempt does.
"""

from citybrain.integrations.webhooks.engine import DeliveryEngine, RetryPolicy
from citybrain.integrations.webhooks.envelope import (
    CONTENT_TYPE,
    EVENT_TYPES,
    TEST_TYPE,
    OutboundMessage,
    cloudevent,
    new_message_id,
    probe_message,
)
from citybrain.integrations.webhooks.outbox import (
    Delivery,
    DeliveryOutbox,
    DeliveryStatus,
    MemoryOutbox,
)
from citybrain.integrations.webhooks.sender import AttemptResult, WebhookSender
from citybrain.integrations.webhooks.service import WebhookService, WebhookSettings
from citybrain.integrations.webhooks.signing import (
    SECRET_PREFIX,
    new_secret,
    secret_key,
    sign,
    signature_headers,
)
from citybrain.integrations.webhooks.targets import (
    MemoryDirectory,
    WebhookDirectory,
    WebhookTarget,
    check_webhook_url,
)

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "SECRET_PREFIX",
    "TEST_TYPE",
    "AttemptResult",
    "Delivery",
    "DeliveryEngine",
    "DeliveryOutbox",
    "DeliveryStatus",
    "MemoryDirectory",
    "MemoryOutbox",
    "OutboundMessage",
    "RetryPolicy",
    "WebhookDirectory",
    "WebhookSender",
    "WebhookService",
    "WebhookSettings",
    "WebhookTarget",
    "check_webhook_url",
    "cloudevent",
    "new_message_id",
    "new_secret",
    "probe_message",
    "secret_key",
    "sign",
    "signature_headers",
]
