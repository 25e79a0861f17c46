"""Sites between the store's rows and :class:`citybrain.citydata.Site`, many at a time.

Reading 100,000 sites (a re-import compares them with its file) is mostly the cost of handling
each value: so a site's columns are read raw and decoded a column at a time. Geometry comes as
plain WKB, decoded by Shapely for the whole batch; the JSON columns as their text, parsed in one
``json.loads`` of them all; times as naive UTC, made aware here, each distinct one once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import ColumnElement, DateTime, LargeBinary, Row, Text, cast, func, type_coerce
from sqlalchemy.orm import Session

from citybrain.citydata import Site, area_m2_local, no_cyclic_gc
from citybrain.store.schema import sites

__all__ = ["SITE_COLUMNS", "site_rows", "site_select", "sites_from_rows"]

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


def site_rows(batch: Sequence[Site], now: datetime) -> list[dict[str, Any]]:
    """Rows of ``sites`` for ``batch`` (imported and updated ``now``)."""
    if not batch:
        return []
    areas = np.asarray([site.area for site in batch], dtype=object)
    bounds = shapely.bounds(areas)
    square_metres = area_m2_local(areas)
    return [
        {
            "id": site.id,
            "source": site.source,
            "source_id": site.source_id,
            "kind": site.kind,
            "name": site.name,
            "radius_m": site.radius_m,
            "valid_from": site.valid_from,
            "valid_to": site.valid_to,
            "attributes": dict(site.attributes),
            "key_attributes": list(site.key_attributes),
            "geometry": site.geometry,
            "area": site.area,
            "min_lon": float(b[0]),
            "min_lat": float(b[1]),
            "max_lon": float(b[2]),
            "max_lat": float(b[3]),
            "area_m2": float(m2),
            "imported_at": now,
            "updated_at": now,
        }
        for site, b, m2 in zip(batch, bounds, square_metres, strict=True)
    ]
