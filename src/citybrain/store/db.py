"""Open the database: SQLite embedded by default, PostgreSQL in production."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from citybrain.errors import StoreError
from citybrain.store.migrate import migrate

__all__ = ["DB_FILENAME", "Store", "describe_error", "open_store", "sqlite_url"]

DB_FILENAME = "citybrain.db"
SQLITE_BUSY_TIMEOUT_MS = 5000


def sqlite_url(data_dir: Path) -> str:
    """The URL of the embedded database in ``data_dir`` (created if missing)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(data_dir / DB_FILENAME).resolve()}"


def _sqlite_pragmas(busy_timeout_ms: int) -> Callable[[sqlite3.Connection, object], None]:
    def on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets the API read while the writer thread writes; NORMAL sync is safe in WAL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    return on_connect


def _engine(url: str, echo: bool, busy_timeout_ms: int) -> Engine:
    parsed = make_url(url)
    options: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "postgresql":
        # pre_ping replaces connections that died with the server (outage, restart).
        options |= {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
    engine = create_engine(parsed, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
    return engine


@dataclass(frozen=True, slots=True)
class Store:
    """An open database: its engine and a session factory.

    Use :meth:`session` for a unit of work and the repositories in
    :mod:`citybrain.store.repositories` inside it.
    """

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises."""
        with self.sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(
    url: str,
    *,
    migrate_to_head: bool = True,
    echo: bool = False,
    busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
) -> Store:
    """Connect to ``url`` and bring its schema to the newest migration.

    Args:
        url: an SQLAlchemy URL, e.g. :func:`sqlite_url` or ``postgresql+psycopg://u:p@host/db``.
        migrate_to_head: run the packaged Alembic migrations up to head.
        echo: log every SQL statement.
        busy_timeout_ms: SQLite only: how long a write waits for another writer's lock.

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    try:
        engine = _engine(url, echo, busy_timeout_ms)
    except (SQLAlchemyError, ValueError) as exc:
        raise StoreError(f"invalid database URL {_hidden(url)}: {exc}") from exc
    try:
        if migrate_to_head:
            migrate(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open database {_hidden(url)}: {describe_error(exc)}") from exc
    return Store(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def describe_error(exc: BaseException) -> str:
    """One line that says what went wrong, without SQLAlchemy's statement dump."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first_line}"


def _hidden(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"
