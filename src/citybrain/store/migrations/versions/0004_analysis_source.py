"""A camera's analysis source: a second stream (a substream) the engine analyses, for issue 15.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__: list[str] = []

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Nullable: every camera stored so far analyses its one source, as before.
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("analysis_source", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("analysis_source")
