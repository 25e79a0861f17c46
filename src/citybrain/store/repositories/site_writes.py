"""Replacing a source's sites by a new import: one transaction, the change log with it.

An import is all or nothing: the importer refuses a bad file before anything reaches the store,
and a failure here (a dead database, a constraint) rolls the whole transaction back. Refreshes of
one source are serialised (an advisory lock on PostgreSQL; on SQLite the first write, the import's
own row, takes the database's write lock before anything is read).

Only what changed is written: added, changed and expired sites are upserted by ``(source,
source_id)``, removed ones deleted, unchanged ones left alone. PostgreSQL takes the rows through
``COPY`` into a temporary table and one ``INSERT ... SELECT ... ON CONFLICT``; SQLite through one
cached upsert statement executed for every row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from psycopg import sql
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from citybrain.citydata import ChangeLog, Site, area_m2_local, diff_sites
from citybrain.records.site import SiteAction, SiteImport
from citybrain.store.repositories.site_rows import (
    SITE_COLUMNS,
    site_select,
    site_values,
    sites_from_rows,
)
from citybrain.store.schema import site_changes, site_imports, sites
from citybrain.store.types import ewkb_bytes, utc

__all__ = ["REINDEX_MIN", "ImportOutcome", "replace_source"]

#: Rows per statement (SQLite) or per COPY buffer flush (PostgreSQL).
BATCH = 5_000
#: The order :func:`_copy_upsert` writes a row's values in (the table's, checked at import).
_COPY_ORDER = (
    "id", "source", "source_id", "kind", "name", "radius_m", "valid_from", "valid_to",
    "attributes", "key_attributes", "geometry", "area", "min_lon", "min_lat", "max_lon",
    "max_lat", "area_m2", "imported_at", "updated_at",
)  # fmt: skip
if SITE_COLUMNS != _COPY_ORDER:  # a field added to SiteRecord needs its place in the COPY row
    raise RuntimeError(f"sites columns {SITE_COLUMNS} differ from the COPY row {_COPY_ORDER}")
#: A first import into an empty table of at least this many sites builds the secondary
#: indexes after its COPY (:func:`_copy_upsert`).
REINDEX_MIN = 1_000
#: The types binary COPY writes the row's values as. Only the bytes go to the server, which
#: reads them by the column's own type: ``bytea`` here sends geometry's EWKB and ``jsonb``'s
#: binary form as they are.
_COPY_TYPES = (
    "text", "text", "text", "text", "text", "float8", "timestamptz", "timestamptz", "bytea",
    "bytea", "bytea", "bytea", "float8", "float8", "float8", "float8", "float8", "timestamptz",
    "timestamptz",
)  # fmt: skip
#: ``jsonb``'s binary form: this version byte, then the JSON text.
_JSONB = b"\x01"
#: Columns an update of an existing site rewrites (its id, source and first import stay).
_UPDATED = tuple(c for c in SITE_COLUMNS if c not in ("id", "source", "source_id", "imported_at"))


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did: its row in ``site_imports`` and its change log."""

    record: SiteImport
    changes: ChangeLog


def replace_source(
    session: Session,
    *,
    source: str,
    new: Sequence[Site],
    now: datetime,
    by: str | None,
    label: str,
    merged: int = 0,
    skipped: int = 0,
) -> ImportOutcome:
    """Make ``new`` the sites of ``source`` (in the caller's transaction, which commits).

    Raises:
        ValueError: a site of ``new`` belongs to another source.
    """
    stray = [site.id for site in new if site.source != source]
    if stray:
        raise ValueError(f"sites {stray[:3]} are not of source {source!r}")
    now = utc(now)
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": source})
    import_id = _start_import(session, source=source, now=now, by=by, label=label)
    since = session.scalar(
        select(func.max(site_imports.c.at)).where(
            site_imports.c.source == source,
            site_imports.c.status == "ok",
            site_imports.c.id != import_id,
        )
    )
    reindex = postgres and len(new) >= REINDEX_MIN and _lock_if_empty(session)
    old = sites_from_rows(
        session.execute(select(*site_select(session)).where(sites.c.source == source)).all()
    )
    changes = diff_sites(old, new, now=now, since=since)
    written = {*changes.added, *changes.changed, *changes.expired}
    batch = [site for site in new if site.id in written]
    if postgres:
        _copy_upsert(session, batch, now, fresh=not old, reindex=reindex)
    else:
        _sqlite_upsert(session, batch, now)
    gone = list(changes.removed)
    for start in range(0, len(gone), BATCH):
        session.execute(delete(sites).where(sites.c.id.in_(gone[start : start + BATCH])))
    _log_changes(session, changes, source=source, import_id=import_id, now=now, by=by)
    counts = {
        "added": len(changes.added), "changed": len(changes.changed),
        "expired": len(changes.expired), "removed": len(changes.removed),
        "unchanged": changes.unchanged, "merged": merged, "skipped": skipped,
    }  # fmt: skip
    row = session.execute(
        update(site_imports)
        .where(site_imports.c.id == import_id)
        .values(counts)
        .returning(*site_imports.c)
    ).one()
    return ImportOutcome(SiteImport.model_validate(row._mapping), changes)


def record_refused(
    session: Session,
    *,
    source: str,
    now: datetime,
    by: str | None,
    label: str,
    problems: Sequence[str],
) -> SiteImport:
    """Note a refused import (nothing of its file is kept; this says it was tried and why)."""
    values = _import_values(source=source, now=utc(now), by=by, label=label)
    values |= {"status": "refused", "problems": list(problems)}
    row = session.execute(insert(site_imports).values(values).returning(*site_imports.c)).one()
    return SiteImport.model_validate(row._mapping)


def _import_values(*, source: str, now: datetime, by: str | None, label: str) -> dict[str, Any]:
    return {
        "source": source, "at": now, "by": by, "label": label[:500], "status": "ok",
        "added": 0, "changed": 0, "expired": 0, "removed": 0, "unchanged": 0, "merged": 0,
        "skipped": 0, "problems": [],
    }  # fmt: skip


def _start_import(
    session: Session, *, source: str, now: datetime, by: str | None, label: str
) -> int:
    values = _import_values(source=source, now=now, by=by, label=label)
    stmt = insert(site_imports).values(values).returning(site_imports.c.id)
    return int(session.execute(stmt).scalar_one())


def _sqlite_upsert(session: Session, batch: list[Site], now: datetime) -> None:
    """SQLite: one upsert statement of plain SQL executed for every row, the rows made a column
    at a time (:func:`site_values`) rather than value by value by SQLAlchemy."""
    rows = site_values(batch, now, session.get_bind().dialect)
    if not rows:
        return
    columns = ", ".join(f'"{name}"' for name in SITE_COLUMNS)
    marks = ", ".join("?" for _ in SITE_COLUMNS)
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in _UPDATED)
    statement = (
        f"INSERT INTO sites ({columns}) VALUES ({marks}) "
        f"ON CONFLICT (source, source_id) DO UPDATE SET {updates}"
    )
    connection = session.connection()
    for start in range(0, len(rows), BATCH):
        connection.exec_driver_sql(statement, rows[start : start + BATCH])


def _lock_if_empty(session: Session) -> bool:
    """PostgreSQL: whether ``sites`` is empty; if it is, it stays locked against everyone (its
    readers too) until this import commits, a few seconds at most.

    The size is read first without a lasting lock (``pg_relation_size`` lets go of its own), so
    that two first imports never each hold a share of the table while waiting for the other's
    exclusive lock; under the lock, emptiness is checked again.
    """
    if session.scalar(text("SELECT pg_relation_size('sites')")) != 0:
        return False
    session.execute(text("LOCK TABLE sites IN ACCESS EXCLUSIVE MODE"))
    return not session.scalar(text("SELECT EXISTS (SELECT 1 FROM sites)"))


def _copy_upsert(
    session: Session, batch: list[Site], now: datetime, *, fresh: bool, reindex: bool = False
) -> None:
    """PostgreSQL: ``COPY`` into a temporary table, then one upsert from it; a source's first
    import (``fresh``: it has no sites yet, and its lock is held) is copied in directly.

    With ``reindex`` (the table is empty and locked: :func:`_lock_if_empty`) the indexes other
    than the key and the unique source id are dropped before the COPY and built again after it,
    from their own definitions: building an index over 100,000 rows at once costs a fraction of
    growing it row by row.

    The COPY is binary: the server reads each value by its column's type, so geometry goes as
    EWKB (no hex to write and parse: half the bytes of text COPY), JSON as ``jsonb``'s binary
    form (a version byte, then the text), times and numbers in their binary forms.
    """
    if not batch:
        return
    columns = ", ".join(f'"{name}"' for name in SITE_COLUMNS)
    target = "sites" if fresh else "sites_incoming"
    if not fresh:
        session.execute(text("DROP TABLE IF EXISTS sites_incoming"))
        session.execute(text("CREATE TEMP TABLE sites_incoming (LIKE sites) ON COMMIT DROP"))
    connection = session.connection().connection.driver_connection
    assert connection is not None
    rebuild = _drop_secondary_indexes(connection) if reindex else []
    _copy_rows(connection, f"COPY {target} ({columns}) FROM STDIN (FORMAT BINARY)", batch, now)
    with connection.cursor() as cursor:
        for definition in rebuild:
            cursor.execute(definition)
    if fresh:
        return
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in _UPDATED)
    session.execute(
        text(
            f"INSERT INTO sites ({columns}) SELECT {columns} FROM sites_incoming "
            f"ON CONFLICT (source, source_id) DO UPDATE SET {updates}"
        )
    )
    session.execute(text("DROP TABLE sites_incoming"))


def _copy_rows(connection: Any, statement: str, batch: list[Site], now: datetime) -> None:
    """The rows of ``batch`` through a binary ``COPY ... FROM STDIN`` (:data:`_COPY_TYPES`)."""
    areas = np.asarray([site.area for site in batch], dtype=object)
    bounds = shapely.bounds(areas).tolist()
    square_metres = area_m2_local(areas).tolist()
    geometry_wkb = ewkb_bytes([site.geometry for site in batch])
    area_wkb = ewkb_bytes(list(areas))
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    keys: dict[tuple[str, ...], bytes] = {}
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(_COPY_TYPES)
        for i, site in enumerate(batch):
            key = keys.get(site.key_attributes) or keys.setdefault(
                site.key_attributes, _JSONB + encode(list(site.key_attributes)).encode()
            )
            copy.write_row((
                site.id, site.source, site.source_id, site.kind, site.name, site.radius_m,
                site.valid_from, site.valid_to, _JSONB + encode(dict(site.attributes)).encode(),
                key, geometry_wkb[i], area_wkb[i], *bounds[i], square_metres[i], now, now,
            ))  # fmt: skip


def _drop_secondary_indexes(connection: Any) -> list[str]:
    """Drop the indexes of ``sites`` that back no constraint; their definitions, to build them
    again (``CREATE INDEX ...`` as PostgreSQL writes it)."""
    with connection.cursor() as cursor:
        indexes = cursor.execute(
            "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x "
            "JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = 'sites'::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid) "
            "ORDER BY c.relname"
        ).fetchall()
        for name, _ in indexes:
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return [definition for _, definition in indexes]


def _log_changes(
    session: Session,
    changes: ChangeLog,
    *,
    source: str,
    import_id: int,
    now: datetime,
    by: str | None,
) -> None:
    entries: list[tuple[str, str]] = []
    for action, ids in (
        (SiteAction.ADDED, changes.added), (SiteAction.CHANGED, changes.changed),
        (SiteAction.EXPIRED, changes.expired), (SiteAction.REMOVED, changes.removed),
    ):  # fmt: skip
        value = action.value  # once per action: an Enum's value is a slow property
        entries += [(site_id, value) for site_id in ids]
    if not entries:
        return
    if session.get_bind().dialect.name == "postgresql":
        # A first import of 100,000 sites logs 100,000 rows: one binary COPY.
        connection = session.connection().connection.driver_connection
        assert connection is not None
        with (
            connection.cursor() as cursor,
            cursor.copy(
                'COPY site_changes (at, source, site_id, action, import_id, "by") '
                "FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["timestamptz", "text", "text", "text", "int4", "text"])
            for site_id, value in entries:
                copy.write_row((now, source, site_id, value, import_id, by))
        return
    rows = [
        {"at": now, "source": source, "site_id": site_id, "action": action,
         "import_id": import_id, "by": by}
        for site_id, action in entries
    ]  # fmt: skip
    for start in range(0, len(rows), BATCH):
        session.execute(insert(site_changes), rows[start : start + BATCH])
