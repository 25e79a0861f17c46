"""Sites of the city's data (permits, registries, road works), their change log and imports.

A site's descriptive fields are :class:`citybrain.citydata.Site`'s (the pure model the importer
and the rules from data work on); :class:`SiteRecord` is how the store keeps one, adding the
bounds every bounding-box query filters on and when it was imported. The two cannot drift: a
test compares their fields. Geometry is Shapely in WGS 84 (x = longitude); JSON shows GeoJSON.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import shapely
from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema
from shapely.geometry.base import BaseGeometry

from citybrain.records.base import Record

__all__ = [
    "AttributeValue",
    "Geometry",
    "SiteAction",
    "SiteChange",
    "SiteFields",
    "SiteImport",
    "SiteRecord",
    "geojson_geometry",
]

#: Attribute values are kept as they came: CSV cells are strings, GeoJSON properties JSON scalars.
AttributeValue = str | int | float | bool | None


def _shape(value: Any) -> BaseGeometry:
    """A Shapely geometry from itself, WKB bytes, WKB hex or a GeoJSON geometry object."""
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return shapely.from_wkb(bytes(value))
    if isinstance(value, dict):
        return shapely.from_geojson(json.dumps(value))
    if isinstance(value, str):
        return shapely.from_wkb(value)
    raise ValueError("a geometry is a Shapely geometry, WKB or a GeoJSON object")


def geojson_geometry(geometry: BaseGeometry) -> dict[str, Any]:
    """The GeoJSON object of ``geometry`` (coordinates as stored, no rounding)."""
    loaded: dict[str, Any] = json.loads(shapely.to_geojson(geometry))
    return loaded


#: A WGS 84 geometry: Shapely in Python, GeoJSON in JSON.
Geometry = Annotated[
    BaseGeometry,
    PlainValidator(_shape),
    PlainSerializer(geojson_geometry, when_used="json"),
    WithJsonSchema({"type": "object", "description": "A GeoJSON geometry (WGS 84)."}),
]


class SiteFields(Record):
    """What a site says: the fields of :class:`citybrain.citydata.Site` but its geometry.

    Attributes:
        id: ``<source>.<source id>`` (made URL- and rule-name-safe): stable across re-imports.
        source: where it came from; re-importing a source updates its sites by ``source_id``.
        source_id: the source's own id (a permit's job number).
        kind: ``construction_permit``, ``road_works``, ``facility``, ``restricted_area``,
            ``no_parking`` or a kind an admin adds.
        name: a readable name (an address, a street).
        radius_m: the buffer that made the area from a point or a line, metres.
        valid_from: start of validity; ``None`` = open.
        valid_to: end of validity (exclusive); ``None`` = open.
        attributes: only the fields the mapping named, values as they came.
        key_attributes: the attributes events near the site carry in ``context.sites``.
    """

    id: str
    source: str
    source_id: str
    kind: str
    name: str
    radius_m: float | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)
    key_attributes: list[str] = Field(default_factory=list)

    def active_at(self, at: datetime) -> bool:
        """Whether the site is valid at ``at`` (aware): from <= at < to."""
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_to is None or at < self.valid_to


class SiteRecord(SiteFields):
    """A stored site.

    Attributes:
        geometry: the shape as imported (a Point, a LineString, a Polygon...).
        area: the Polygon or MultiPolygon it covers: what every spatial query uses.
        min_lon: bounds of ``area`` (with ``min_lat``, ``max_lon``, ``max_lat``), indexed: the
            bounding-box filter where the database has no spatial index (SQLite).
        area_m2: the area's ground area in square metres (measured once, at import: coverage
            totals need every site's, and measuring 100,000 on the spheroid per report costs).
        imported_at: when it was first imported.
        updated_at: when an import last changed it.
    """

    geometry: Geometry
    area: Geometry
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    area_m2: float
    imported_at: datetime
    updated_at: datetime


class SiteAction(StrEnum):
    """What an import (or an admin) did to a site."""

    ADDED = "added"
    CHANGED = "changed"
    EXPIRED = "expired"
    REMOVED = "removed"


class SiteChange(Record):
    """One entry of the change log: a site added, changed, expired or removed.

    Attributes:
        import_id: the import that did it; ``None`` for a site an admin deleted.
        by: who: a user's name, ``refresh:<source>`` for a scheduled refresh.
    """

    id: int
    at: datetime
    source: str
    site_id: str
    action: SiteAction
    import_id: int | None = None
    by: str | None = None


class SiteImport(Record):
    """One import of a file of sites, kept or refused.

    Attributes:
        source: the source its sites belong to.
        by: a user's name, or ``refresh:<name>`` for a scheduled refresh.
        label: the file's name or the URL (credentials redacted).
        status: ``ok`` (its sites replaced the source's) or ``refused`` (nothing was kept).
        problems: for a refused file, the first problems, each naming the row and field.
    """

    id: int
    source: str
    at: datetime
    by: str | None = None
    label: str
    status: str
    added: int = 0
    changed: int = 0
    expired: int = 0
    removed: int = 0
    unchanged: int = 0
    merged: int = 0
    skipped: int = 0
    problems: list[str] = Field(default_factory=list)
