"""Alembic environment: runs on the connection :func:`citybrain.store.migrate.migrate` passes."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, create_engine

from citybrain.store.schema import include_object, metadata
from citybrain.store.types import UTCDateTime

__all__: list[str] = []


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application types: a later change to them would rewrite history.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        # PostGIS's own tables and the PostgreSQL-only GiST index are not the models'.
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Command-line use (``alembic -x url=...``), e.g. to autogenerate a new revision.
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///citybrain-dev.db")
    with create_engine(url).begin() as own:
        _run(own)


_main()
