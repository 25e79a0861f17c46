"""Insert-or-update of many rows in one statement, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

from sqlalchemy import Table, TextClause, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from citybrain.records import COUNT_KEY, EventState, LineCountRecord
from citybrain.store.schema import events, line_counts

__all__ = ["CountMode", "upsert_counts", "upsert_events"]

CountMode = Literal["add", "replace"]

# Both dialects' INSERT ... ON CONFLICT share one API; only the import differs.
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}

#: What the engine reports of an event: the columns an upsert writes.
_EVENT_COLUMNS = tuple(EventState.model_fields)
#: Of those, what a later report replaces (the id and camera never change; a snapshot stays).
_ENGINE_OWNED = tuple(c for c in _EVENT_COLUMNS if c not in ("id", "camera_id", "snapshot"))


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    try:
        return _INSERTS[dialect](table)
    except KeyError:
        raise NotImplementedError(f"no upsert for database dialect {dialect!r}") from None


def upsert_events(session: Session, rows: Sequence[EventState]) -> None:
    """Insert events, or update the engine-owned fields of those already stored.

    Operator fields (status, acknowledged/resolved, note) are never touched, and a stored
    snapshot is kept when the update has none. Ids must be unique within ``rows``.
    """
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        document = json.dumps([row.model_dump(mode="json") for row in rows], separators=(",", ":"))
        session.execute(_json_upsert(), {"rows": document})
        return
    stmt = _insert(session, events)
    new = stmt.excluded
    changes = {name: new[name] for name in _ENGINE_OWNED}
    changes["snapshot"] = func.coalesce(new.snapshot, events.c.snapshot)
    # One cached statement, executed for many rows (the driver batches them): a multi-VALUES
    # statement would be compiled afresh for every batch, which costs more than the write.
    statement = stmt.on_conflict_do_update(index_elements=["id"], set_=changes)
    session.execute(statement, [row.model_dump() for row in rows])


@cache
def _json_upsert() -> TextClause:
    """PostgreSQL: the whole batch as one JSON document, typed by the table's own row type.

    Twice as fast as executemany here: one statement to parse and plan, one round trip, and
    the rows encoded by the C JSON encoder instead of per-value parameter adaptation.
    """
    columns = ", ".join(_EVENT_COLUMNS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in _ENGINE_OWNED)
    return text(
        f"INSERT INTO events ({columns}) "
        f"SELECT {columns} FROM json_populate_recordset(NULL::events, CAST(:rows AS json)) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}, "
        "snapshot = coalesce(excluded.snapshot, events.snapshot)"
    )


def upsert_counts(session: Session, rows: Sequence[LineCountRecord], mode: CountMode) -> None:
    """Insert counts; a count whose key is stored is added to it or replaces it (``mode``).

    Keys must be unique within ``rows``.
    """
    if not rows:
        return
    stmt = _insert(session, line_counts)
    new = stmt.excluded
    count = line_counts.c["count"] + new["count"] if mode == "add" else new["count"]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(COUNT_KEY),
        set_={"count": count, "interval_seconds": new.interval_seconds},
    )
    session.execute(stmt, [row.model_dump() for row in rows])
