"""Records of a file to sites, through a mapping: pure computation, no I/O.

Each record is checked field by field; every problem names the record (``line 4``, ``feature 2``)
and the field. Geometry is transformed, validated and buffered for all records at once
(vectorised Shapely and pyproj), which keeps 100,000 records to seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping as MappingABC
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyproj
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from citybrain.citydata.errors import Problems
from citybrain.citydata.geo import buffer_m, outside_wgs84, to_wgs84
from citybrain.citydata.mapping import DateSpec, Mapping, template_fields
from citybrain.citydata.model import AttributeValue, Site, site_id

__all__ = ["ImportResult", "Record", "build_sites", "lookup", "parse_date"]

MISSING: Any = object()
_TIME_DIRECTIVES = re.compile(r"%[HIMSXcTRp]")
_POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
_ALLOWED = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "GeometryCollection", *_POLYGONAL}
)


@dataclass(frozen=True, slots=True)
class Record:
    """One row or feature: where it is (for errors), its fields, and its own geometry if any."""

    where: str
    fields: MappingABC[str, Any]
    geometry: BaseGeometry | None = None


@dataclass(frozen=True)
class ImportResult:
    """The sites of one file, what the mapping said to skip, and how many records were merged."""

    source: str
    sites: list[Site]
    skipped: list[str] = field(default_factory=list)
    merged: int = 0


def lookup(fields: MappingABC[str, Any], path: str) -> Any:
    """The value at ``path``: a field name, or a dotted path into nested objects; else MISSING."""
    if path in fields:
        return fields[path]
    value: Any = fields
    for part in path.split("."):
        if not isinstance(value, MappingABC) or part not in value:
            return MISSING
        value = value[part]
    return value


def parse_date(value: Any, spec: DateSpec, *, end: bool = False) -> datetime | None:
    """An aware datetime from a date field; empty = open (``None``).

    A date without a time of day, as an end (``end=True``), means the end of that day.

    Raises:
        ValueError: the text matches none of the formats.
    """
    if value is None or value is MISSING or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    for fmt in spec.formats:
        try:
            if fmt == "iso":
                parsed = datetime.fromisoformat(text)
                date_only = len(text) <= 10
            else:
                parsed = datetime.strptime(text, fmt)
                date_only = _TIME_DIRECTIVES.search(fmt) is None
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(spec.timezone))
        if end and date_only:
            parsed += timedelta(days=1)
        return parsed
    raise ValueError(f"{text!r} is not a date in the format {' or '.join(spec.formats)}")


@dataclass(slots=True)
class _Draft:
    where: str
    source_id: str | None
    name: str
    geometry: BaseGeometry | None
    valid_from: datetime | None
    valid_to: datetime | None
    from_text: str
    attributes: dict[str, AttributeValue]


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
    drafts = [_draft(record, mapping, problems) for record in records]
    skipped = _skip_missing_geometry(drafts, mapping, problems)
    drafts = [d for d in drafts if d.geometry is not None]
    problems.raise_if_any(label)
    geometries = _geometries(drafts, mapping, crs, problems)
    problems.raise_if_any(label)
    sites = [
        _site(draft, geometry, area, mapping, kind)
        for draft, (geometry, area) in zip(drafts, geometries, strict=True)
    ]
    sites, merged = _deduplicate(sites, drafts, mapping, problems)
    problems.raise_if_any(label)
    return ImportResult(source=mapping.source, sites=sites, skipped=skipped, merged=merged)


def _draft(record: Record, mapping: Mapping, problems: Problems) -> _Draft:
    fields = record.fields
    raw_id = lookup(fields, mapping.id)
    source_id = None if raw_id is MISSING or raw_id is None else str(raw_id).strip() or None
    if source_id is None and mapping.id_missing == "error":
        problems.add(record.where, mapping.id, "the id is empty")
    dates: list[datetime | None] = []
    for spec, end in ((mapping.valid_from, False), (mapping.valid_to, True)):
        try:
            dates.append(
                None if spec is None else parse_date(lookup(fields, spec.field), spec, end=end)
            )
        except ValueError as exc:
            assert spec is not None
            problems.add(record.where, spec.field, str(exc))
            dates.append(None)
    valid_from, valid_to = dates
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        assert mapping.valid_to is not None
        problems.add(record.where, mapping.valid_to.field, "ends before it starts")
    from_text = "" if mapping.valid_from is None else str(lookup(fields, mapping.valid_from.field))
    return _Draft(
        where=record.where,
        source_id=source_id,
        name=_name(fields, mapping),
        geometry=_raw_geometry(record, mapping, problems),
        valid_from=valid_from,
        valid_to=valid_to,
        from_text=from_text,
        attributes=_attributes(record, mapping, problems),
    )


def _name(fields: MappingABC[str, Any], mapping: Mapping) -> str:
    if mapping.name is None:
        return ""
    names = template_fields(mapping.name)
    if not names:
        value = lookup(fields, mapping.name)
        return "" if value is MISSING or value is None else str(value).strip()
    values = {n: "" if (v := lookup(fields, n)) is MISSING or v is None else str(v).strip()
              for n in names}  # fmt: skip
    text = mapping.name.format_map(values)
    return re.sub(r"\s+", " ", text).strip(" ,;-")


def _attributes(record: Record, mapping: Mapping, problems: Problems) -> dict[str, AttributeValue]:
    kept: dict[str, AttributeValue] = {}
    for name, path in mapping.attributes.items():
        value = lookup(record.fields, path)
        if value is MISSING:
            value = None
        elif isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif isinstance(value, float) and not np.isfinite(value):
            value = None
        if isinstance(value, str) and len(value) > mapping.max_attribute_chars:
            problems.add(record.where, path, f"longer than {mapping.max_attribute_chars} chars")
            continue
        kept[name] = value
    return kept


def _raw_geometry(record: Record, mapping: Mapping, problems: Problems) -> BaseGeometry | None:
    spec = mapping.geometry
    if spec.lat is not None and spec.lon is not None:
        lat, lon = lookup(record.fields, spec.lat), lookup(record.fields, spec.lon)
        if _blank(lat) and _blank(lon):
            return None
        try:
            return shapely.Point(_number(lon, spec.lon), _number(lat, spec.lat))
        except ValueError as exc:
            field_name, message = str(exc).split(": ", 1)
            problems.add(record.where, field_name, message)
            return shapely.Point()
    if spec.wkt is not None:
        text = lookup(record.fields, spec.wkt)
        if _blank(text):
            return None
        try:
            return shapely.from_wkt(str(text))
        except GEOSException as exc:
            problems.add(record.where, spec.wkt, f"not valid WKT: {exc}")
            return shapely.Point()
    return record.geometry


def _blank(value: Any) -> bool:
    return value is MISSING or value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any, field_name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{field_name}: {value!r} is not a number") from None
    if not np.isfinite(number):
        raise ValueError(f"{field_name}: {value!r} is not a finite number")
    return number


def _skip_missing_geometry(drafts: list[_Draft], mapping: Mapping, problems: Problems) -> list[str]:
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
    drafts: list[_Draft], mapping: Mapping, crs: pyproj.CRS | None, problems: Problems
) -> list[tuple[BaseGeometry, BaseGeometry]]:
    """Each draft's geometry in WGS 84 and its area; problems for the ones that are wrong."""
    field_name = mapping.geometry.wkt or mapping.geometry.lat or "geometry"
    raw = np.array([d.geometry for d in drafts], dtype=object)
    wgs84 = np.asarray(to_wgs84(raw, crs), dtype=object) if len(raw) else raw
    outside = outside_wgs84(wgs84) if len(raw) else np.zeros(0, dtype=bool)
    needs_buffer = np.zeros(len(raw), dtype=bool)
    for i, (draft, geometry) in enumerate(zip(drafts, wgs84, strict=True)):
        message = _geometry_problem(geometry, bool(outside[i]), crs, mapping)
        if message is not None:
            problems.add(draft.where, field_name, message)
        needs_buffer[i] = geometry.geom_type not in _POLYGONAL
    areas = wgs84.copy()
    radius = mapping.geometry.radius_m
    if problems.count == 0 and needs_buffer.any() and radius is not None:
        areas[needs_buffer] = buffer_m(wgs84[needs_buffer], radius)
    return list(zip(wgs84, areas, strict=True))


def _geometry_problem(
    geometry: BaseGeometry, outside: bool, crs: pyproj.CRS | None, mapping: Mapping
) -> str | None:
    if geometry.is_empty:
        return "empty geometry"
    if geometry.geom_type not in _ALLOWED:
        return f"a {geometry.geom_type} cannot be a site"
    if outside:
        where = "WGS 84" if crs is None else f"{crs.name} (transformed to WGS 84)"
        return f"coordinates {_first_xy(geometry)} are not a place on Earth in {where}"
    if not shapely.is_valid(geometry):
        return f"not a valid {geometry.geom_type}: {shapely.is_valid_reason(geometry)}"
    if geometry.geom_type not in _POLYGONAL and mapping.geometry.radius_m is None:
        return f"a {geometry.geom_type} needs geometry.radius_m in the mapping to make an area"
    return None


def _first_xy(geometry: BaseGeometry) -> str:
    coords = shapely.get_coordinates(geometry)
    return f"({coords[0][0]:.6g}, {coords[0][1]:.6g})" if len(coords) else "()"


def _site(
    draft: _Draft, geometry: BaseGeometry, area: BaseGeometry, mapping: Mapping, kind: str
) -> Site:
    source_id = draft.source_id
    if source_id is None:  # id_missing: derive, as feeds without ids are matched over time
        x, y = shapely.get_coordinates(geometry)[0]
        source_id = f"{x:.5f},{y:.5f}@{draft.from_text}"
    radius = None if geometry.geom_type in _POLYGONAL else mapping.geometry.radius_m
    keys = tuple(mapping.context) if mapping.context is not None else tuple(mapping.attributes)
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
    sites: list[Site], drafts: list[_Draft], mapping: Mapping, problems: Problems
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
    start_a = a.valid_from or datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    start_b = b.valid_from or datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    later = b if start_b >= start_a else a
    valid_from = None if a.valid_from is None or b.valid_from is None else min(start_a, start_b)
    valid_to = None if a.valid_to is None or b.valid_to is None else max(a.valid_to, b.valid_to)
    return replace(later, valid_from=valid_from, valid_to=valid_to)
