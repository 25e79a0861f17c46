"""City data: sites, their imports and change log; camera footprints and calibration; the
context of events.

On PostgreSQL, sites' geometry is PostGIS ``geometry(GEOMETRY, 4326)`` with a GiST index on the
area every spatial query uses; this revision creates the extension when it is missing (which
needs the privilege to: in production a DBA runs ``CREATE EXTENSION postgis`` once). On SQLite
geometry is WKB in a blob, and the bounds columns are indexed instead.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

__all__: list[str] = []

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _geometry() -> sa.types.TypeEngine[Any]:
    spatial = Geometry("GEOMETRY", srid=4326, spatial_index=False)
    return sa.LargeBinary().with_variant(spatial, "postgresql")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "site_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=True),
        sa.Column("label", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("problems", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_imports")),
    )
    op.create_index("ix_site_imports_by_at", "site_imports", ["by", "at"], unique=False)
    op.create_index("ix_site_imports_source_at", "site_imports", ["source", "at"], unique=False)
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attributes", _json(), nullable=False),
        sa.Column("key_attributes", _json(), nullable=False),
        sa.Column("geometry", _geometry(), nullable=False),
        sa.Column("area", _geometry(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("source", "source_id", name="uq_sites_source_source_id"),
    )
    op.create_index(
        "ix_sites_bounds", "sites", ["min_lon", "max_lon", "min_lat", "max_lat"], unique=False
    )
    op.create_index("ix_sites_kind", "sites", ["kind"], unique=False)
    op.create_index("ix_sites_validity", "sites", ["valid_from", "valid_to"], unique=False)
    if postgres:
        op.execute("CREATE INDEX ix_sites_area_gist ON sites USING gist (area)")
    op.create_table(
        "site_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("site_id", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=7), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(length=120), nullable=True),
        sa.CheckConstraint(
            "action IN ('added', 'changed', 'expired', 'removed')",
            name=op.f("ck_site_changes_action"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["site_imports.id"],
            name=op.f("fk_site_changes_import_id_site_imports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_changes")),
    )
    op.create_index("ix_site_changes_at", "site_changes", ["at"], unique=False)
    op.create_index("ix_site_changes_site_id_at", "site_changes", ["site_id", "at"], unique=False)
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("drawn_footprint", _json(), nullable=True))
        batch.add_column(sa.Column("calibration", _json(), nullable=True))
    with op.batch_alter_table("events") as batch:
        # Events stored before this revision have no context: an empty one.
        batch.add_column(
            sa.Column("context", _json(), server_default=sa.text("'{}'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("context")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("calibration")
        batch.drop_column("drawn_footprint")
    op.drop_index("ix_site_changes_site_id_at", table_name="site_changes")
    op.drop_index("ix_site_changes_at", table_name="site_changes")
    op.drop_table("site_changes")
    op.drop_index("ix_sites_validity", table_name="sites")
    op.drop_index("ix_sites_kind", table_name="sites")
    op.drop_index("ix_sites_bounds", table_name="sites")
    op.drop_table("sites")
    op.drop_index("ix_site_imports_source_at", table_name="site_imports")
    op.drop_index("ix_site_imports_by_at", table_name="site_imports")
    op.drop_table("site_imports")
    # The extension stays: other objects may use it, and dropping it needs the privilege.
