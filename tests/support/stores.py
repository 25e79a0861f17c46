"""The ``store`` fixture shared by the store and API tests: a migrated, empty store per backend.

Import it into a conftest: ``from support.stores import store``. PostgreSQL comes from
:mod:`support.postgres` (the running server, or one the tests start themselves).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from citybrain.store import Store, open_store, sqlite_url
from citybrain.store.schema import metadata

__all__ = ["BACKENDS", "store", "truncate"]

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def truncate(store: Store) -> None:
    """Empty every table (PostgreSQL), so tests sharing one database start clean."""
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    with store.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        opened = open_store(sqlite_url(tmp_path / "data"))
        yield opened
        opened.close()
        return
    opened = open_store(request.getfixturevalue("postgres_url"))
    truncate(opened)
    try:
        yield opened
    finally:
        truncate(opened)
        opened.close()
