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
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from citybrain.citydata import ChangeLog, Site, diff_sites
from citybrain.records.site import SiteAction, SiteImport
from citybrain.store.repositories.site_rows import (
    SITE_COLUMNS,
    site_rows,
    site_select,
    sites_from_rows,
)
from citybrain.store.schema import site_changes, site_imports, sites
from citybrain.store.types import SRID, utc

__all__ = ["ImportOutcome", "replace_source"]

#: Rows per statement (SQLite) or per COPY buffer flush (PostgreSQL).
BATCH = 5_000
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
    old = sites_from_rows(
        session.execute(select(*site_select(session)).where(sites.c.source == source)).all()
    )
    changes = diff_sites(old, new, now=now, since=since)
    written = {*changes.added, *changes.changed, *changes.expired}
    rows = site_rows([site for site in new if site.id in written], now)
    if postgres:
        _copy_upsert(session, rows)
    else:
        _sqlite_upsert(session, rows)
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


def _sqlite_upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = sqlite.insert(sites)
    statement = stmt.on_conflict_do_update(
        index_elements=["source", "source_id"],
        set_={name: stmt.excluded[name] for name in _UPDATED},
    )
    for start in range(0, len(rows), BATCH):
        session.execute(statement, rows[start : start + BATCH])


def _copy_upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: ``COPY`` into a temporary table, then one upsert from it."""
    if not rows:
        return
    hexes = {
        name: shapely.to_wkb(
            shapely.set_srid(np.asarray([row[name] for row in rows], dtype=object), SRID),
            hex=True,
            include_srid=True,
        )
        for name in ("geometry", "area")
    }
    columns = ", ".join(f'"{name}"' for name in SITE_COLUMNS)
    session.execute(text("DROP TABLE IF EXISTS sites_incoming"))
    session.execute(text("CREATE TEMP TABLE sites_incoming (LIKE sites) ON COMMIT DROP"))
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY sites_incoming ({columns}) FROM STDIN") as copy,
    ):
        for i, row in enumerate(rows):
            copy.write_row(_copy_row(row, hexes["geometry"][i], hexes["area"][i]))
    updates = ", ".join(f'"{name}" = excluded."{name}"' for name in _UPDATED)
    session.execute(
        text(
            f"INSERT INTO sites ({columns}) SELECT {columns} FROM sites_incoming "
            f"ON CONFLICT (source, source_id) DO UPDATE SET {updates}"
        )
    )
    session.execute(text("DROP TABLE sites_incoming"))


def _copy_row(row: dict[str, Any], geometry: str, area: str) -> tuple[Any, ...]:
    """One row as COPY takes it: JSON as text, geometry as hex EWKB."""
    out: list[Any] = []
    for name in SITE_COLUMNS:
        value = row[name]
        if name == "geometry":
            value = geometry
        elif name == "area":
            value = area
        elif name in ("attributes", "key_attributes"):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        out.append(value)
    return tuple(out)


def _log_changes(
    session: Session,
    changes: ChangeLog,
    *,
    source: str,
    import_id: int,
    now: datetime,
    by: str | None,
) -> None:
    rows = [
        {"at": now, "source": source, "site_id": site_id, "action": action.value,
         "import_id": import_id, "by": by}
        for action, ids in (
            (SiteAction.ADDED, changes.added), (SiteAction.CHANGED, changes.changed),
            (SiteAction.EXPIRED, changes.expired), (SiteAction.REMOVED, changes.removed),
        )
        for site_id in ids
    ]  # fmt: skip
    for start in range(0, len(rows), BATCH):
        session.execute(insert(site_changes), rows[start : start + BATCH])
