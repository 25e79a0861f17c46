"""Coverage of sites by camera footprints, computed where the sites are.

PostgreSQL: one query. The GiST index pairs footprints with the sites they touch, PostGIS unions
each site's footprints and measures the covered part on the spheroid (``geography``); a site's
own area was measured at import (``area_m2``). SQLite: the sites are read and
:func:`citybrain.citydata.coverage` measures them (Shapely, in an equal-area projection); both
agree to about a square metre per hectare.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from citybrain.citydata import (
    CoverageReport,
    KindCoverage,
    SiteCoverage,
    coverage,
    no_cyclic_gc,
)
from citybrain.store.repositories.site_rows import site_select, sites_from_rows
from citybrain.store.schema import sites
from citybrain.store.types import ewkb_hexes, utc

__all__ = ["site_coverage"]

#: The sites a report is about: of the kinds asked for, valid at the time asked for.
_CHOSEN = (
    "(CAST(:kinds AS text[]) IS NULL OR s.kind = ANY(CAST(:kinds AS text[]))) "
    "AND (s.valid_from IS NULL OR s.valid_from <= :at) AND (s.valid_to IS NULL OR s.valid_to > :at)"
)

_QUERY = """
WITH f AS MATERIALIZED (
    SELECT i, CAST(g AS geometry) AS g
    FROM unnest(CAST(:i AS int[]), CAST(:g AS text[])) AS t(i, g)
), seen AS (
    SELECT s.id, ST_Union(f.g) AS g, array_agg(f.i ORDER BY f.i) AS cameras
    FROM f JOIN sites s ON s.area && f.g AND ST_Intersects(s.area, f.g)
    WHERE {chosen}
    GROUP BY s.id
)
SELECT s.id, s.kind, s.name, s.area_m2,
       COALESCE(ST_Area(CAST(ST_Intersection(s.area, seen.g) AS geography)), 0) AS covered_m2,
       seen.cameras,
       CASE WHEN :geometry THEN ST_AsBinary(COALESCE(ST_Difference(s.area, seen.g), s.area))
       END AS uncovered
FROM sites s LEFT JOIN seen ON seen.id = s.id
WHERE {chosen}
ORDER BY s.id
"""


def site_coverage(
    session: Session,
    footprints: Mapping[Hashable, BaseGeometry | None],
    *,
    kinds: Collection[str] | None,
    at: datetime,
    geometry: bool,
) -> CoverageReport:
    """Coverage of the sites of ``kinds`` valid at ``at`` by ``footprints`` (camera -> area).

    Args:
        geometry: compute each site's uncovered part (else it is an empty polygon).
    """
    with no_cyclic_gc():  # a result per site: 100,000 of them
        return _site_coverage(session, footprints, kinds=kinds, at=at, geometry=geometry)


def _site_coverage(
    session: Session,
    footprints: Mapping[Hashable, BaseGeometry | None],
    *,
    kinds: Collection[str] | None,
    at: datetime,
    geometry: bool,
) -> CoverageReport:
    present = {key: shape for key, shape in footprints.items() if shape is not None}
    if session.get_bind().dialect.name != "postgresql":
        query = _select_sites(session, kinds, at)
        report = coverage(sites_from_rows(session.execute(query).all()), present, kinds=kinds)
        if geometry:
            return report
        empty = [_without_outline(s) for s in report.sites]
        return CoverageReport(sites=empty, total=report.total, kinds=report.kinds)
    keys = list(present)
    hexes = ewkb_hexes([present[k] for k in keys])
    rows = session.execute(
        text(_QUERY.format(chosen=_CHOSEN)),
        {
            "i": list(range(len(keys))),
            "g": hexes,
            "kinds": None if kinds is None else sorted(kinds),
            "at": utc(at),
            "geometry": geometry,
        },
    ).all()
    return _report([_site(row, keys) for row in rows])


def _select_sites(session: Session, kinds: Collection[str] | None, at: datetime) -> Any:
    """The sites coverage is measured for: of ``kinds``, valid at ``at``."""
    c = sites.c
    at = utc(at)
    query = select(*site_select(session)).where(
        or_(c.valid_from.is_(None), c.valid_from <= at), or_(c.valid_to.is_(None), c.valid_to > at)
    )
    if kinds is not None:
        query = query.where(c.kind.in_(sorted(kinds)))
    return query.order_by(c.id)


def _site(row: Any, keys: list[Hashable]) -> SiteCoverage:
    area_m2 = float(row.area_m2)
    covered_m2 = min(float(row.covered_m2), area_m2)
    uncovered: BaseGeometry = Polygon()
    if row.uncovered is not None:
        uncovered = shapely.from_wkb(bytes(row.uncovered))
    cameras = tuple(keys[i] for i in (row.cameras or ()))
    share = covered_m2 / area_m2 if area_m2 > 0 else 0.0
    return SiteCoverage(row.id, row.kind, row.name, area_m2, covered_m2, share, uncovered, cameras)


def _without_outline(site: SiteCoverage) -> SiteCoverage:
    return SiteCoverage(
        site.site_id, site.kind, site.name, site.area_m2, site.covered_m2, site.share,
        Polygon(), site.cameras,
    )  # fmt: skip


def _report(results: list[SiteCoverage]) -> CoverageReport:
    def totals(group: list[SiteCoverage]) -> KindCoverage:
        return KindCoverage(
            sites=len(group),
            area_m2=float(sum(r.area_m2 for r in group)),
            covered_m2=float(sum(r.covered_m2 for r in group)),
        )

    kinds = sorted({r.kind for r in results})
    return CoverageReport(
        sites=results,
        total=totals(results),
        kinds={kind: totals([r for r in results if r.kind == kind]) for kind in kinds},
    )
