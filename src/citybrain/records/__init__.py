"""Each entity's fields, declared once.

The store derives its tables from these records, the API its schemas, the runtime its health
messages; each boundary has one mapper to or from them (``Record.model_validate(row)`` for
table rows, :func:`event_state` and :func:`count_record` for the engine's output). No I/O here.
"""

from citybrain.records.audit import Action, AuditEntry
from citybrain.records.base import Record, partial_model, wall_time
from citybrain.records.camera import CameraFields, CameraHealth, CameraRecord
from citybrain.records.count import COUNT_KEY, CountTotal, LineCountRecord, count_record
from citybrain.records.event import (
    EventRecord,
    EventStat,
    EventState,
    EventStatus,
    EventView,
    LiveEvent,
    event_state,
    snapshot_url,
)
from citybrain.records.user import ApiTokenRecord, Role, UserAccount, UserRecord
from citybrain.records.webhook import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryRow,
    WebhookFields,
    WebhookRecord,
    WebhookRow,
    check_webhook_url,
)

__all__ = [
    "COUNT_KEY",
    "Action",
    "ApiTokenRecord",
    "AuditEntry",
    "CameraFields",
    "CameraHealth",
    "CameraRecord",
    "CountTotal",
    "DeliveryStatus",
    "EventRecord",
    "EventStat",
    "EventState",
    "EventStatus",
    "EventView",
    "LineCountRecord",
    "LiveEvent",
    "Record",
    "Role",
    "UserAccount",
    "UserRecord",
    "WebhookDelivery",
    "WebhookDeliveryRow",
    "WebhookFields",
    "WebhookRecord",
    "WebhookRow",
    "check_webhook_url",
    "count_record",
    "event_state",
    "partial_model",
    "snapshot_url",
    "wall_time",
]
