"""The file formats cities publish, read into records: CSV and GeoJSON. Pure: text in, records out.

Only the fields a mapping names leave this module; every other column or property of the file
(a permittee's name, a phone number) is dropped here, before anything else sees it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from operator import itemgetter
from typing import Any

import pyproj
import shapely
from shapely.errors import GEOSException, ShapelyError
from shapely.geometry import shape

from citybrain.citydata.columns import Columns, draft_columns
from citybrain.citydata.convert import (
    MISSING,
    ImportResult,
    Record,
    build_sites,
    lookup,
    sites_from_drafts,
)
from citybrain.citydata.errors import Problems, SiteImportError
from citybrain.citydata.geo import parse_crs
from citybrain.citydata.mapping import Mapping

__all__ = [
    "file_crs",
    "parse_csv",
    "parse_geojson",
    "read_csv",
    "read_csv_columns",
    "read_geojson",
]


def parse_csv(text: str, mapping: Mapping, *, kind: str, label: str) -> ImportResult:
    """Sites from CSV text with a header row (lat/lon or WKT columns, as the mapping says).

    A clean file is drafted a column at a time (:func:`draft_columns`); one with something wrong
    in it row by row, so that every problem is named with its line and field.

    Raises:
        SiteImportError: a column the mapping names is missing, a row is malformed, or a value
            is wrong; each problem names the line and the field.
    """
    columns = read_csv_columns(text, mapping, label=label)
    crs = None if mapping.geometry.crs is None else parse_crs(mapping.geometry.crs)
    drafts = draft_columns(columns, mapping)
    if drafts is None:
        return build_sites(columns.records(), mapping, kind=kind, crs=crs, label=label)
    return sites_from_drafts(drafts, mapping, kind=kind, crs=crs, label=label)


def read_csv(text: str, mapping: Mapping, *, label: str) -> list[Record]:
    """The records of CSV text, each holding only the columns the mapping names."""
    return read_csv_columns(text, mapping, label=label).records()


def read_csv_columns(text: str, mapping: Mapping, *, label: str) -> Columns:
    """The rows of CSV text as columns, only those the mapping names."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SiteImportError(label, ["line 1: (header): the file is empty"]) from None
    except csv.Error as exc:
        raise SiteImportError(label, [f"line 1: (header): not CSV: {exc}"]) from None
    columns = [mapping.aliases.get(name.strip(), name.strip()) for name in header]
    wanted = _column_indices(columns, mapping, label)
    problems = Problems()
    # Only the mapped fields of a row are kept, as a tuple: the row's list (every column, the
    # personal ones too) is freed at once, and 100,000 lists kept alive would make each of
    # Python's full garbage collections during the import walk through all of them.
    pick = _picker(list(wanted.values()))
    picked: list[tuple[str, ...]] = []
    where: list[str] = []
    width = len(columns)
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank lines carry nothing
            if len(row) != width:
                line = f"line {reader.line_num}"
                problems.add(line, "(row)", f"{len(row)} fields, the header has {width}")
                continue
            picked.append(pick(row))
            where.append(f"line {reader.line_num}")
    except csv.Error as exc:
        problems.add(f"line {reader.line_num}", "(row)", f"not CSV: {exc}")
    problems.raise_if_any(label)
    values = zip(*picked, strict=True) if picked else ([] for _ in wanted)
    fields = {name: list(column) for name, column in zip(wanted, values, strict=True)}
    return Columns(where, fields)


def _picker(indices: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """A row's values at ``indices``, as a tuple (one C call per row)."""
    if len(indices) == 1:
        (index,) = indices
        return lambda row: (row[index],)
    return itemgetter(*indices)


def _column_indices(columns: list[str], mapping: Mapping, label: str) -> dict[str, int]:
    repeated = sorted({c for c in columns if columns.count(c) > 1 and c})
    if repeated:
        raise SiteImportError(label, [f"line 1: (header): column(s) {repeated} appear twice"])
    index = {name: i for i, name in enumerate(columns)}
    roles = mapping.field_roles()
    missing = [f"{field!r} (the mapping's {role})" for field, role in roles.items()
               if field not in index]  # fmt: skip
    if missing:
        shown = columns[:30] + (["..."] if len(columns) > 30 else [])
        raise SiteImportError(
            label,
            [f"line 1: (header): missing column(s) {', '.join(missing)}; the file has {shown}"],
        )
    return {field: index[field] for field in roles}


def parse_geojson(text: str, mapping: Mapping, *, kind: str, label: str) -> ImportResult:
    """Sites from a GeoJSON FeatureCollection (a ``crs`` member, as older files have, is obeyed).

    Raises:
        SiteImportError: not a FeatureCollection, an unknown CRS, a bad feature or value; each
            problem names the feature and the field.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"line {exc.lineno} column {exc.colno}: (document): not JSON: {exc.msg}"
        raise SiteImportError(label, [problem]) from None
    except RecursionError:
        raise SiteImportError(label, ["(document): nested too deeply to be GeoJSON"]) from None
    crs = file_crs(data, label)
    if crs is None and mapping.geometry.crs is not None:
        crs = parse_crs(mapping.geometry.crs)
    records = read_geojson(data, mapping, label=label)
    return build_sites(records, mapping, kind=kind, crs=crs, label=label)


def file_crs(data: Any, label: str) -> pyproj.CRS | None:
    """The CRS a GeoJSON document names in its (pre-RFC 7946) ``crs`` member, if any."""
    if not isinstance(data, dict) or data.get("crs") is None:
        return None
    member = data["crs"]
    properties = member.get("properties") if isinstance(member, dict) else None
    if not isinstance(properties, dict):
        raise SiteImportError(label, ["(document): crs: expected {type, properties}"])
    name = properties.get("name")
    if name is None and properties.get("code") is not None:
        name = f"EPSG:{properties['code']}"
    try:
        return parse_crs(name)
    except ValueError as exc:
        raise SiteImportError(label, [f"(document): crs: {exc}"]) from None


def read_geojson(data: Any, mapping: Mapping, *, label: str) -> list[Record]:
    """The records of a parsed FeatureCollection, each holding only the fields the mapping names."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        got = data.get("type") if isinstance(data, dict) else type(data).__name__
        raise SiteImportError(
            label, [f"(document): type: a FeatureCollection is needed, got {got!r}"]
        )
    features = data.get("features")
    if not isinstance(features, list):
        raise SiteImportError(label, ["(document): features: a list of features is needed"])
    problems = Problems()
    wanted = mapping.source_fields()
    records = []
    for number, feature in enumerate(features, start=1):
        where = f"feature {number}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.add(where, "type", "not a GeoJSON Feature")
            continue
        if feature.get("id") is not None:
            where = f"feature {number} (id {feature['id']!r})"
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            problems.add(where, "properties", "not an object")
            continue
        fields = {**properties, "@id": feature.get("id")}
        kept = {path: value for path in wanted if (value := lookup(fields, path)) is not MISSING}
        records.append(Record(where, kept, _feature_geometry(feature, where, problems)))
    problems.raise_if_any(label)
    return records


def _feature_geometry(feature: dict[str, Any], where: str, problems: Problems) -> Any:
    geometry = feature.get("geometry")
    if geometry is None:
        return None
    try:
        return shapely.force_2d(shape(geometry))
    except (ShapelyError, GEOSException, ValueError, TypeError, KeyError, AttributeError,
            IndexError) as exc:  # fmt: skip
        problems.add(where, "geometry", f"not a GeoJSON geometry: {exc or type(exc).__name__}")
        return shapely.Point()
