"""Sites between the store's rows and :class:`citybrain.citydata.Site`, many at a time.

Geometry is read as plain WKB and decoded by Shapely for a whole batch at once, not row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import ColumnElement, LargeBinary, Row, func, type_coerce
from sqlalchemy.orm import Session

from citybrain.citydata import Site, area_m2_local
from citybrain.store.schema import sites

__all__ = ["SITE_COLUMNS", "site_rows", "site_select", "sites_from_rows"]

#: Every column of ``sites`` but the two geometries, which :func:`site_select` reads as WKB.
_PLAIN = tuple(c for c in sites.c if c.name not in ("geometry", "area"))
#: The columns an import writes, in table order.
SITE_COLUMNS = tuple(c.name for c in sites.c)


def _wkb(session: Session, column: ColumnElement[Any]) -> ColumnElement[bytes]:
    if session.get_bind().dialect.name == "postgresql":
        return func.ST_AsBinary(column, type_=LargeBinary)
    return type_coerce(column, LargeBinary)


def site_select(session: Session) -> list[ColumnElement[Any]]:
    """The columns to select for :func:`sites_from_rows` (geometries as plain WKB)."""
    return [
        *_PLAIN,
        _wkb(session, sites.c.geometry).label("geometry_wkb"),
        _wkb(session, sites.c.area).label("area_wkb"),
    ]


def sites_from_rows(rows: Sequence[Row[Any]]) -> list[Site]:
    """Sites from rows selected with :func:`site_select` (geometry decoded in one batch)."""
    if not rows:
        return []
    geometry = shapely.from_wkb(np.asarray([bytes(r.geometry_wkb) for r in rows], dtype=object))
    area = shapely.from_wkb(np.asarray([bytes(r.area_wkb) for r in rows], dtype=object))
    return [
        Site(
            id=row.id,
            source=row.source,
            source_id=row.source_id,
            kind=row.kind,
            name=row.name,
            geometry=geometry[i],
            area=area[i],
            radius_m=row.radius_m,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            attributes=dict(row.attributes),
            key_attributes=tuple(row.key_attributes),
        )
        for i, row in enumerate(rows)
    ]


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
