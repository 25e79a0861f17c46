"""Opening a store migrates it; the migrations match the models; SQLite is set up for sharing."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from citybrain.errors import StoreError
from citybrain.store import Store, open_store, sqlite_url
from citybrain.store.migrate import current_revision, head_revision, migrate
from citybrain.store.schema import include_object, metadata

TABLES = {
    "cameras", "events", "line_counts", "users", "user_cameras", "api_tokens", "audit", "sites",
    "site_imports", "site_changes", "webhooks", "webhook_cameras", "webhook_deliveries",
}  # fmt: skip


def test_open_store_migrates_to_head(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    assert set(inspect(store.engine).get_table_names()) >= TABLES


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        # PostGIS is enabled in the PostgreSQL test databases: its own tables are not ours.
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        diffs = compare_metadata(context, metadata)
    assert diffs == []


def test_required_indexes_exist(store: Store) -> None:
    inspector = inspect(store.engine)
    events = {tuple(ix["column_names"]) for ix in inspector.get_indexes("events")}
    assert {("started_at",), ("camera_id", "started_at"), ("kind", "started_at"),
            ("status", "started_at")} <= events  # fmt: skip
    audit = {tuple(ix["column_names"]) for ix in inspector.get_indexes("audit")}
    assert {("at",), ("username", "at"), ("camera_id", "at")} <= audit
    sites = {ix["name"] for ix in inspector.get_indexes("sites")}
    assert {"ix_sites_kind", "ix_sites_validity", "ix_sites_bounds"} <= sites
    if store.dialect == "postgresql":  # the spatial index every site query uses
        assert "ix_sites_area_gist" in sites
    deliveries = {ix["name"]: ix for ix in inspector.get_indexes("webhook_deliveries")}
    pending = deliveries["ix_webhook_deliveries_pending"]
    assert tuple(pending["column_names"]) == ("webhook_id", "id")


def test_downgrade_to_base_and_back(store: Store) -> None:
    migrate(store.engine, "base", downgrade=True)
    assert not TABLES & set(inspect(store.engine).get_table_names())
    assert current_revision(store.engine) is None
    migrate(store.engine)
    assert current_revision(store.engine) == head_revision()


def test_reopening_is_a_no_op(store: Store) -> None:
    again = open_store(store.engine.url.render_as_string(hide_password=False))
    assert current_revision(again.engine) == head_revision()
    assert set(inspect(again.engine).get_table_names()) >= TABLES
    again.close()


def test_sqlite_is_shared_safely(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "data"), busy_timeout_ms=1234)
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 1234
    assert (tmp_path / "data" / "citybrain.db").is_file()
    store.close()


def test_unreachable_server_is_a_store_error_without_password() -> None:
    with pytest.raises(StoreError, match="cannot open database") as caught:
        open_store("postgresql+psycopg://admin:s3cret@127.0.0.1:1/citybrain")
    assert "s3cret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="invalid database URL"):
        open_store("nonsense://")
