"""Records of a file to sites, through a mapping: pure computation, no I/O.

Each record is drafted field by field (:mod:`citybrain.citydata.drafting`); every problem names
the record (``line 4``, ``feature 2``) and the field. Geometry is then built, transformed,
validated and buffered for all records at once (vectorised Shapely and pyproj).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from citybrain.citydata.drafting import MISSING, Draft, Drafter, Record, lookup, parse_date
from citybrain.citydata.errors import Problems
from citybrain.citydata.geo import buffer_m, outside_wgs84, to_wgs84
from citybrain.citydata.mapping import Mapping
from citybrain.citydata.model import Site, site_id

__all__ = [
    "MISSING",
    "ImportResult",
    "Record",
    "build_sites",
    "lookup",
    "parse_date",
    "sites_from_drafts",
]

#: Shapely type ids: polygons are areas already; the rest are grown by the mapping's radius.
_POINT, _LINE, _POLYGON, _MULTIPOINT, _MULTILINE, _MULTIPOLYGON, _COLLECTION = 0, 1, 3, 4, 5, 6, 7
_POLYGONAL = (_POLYGON, _MULTIPOLYGON)
_ALLOWED = (_POINT, _LINE, _POLYGON, _MULTIPOINT, _MULTILINE, _MULTIPOLYGON, _COLLECTION)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ImportResult:
    """The sites of one file, what the mapping said to skip, and how many records were merged."""

    source: str
    sites: list[Site]
    skipped: list[str] = field(default_factory=list)
    merged: int = 0


def build_sites(
    records: Sequence[Record],
    mapping: Mapping,
    *,
    kind: str,
    crs: pyproj.CRS | None,
    label: str,
) -> ImportResult:
    """Sites from ``records`` (coordinates in ``crs``; ``None`` = WGS 84), all or none.

    Raises:
        SiteImportError: some record is wrong; names each (up to 20) with its field.
    """
    problems = Problems()
    drafter = Drafter(mapping, problems)
    drafts = [drafter.draft(record) for record in records]
    return sites_from_drafts(drafts, mapping, kind=kind, crs=crs, label=label, problems=problems)


def sites_from_drafts(
    drafts: list[Draft],
    mapping: Mapping,
    *,
    kind: str,
    crs: pyproj.CRS | None,
    label: str,
    problems: Problems | None = None,
) -> ImportResult:
    """:func:`build_sites` of records already drafted (with the drafting's ``problems``).

    Raises:
        SiteImportError: some record is wrong; names each (up to 20) with its field.
    """
    problems = problems or Problems()
    skipped = _skip_missing_geometry(drafts, mapping, problems)
    drafts = [d for d in drafts if d.geometry is not None]
    problems.raise_if_any(label)
    geometries, areas, buffered = _geometries(drafts, mapping, crs, problems)
    problems.raise_if_any(label)
    keys = tuple(mapping.context) if mapping.context is not None else tuple(mapping.attributes)
    radius = mapping.geometry.radius_m
    sites = [
        _site(draft, geometry, area, radius if grown else None, mapping, kind, keys)
        for draft, geometry, area, grown in zip(drafts, geometries, areas, buffered, strict=True)
    ]
    sites, merged = _deduplicate(sites, drafts, mapping, problems)
    problems.raise_if_any(label)
    return ImportResult(source=mapping.source, sites=sites, skipped=skipped, merged=merged)


def _skip_missing_geometry(drafts: list[Draft], mapping: Mapping, problems: Problems) -> list[str]:
    skipped = []
    field_name = mapping.geometry.wkt or mapping.geometry.lat or "geometry"
    for draft in drafts:
        if draft.geometry is None:
            if mapping.missing_geometry == "skip":
                skipped.append(f"{draft.where}: {field_name}: no geometry")
            else:
                problems.add(draft.where, field_name, "no geometry")
    return skipped


def _geometries(
    drafts: list[Draft], mapping: Mapping, crs: pyproj.CRS | None, problems: Problems
) -> tuple[list[BaseGeometry], list[BaseGeometry], list[bool]]:
    """Each draft's geometry in WGS 84, its area and whether that was grown by the radius;
    problems for the ones that are wrong."""
    raw = np.empty(len(drafts), dtype=object)
    pairs = [i for i, d in enumerate(drafts) if isinstance(d.geometry, tuple)]
    if pairs:
        xy = np.asarray([drafts[i].geometry for i in pairs], dtype=np.float64)
        raw[pairs] = shapely.points(xy)
    shapes = [i for i, d in enumerate(drafts) if not isinstance(d.geometry, tuple)]
    for i in shapes:
        raw[i] = drafts[i].geometry
    if not len(raw):
        return [], [], []
    wgs84 = np.asarray(to_wgs84(raw, crs), dtype=object)
    types = shapely.get_type_id(wgs84)
    bad = (
        shapely.is_empty(wgs84)
        | ~np.isin(types, _ALLOWED)
        | outside_wgs84(wgs84)
        | ~shapely.is_valid(wgs84)
    )
    needs_buffer = ~np.isin(types, _POLYGONAL)
    if mapping.geometry.radius_m is None:
        bad |= needs_buffer
    field_name = mapping.geometry.wkt or mapping.geometry.lat or "geometry"
    for i in np.flatnonzero(bad).tolist():
        problems.add(drafts[i].where, field_name, _geometry_problem(wgs84[i], crs, mapping))
    areas = wgs84.copy()
    if problems.count == 0 and needs_buffer.any() and mapping.geometry.radius_m is not None:
        areas[needs_buffer] = buffer_m(wgs84[needs_buffer], mapping.geometry.radius_m)
    return list(wgs84), list(areas), needs_buffer.tolist()


def _geometry_problem(geometry: BaseGeometry, crs: pyproj.CRS | None, mapping: Mapping) -> str:
    if geometry.is_empty:
        return "empty geometry"
    if shapely.get_type_id(geometry) not in _ALLOWED:
        return f"a {geometry.geom_type} cannot be a site"
    if bool(outside_wgs84(geometry)[0]):
        where = "WGS 84" if crs is None else f"{crs.name} (transformed to WGS 84)"
        return f"coordinates {_first_xy(geometry)} are not a place on Earth in {where}"
    if not shapely.is_valid(geometry):
        return f"not a valid {geometry.geom_type}: {shapely.is_valid_reason(geometry)}"
    return f"a {geometry.geom_type} needs geometry.radius_m in the mapping to make an area"


def _first_xy(geometry: BaseGeometry) -> str:
    coords = shapely.get_coordinates(geometry)
    return f"({coords[0][0]:.6g}, {coords[0][1]:.6g})" if len(coords) else "()"


def _site(
    draft: Draft,
    geometry: BaseGeometry,
    area: BaseGeometry,
    radius: float | None,
    mapping: Mapping,
    kind: str,
    keys: tuple[str, ...],
) -> Site:
    source_id = draft.source_id
    if source_id is None:  # id_missing: derive, as feeds without ids are matched over time
        x, y = shapely.get_coordinates(geometry)[0]
        source_id = f"{x:.5f},{y:.5f}@{draft.from_text}"
    return Site(
        id=site_id(mapping.source, source_id),
        source=mapping.source,
        source_id=source_id,
        kind=kind,
        name=draft.name or source_id,
        geometry=geometry,
        area=area,
        radius_m=radius,
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        attributes=draft.attributes,
        key_attributes=keys,
    )


def _deduplicate(
    sites: list[Site], drafts: list[Draft], mapping: Mapping, problems: Problems
) -> tuple[list[Site], int]:
    first_where: dict[str, str] = {}
    kept: dict[str, Site] = {}
    for site, draft in zip(sites, drafts, strict=True):
        earlier = kept.get(site.source_id)
        if earlier is None:
            kept[site.source_id] = site
            first_where[site.source_id] = draft.where
        elif mapping.duplicates == "merge":
            kept[site.source_id] = _merge(earlier, site)
        else:
            problems.add(
                draft.where,
                mapping.id,
                f"id {site.source_id!r} appears again (first at {first_where[site.source_id]})",
            )
    return list(kept.values()), len(sites) - len(kept)


def _merge(a: Site, b: Site) -> Site:
    """One site spanning both validities; the later-starting record's fields win."""
    start_a = a.valid_from or _EARLIEST
    start_b = b.valid_from or _EARLIEST
    later = b if start_b >= start_a else a
    valid_from = None if a.valid_from is None or b.valid_from is None else min(start_a, start_b)
    valid_to = None if a.valid_to is None or b.valid_to is None else max(a.valid_to, b.valid_to)
    return replace(later, valid_from=valid_from, valid_to=valid_to)
