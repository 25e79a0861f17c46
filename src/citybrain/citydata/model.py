"""A site: a named area of the city with a kind, a validity and the attributes its source gave.

Sites are plain data. Geometry is Shapely in WGS 84 (x = longitude, y = latitude): ``geometry`` is
the shape as the source gave it (a Point, a LineString, a Polygon...), ``area`` the ground it
covers (the shape itself for polygons, else the shape buffered by ``radius_m`` metres).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "KIND_PATTERN",
    "SITE_KINDS",
    "SOURCE_PATTERN",
    "AttributeValue",
    "Site",
    "active_sites",
    "next_change",
    "site_id",
]

#: The kinds the issue names; an admin may add others that match :data:`KIND_PATTERN`.
SITE_KINDS = ("construction_permit", "road_works", "facility", "restricted_area", "no_parking")
KIND_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
#: A source is the name re-imports are matched by (a preset's name, or the mapping's ``source``).
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"

#: Attribute values are kept as they came: CSV cells are strings, GeoJSON properties JSON scalars.
AttributeValue = str | int | float | bool | None

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_ID_BODY = 40


def site_id(source: str, source_id: str) -> str:
    """The site's id: stable across re-imports, safe in URLs and in rule names.

    ``<source>.<source_id>`` where the source id is plain; otherwise (characters outside
    ``A-Za-z0-9_-``, or very long) a readable prefix and a hash of the exact source id.

    Example:
        >>> site_id("nyc-dob-permits", "121234567")
        'nyc-dob-permits.121234567'
        >>> site_id("berlin-viz", "8/2025")
        'berlin-viz.8-2025-f08e1425'
    """
    cleaned = _UNSAFE.sub("-", source_id).strip("-")
    if cleaned == source_id and len(cleaned) <= _ID_BODY + 9:
        return f"{source}.{source_id}"
    digest = hashlib.sha256(source_id.encode()).hexdigest()[:8]
    return f"{source}.{cleaned[:_ID_BODY]}-{digest}" if cleaned else f"{source}.{digest}"


@dataclass(frozen=True, slots=True)
class Site:
    """One site.

    Attributes:
        id: :func:`site_id` of ``source`` and ``source_id``.
        source: Where it came from; re-importing a source updates its sites by ``source_id``.
        source_id: The source's own id (a permit's job number, a road-works message id).
        kind: ``construction_permit``, ``road_works``, ... (:data:`KIND_PATTERN`).
        name: A human-readable name (an address, a street).
        geometry: The shape as the source gave it, WGS 84.
        area: The ground the site covers, a Polygon or MultiPolygon in WGS 84.
        radius_m: The buffer that made ``area`` from a point or line, in metres.
        valid_from: Aware start of validity, ``None`` = open.
        valid_to: Aware end of validity (exclusive), ``None`` = open.
        attributes: Only the fields the mapping names, values as they came.
        key_attributes: The attributes events carry in their context (permit number, contractor).
    """

    id: str
    source: str
    source_id: str
    kind: str
    name: str
    geometry: BaseGeometry
    area: BaseGeometry
    radius_m: float | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    key_attributes: tuple[str, ...] = ()

    def active_at(self, at: datetime) -> bool:
        """Whether the site is valid at ``at`` (an aware datetime): from <= at < to."""
        if at.tzinfo is None:
            raise ValueError("active_at needs an aware datetime")
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_to is None or at < self.valid_to

    def context(self) -> dict[str, Any]:
        """The entry of ``context.sites`` for an event near this site: id, kind, name, key
        attributes."""
        keys = self.key_attributes or tuple(self.attributes)
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "attributes": {k: self.attributes[k] for k in keys if k in self.attributes},
        }

    def same_content(self, other: Site) -> bool:
        """Whether ``other`` says the same (for change logs): every field, geometry exactly."""
        return self.same_fields(other) and bool(
            shapely.equals_exact(self.geometry, other.geometry, tolerance=0.0)
        )

    def same_fields(self, other: Site) -> bool:
        """:meth:`same_content` but for the geometry (which many sites compare at once)."""
        return (
            self.id == other.id
            and self.kind == other.kind
            and self.name == other.name
            and self.radius_m == other.radius_m
            and self.valid_from == other.valid_from
            and self.valid_to == other.valid_to
            and _same_mapping(self.attributes, other.attributes)
            and self.key_attributes == other.key_attributes
        )


def _same_mapping(a: Mapping[str, AttributeValue], b: Mapping[str, AttributeValue]) -> bool:
    if type(a) is dict and type(b) is dict:  # as they nearly always are: no copies to compare
        return a == b
    return dict(a) == dict(b)


def active_sites(sites: Iterable[Site], at: datetime) -> list[Site]:
    """The sites valid at ``at``."""
    return [site for site in sites if site.active_at(at)]


def next_change(sites: Iterable[Site], after: datetime) -> datetime | None:
    """The first moment after ``after`` at which some site starts or stops being valid.

    A runtime can sleep until then (or a minute, whichever is sooner) before it recomputes the
    rules that sites switch on.
    """
    moments = [
        moment
        for site in sites
        for moment in (site.valid_from, site.valid_to)
        if moment is not None and moment > after
    ]
    return min(moments, default=None)
