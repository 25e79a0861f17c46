"""The database's tables, derived from the records (:mod:`citybrain.records`).

Only what a record's types cannot say is written here: lengths, keys, constraints and indexes.
The Alembic migrations must match this metadata (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from citybrain.records import (
    COUNT_KEY,
    ApiTokenRecord,
    AuditEntry,
    CameraRecord,
    EventRecord,
    LineCountRecord,
    UserAccount,
    WebhookDeliveryRow,
    WebhookRow,
)
from citybrain.records.site import SiteChange, SiteImport, SiteRecord
from citybrain.store.tables import column, table_of
from citybrain.store.types import GeometryType

__all__ = [
    "SPATIAL_INDEXES",
    "api_tokens",
    "audit",
    "cameras",
    "events",
    "include_object",
    "line_counts",
    "metadata",
    "site_changes",
    "site_imports",
    "sites",
    "user_cameras",
    "users",
    "webhook_cameras",
    "webhook_deliveries",
    "webhooks",
]

# Named constraints let Alembic's batch mode (SQLite) find and alter them by name.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _camera_ref() -> ForeignKey:
    return ForeignKey("cameras.id", ondelete="CASCADE")


NAME = String(120)
KEY = column(Integer(), primary_key=True)

cameras = table_of(metadata, "cameras", CameraRecord, id=KEY, name=column(NAME, unique=True))

events = table_of(
    metadata,
    "events",
    EventRecord,
    Index("ix_events_started_at", "started_at"),
    Index("ix_events_camera_id_started_at", "camera_id", "started_at"),
    Index("ix_events_kind_started_at", "kind", "started_at"),
    Index("ix_events_status_started_at", "status", "started_at"),
    id=column(String(32), primary_key=True),
    camera_id=column(Integer(), _camera_ref()),
    kind=column(String(64)),
    rule=column(NAME),
    zone=column(NAME),
    line=column(NAME),
    label=column(String(64)),
    status=column(String(16), server_default="open"),
    acknowledged_by=column(NAME),
    resolved_by=column(NAME),
)

line_counts = table_of(
    metadata,
    "line_counts",
    LineCountRecord,
    # Counts are addressed by their key; the id only gives rows a short primary key.
    Column("id", Integer, primary_key=True),
    UniqueConstraint(*COUNT_KEY, name="uq_line_counts_key"),
    Index("ix_line_counts_interval_start", "interval_start"),
    camera_id=column(Integer(), _camera_ref()),
    rule=column(NAME),
    line=column(NAME),
    direction=column(String(32)),
    label=column(String(64)),
)

users = table_of(
    metadata,
    "users",
    UserAccount,
    exclude=("camera_ids",),
    id=KEY,
    username=column(NAME, unique=True),
    role=column(String(16)),
)

#: The cameras a restricted user may see (``UserRecord.restricted``).
user_cameras = Table(
    "user_cameras",
    metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("camera_id", _camera_ref(), primary_key=True),
)

api_tokens = table_of(
    metadata,
    "api_tokens",
    ApiTokenRecord,
    Column("token_hash", String(128), nullable=False, unique=True),
    id=KEY,
    user_id=column(Integer(), ForeignKey("users.id", ondelete="CASCADE"), index=True),
    name=column(NAME),
)

audit = table_of(
    metadata,
    "audit",
    AuditEntry,
    Index("ix_audit_at", "at"),
    Index("ix_audit_username_at", "username", "at"),
    Index("ix_audit_camera_id_at", "camera_id", "at"),
    # The trail outlives the cameras it mentions: camera_id is deliberately no foreign key.
    id=column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    username=column(NAME),
    action=column(String(64)),
    client=column(String(64)),
)


# --- city data (issue 12) ------------------------------------------------------------------------
# The GiST index on ``sites.area`` is PostgreSQL's alone, so the migration creates it and Alembic's
# comparison leaves it out (``SPATIAL_INDEXES``); the bounds indexes serve SQLite.

SITE_ID = String(80)
SITE_SOURCE = String(40)
SITE_KIND = String(40)
#: Indexes only PostgreSQL has (created by the migrations, unknown to this metadata).
SPATIAL_INDEXES = frozenset({"ix_sites_area_gist"})
#: PostGIS's own tables, which the extension creates in the database's schema.
POSTGIS_TABLES = frozenset({"spatial_ref_sys", "layer", "topology"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: what the migrations manage (not PostGIS's tables, nor the GiST index
    only PostgreSQL has)."""
    if type_ == "table" and reflected and name in POSTGIS_TABLES:
        return False
    return not (type_ == "index" and name in SPATIAL_INDEXES)


sites = table_of(
    metadata,
    "sites",
    SiteRecord,
    UniqueConstraint("source", "source_id", name="uq_sites_source_source_id"),
    Index("ix_sites_kind", "kind"),
    Index("ix_sites_validity", "valid_from", "valid_to"),
    Index("ix_sites_bounds", "min_lon", "max_lon", "min_lat", "max_lat"),
    id=column(SITE_ID, primary_key=True),
    source=column(SITE_SOURCE),
    source_id=column(String(200)),
    kind=column(SITE_KIND),
    name=column(String(200)),
    geometry=column(GeometryType()),
    area=column(GeometryType()),
)

site_imports = table_of(
    metadata,
    "site_imports",
    SiteImport,
    Index("ix_site_imports_source_at", "source", "at"),
    Index("ix_site_imports_by_at", "by", "at"),
    id=KEY,
    source=column(SITE_SOURCE),
    by=column(NAME),
    label=column(String(500)),
    status=column(String(16)),
)

site_changes = table_of(
    metadata,
    "site_changes",
    SiteChange,
    Index("ix_site_changes_at", "at"),
    Index("ix_site_changes_site_id_at", "site_id", "at"),
    # The log outlives the sites it names: site_id is deliberately no foreign key.
    id=column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    source=column(SITE_SOURCE),
    site_id=column(SITE_ID),
    import_id=column(Integer(), ForeignKey("site_imports.id", ondelete="SET NULL")),
    by=column(NAME),
)

# --- webhooks (issue 14) ---

webhooks = table_of(
    metadata,
    "webhooks",
    WebhookRow,
    exclude=("camera_ids",),
    id=KEY,
    url=column(String(2048)),
    description=column(String(500)),
    # A webhook never outlives the camera limit it was created under: it goes with its owner.
    owner_id=column(Integer(), ForeignKey("users.id", ondelete="CASCADE"), index=True),
)

#: The cameras a webhook with ``camera_filter`` receives events of.
webhook_cameras = Table(
    "webhook_cameras",
    metadata,
    Column("webhook_id", ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    Column("camera_id", _camera_ref(), primary_key=True),
)

_PENDING = text("status = 'pending'")

#: The outbox: a row per delivery, written before it is sent; ids give the order per webhook.
webhook_deliveries = table_of(
    metadata,
    "webhook_deliveries",
    WebhookDeliveryRow,
    # Each webhook's oldest pending delivery (the engine's heads), on a small partial index.
    Index(
        "ix_webhook_deliveries_pending",
        "webhook_id",
        "id",
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    ),
    Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
    Index("ix_webhook_deliveries_enqueued_at", "enqueued_at"),
    id=column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    webhook_id=column(Integer(), ForeignKey("webhooks.id", ondelete="CASCADE")),
    message_id=column(String(40)),
    event_type=column(String(64)),
    event_id=column(String(32)),
    status=column(String(10)),
    last_status_code=column(SmallInteger()),
    last_error=column(Text()),
    body=column(LargeBinary()),
)
