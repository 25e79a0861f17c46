"""Sites between the store's rows and :class:`citybrain.citydata.Site`, many at a time.

Reading 100,000 sites (a re-import compares them with its file) is mostly the cost of handling
each value: so a site's columns are read raw and decoded a column at a time. Geometry comes as
plain WKB, decoded by Shapely for the whole batch; the JSON columns as their text, parsed in one
``json.loads`` of them all; times as naive UTC, made aware here, each distinct one once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Dialect,
    LargeBinary,
    Row,
    Text,
    cast,
    func,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from citybrain.citydata import Site, area_m2_local, no_cyclic_gc
from citybrain.store.schema import sites

__all__ = ["SITE_COLUMNS", "site_select", "site_values", "sites_from_rows"]

#: The columns an import writes, in table order.
SITE_COLUMNS = tuple(c.name for c in sites.c)
#: The plain columns a :class:`Site` is made of, read as they are.
_PLAIN = ("id", "source", "source_id", "kind", "name", "radius_m")


def _wkb(session: Session, column: ColumnElement[Any]) -> ColumnElement[bytes]:
    if session.get_bind().dialect.name == "postgresql":
        return func.ST_AsBinary(column, type_=LargeBinary)
    return type_coerce(column, LargeBinary)


def site_select(session: Session) -> list[ColumnElement[Any]]:
    """The columns to select for :func:`sites_from_rows`, in its order (geometries as WKB, JSON
    as text, times with the driver's own type only)."""
    c = sites.c
    return [
        *(c[name] for name in _PLAIN),
        _naive_utc(session, c.valid_from).label("valid_from"),
        _naive_utc(session, c.valid_to).label("valid_to"),
        cast(c.attributes, Text).label("attributes_json"),
        cast(c.key_attributes, Text).label("key_attributes_json"),
        _wkb(session, c.geometry).label("geometry_wkb"),
        _wkb(session, c.area).label("area_wkb"),
    ]


def _naive_utc(session: Session, column: ColumnElement[Any]) -> ColumnElement[datetime]:
    """A time column as naive UTC: SQLite stores it so; PostgreSQL converts it (converting
    100,000 aware times in Python is slower than the whole query)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", column, type_=DateTime())
    return type_coerce(column, DateTime())


def _utc_column(values: Sequence[datetime | None]) -> list[datetime | None]:
    """Naive UTC times made aware; each distinct one once (sites share a few hundred dates)."""
    made: dict[datetime, datetime] = {}
    return [
        None
        if value is None
        else made.get(value) or made.setdefault(value, value.replace(tzinfo=UTC))
        for value in values
    ]


def _json_column(texts: Sequence[str]) -> list[Any]:
    """Each JSON text parsed; one parse of them all as an array, not a call per row."""
    return list(json.loads("[" + ",".join(texts) + "]")) if texts else []


def _key_column(texts: Sequence[str]) -> list[tuple[str, ...]]:
    """Each JSON list as a tuple; each distinct text parsed once (a source's sites share it)."""
    parsed = {text: tuple(json.loads(text)) for text in set(texts)}
    return [parsed[text] for text in texts]


def sites_from_rows(rows: Sequence[Row[Any]]) -> list[Site]:
    """Sites from rows selected with :func:`site_select` (decoded a column at a time)."""
    if not rows:
        return []
    with no_cyclic_gc():
        return _sites(rows)


def _sites(rows: Sequence[Row[Any]]) -> list[Site]:
    ids, source, source_id, kind, name, radius, start, end, attrs, keys, geometry, area = zip(
        *rows, strict=True
    )
    geometries = shapely.from_wkb(np.asarray([bytes(v) for v in geometry], dtype=object))
    areas = shapely.from_wkb(np.asarray([bytes(v) for v in area], dtype=object))
    return [
        Site(
            id=row[0], source=row[1], source_id=row[2], kind=row[3], name=row[4],
            radius_m=row[5], valid_from=row[6], valid_to=row[7], attributes=row[8],
            key_attributes=row[9], geometry=row[10], area=row[11],
        )
        for row in zip(
            ids, source, source_id, kind, name, radius, _utc_column(start), _utc_column(end),
            _json_column(attrs), _key_column(keys), geometries.tolist(), areas.tolist(),
            strict=True,
        )
    ]  # fmt: skip


def site_values(batch: Sequence[Site], now: datetime, dialect: Dialect) -> list[tuple[Any, ...]]:
    """Rows of ``sites`` for ``batch`` (imported and updated ``now``) as the driver takes them,
    in :data:`SITE_COLUMNS` order, for an ``executemany`` of plain SQL.

    Each value is what the column's own type makes of it on ``dialect`` (WKB, JSON text, UTC
    time), so the rows are the very ones SQLAlchemy would write, but made a column at a time:
    the geometries' WKB in one Shapely call, each distinct time and key list once.
    """
    if not batch:
        return []
    areas = np.asarray([site.area for site in batch], dtype=object)
    bounds = shapely.bounds(areas).tolist()
    square_metres = area_m2_local(areas).tolist()
    binary = _processor(LargeBinary(), dialect)  # what the geometry type hands on its WKB as
    geometry = [binary(wkb) for wkb in shapely.to_wkb([site.geometry for site in batch]).tolist()]
    area = [binary(wkb) for wkb in shapely.to_wkb(areas).tolist()]
    c = sites.c
    time = _memo(_processor(c.valid_from.type, dialect))
    keys = _memo(_processor(c.key_attributes.type, dialect))
    attributes = _processor(c.attributes.type, dialect)
    stamp = time(now)
    return [
        (
            site.id, site.source, site.source_id, site.kind, site.name, site.radius_m,
            time(site.valid_from), time(site.valid_to), attributes(dict(site.attributes)),
            keys(site.key_attributes), geometry[i], area[i], *bounds[i], square_metres[i],
            stamp, stamp,
        )
        for i, site in enumerate(batch)
    ]  # fmt: skip


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """The type's own conversion of a value for the driver (or none)."""
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    return process or (lambda value: value)


def _memo(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` once per distinct hashable value (a tuple of keys is converted as a list)."""
    made: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        if value not in made:
            made[value] = process(list(value) if isinstance(value, tuple) else value)
        return made[value]

    return cached
