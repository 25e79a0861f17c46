"""Camera footprints: the ground a camera sees, and which sites that ground touches.

A footprint is the sector from the camera's position along its heading (degrees clockwise from
north), as wide as its field of view and as long as its range in metres, or a polygon an admin
drew. Both are WGS 84 polygons; the sector is built in metres around the camera.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from citybrain.citydata.errors import GeometryError
from citybrain.citydata.geo import LocalProjection, by_cell, outside_wgs84
from citybrain.citydata.model import Site

__all__ = [
    "camera_footprint",
    "drawn_footprint",
    "footprint_pairs",
    "sector",
    "sectors",
    "sites_seen",
]

#: Segments of a full circle; a sector's arc gets its share (a 70 degree view: 13).
CIRCLE_SEGMENTS = 64
MAX_RANGE_M = 5_000.0


def sector(
    lon: float,
    lat: float,
    heading_deg: float,
    fov_deg: float,
    range_m: float,
    *,
    segments: int = CIRCLE_SEGMENTS,
) -> Polygon:
    """The ground sector a camera at ``(lon, lat)`` sees, as a WGS 84 polygon.

    Args:
        lon: Camera longitude, degrees.
        lat: Camera latitude, degrees.
        heading_deg: Direction of the view's centre, degrees clockwise from north.
        fov_deg: Horizontal field of view, degrees (360 or more: a full circle).
        range_m: How far the camera sees usefully, metres.
        segments: Segments of a full circle's arc.

    Raises:
        GeometryError: a position, angle or range out of bounds.
    """
    polygon: Polygon = sectors(
        [lon], [lat], [heading_deg], [fov_deg], [range_m], segments=segments
    )[0]
    return polygon


def sectors(
    lon: Sequence[float] | NDArray[np.float64],
    lat: Sequence[float] | NDArray[np.float64],
    heading_deg: Sequence[float] | NDArray[np.float64],
    fov_deg: Sequence[float] | NDArray[np.float64],
    range_m: Sequence[float] | NDArray[np.float64],
    *,
    segments: int = CIRCLE_SEGMENTS,
) -> NDArray[np.object_]:
    """:func:`sector` for many cameras at once (arrays of equal length); an array of polygons.

    Each sector is built in metres in a projection shared by the cameras of its 1-degree cell,
    turned by the angle between that projection's north and true north at the camera.
    """
    lon_a, lat_a, heading, fov, reach = (
        np.asarray(v, dtype=np.float64).reshape(-1)
        for v in (lon, lat, heading_deg, fov_deg, range_m)
    )
    _check_cameras(lon_a, lat_a, heading, fov, reach)
    out = np.empty(len(lon_a), dtype=object)
    cameras = shapely.points(lon_a, lat_a)
    for projection, index in by_cell(cameras):
        out[index] = _sectors_in(projection, lon_a[index], lat_a[index], heading[index],
                                 np.minimum(fov[index], 360.0), reach[index], segments)  # fmt: skip
    return out


def _sectors_in(
    projection: LocalProjection,
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    heading: NDArray[np.float64],
    fov: NDArray[np.float64],
    reach: NDArray[np.float64],
    segments: int,
) -> NDArray[np.object_]:
    centre = projection.points_to_metres(np.column_stack([lon, lat]))
    north = projection.points_to_metres(np.column_stack([lon, np.minimum(lat + 1e-4, 90.0)]))
    turn = np.degrees(np.arctan2(north[:, 0] - centre[:, 0], north[:, 1] - centre[:, 1]))
    full = fov >= 360.0
    steps = np.maximum(2, np.ceil(segments * fov / 360.0)).astype(np.intp)
    arc_points = steps + 1 - full  # a full circle's last point would repeat its first
    owner = np.repeat(np.arange(len(lon)), arc_points)
    start = np.cumsum(arc_points) - arc_points
    position = np.arange(len(owner)) - start[owner]
    angles = np.radians(heading[owner] + turn[owner] - fov[owner] / 2
                        + fov[owner] * position / steps[owner])  # fmt: skip
    arc = centre[owner] + reach[owner, None] * np.column_stack([np.sin(angles), np.cos(angles)])
    # The apex (the camera) opens each ring, except full circles.
    apex_owner = np.flatnonzero(~full)
    coords = np.vstack([centre[apex_owner], arc])
    ring_of = np.concatenate([apex_owner, owner])
    order = np.argsort(ring_of, kind="stable")
    wgs84 = projection.points_to_wgs84(coords[order])
    rings = shapely.linearrings(wgs84, indices=ring_of[order])
    return np.asarray(shapely.polygons(rings), dtype=object)


def _check_cameras(
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    heading: NDArray[np.float64],
    fov: NDArray[np.float64],
    reach: NDArray[np.float64],
) -> None:
    if not len({len(lon), len(lat), len(heading), len(fov), len(reach)}) == 1:
        raise GeometryError("sectors: lon, lat, heading_deg, fov_deg and range_m differ in length")
    for i in range(len(lon)):
        _check_position(float(lon[i]), float(lat[i]))
        if not math.isfinite(heading[i]):
            raise GeometryError(f"heading_deg: {heading[i]} is not a direction")
        if not (fov[i] > 0 and math.isfinite(fov[i])):
            raise GeometryError(f"fov_deg: {fov[i]} must be above 0 (360 = all around)")
        if not (0 < reach[i] <= MAX_RANGE_M):
            raise GeometryError(f"range_m: {reach[i]} must be in (0, {MAX_RANGE_M:g}] metres")


def drawn_footprint(coordinates: Sequence[Sequence[float]]) -> Polygon:
    """An admin-drawn footprint: ``[[lon, lat], ...]``, at least three corners.

    Raises:
        GeometryError: too few corners, not longitude/latitude, or a self-crossing outline.
    """
    if len(coordinates) < 3 or any(len(point) != 2 for point in coordinates):
        raise GeometryError("footprint: at least three [lon, lat] corners are needed")
    polygon = Polygon([(float(x), float(y)) for x, y in coordinates])
    if bool(outside_wgs84(polygon)[0]):
        raise GeometryError("footprint: corners must be [lon, lat] in WGS 84 degrees")
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon)
        raise GeometryError(f"footprint: not a valid polygon ({reason})")
    if polygon.area == 0:
        raise GeometryError("footprint: the corners enclose no area")
    return polygon


def camera_footprint(
    *,
    lon: float | None,
    lat: float | None,
    heading_deg: float | None = None,
    fov_deg: float | None = None,
    range_m: float | None = None,
    drawn: Sequence[Sequence[float]] | None = None,
) -> Polygon | None:
    """A camera's footprint: the drawn polygon if there is one, else its sector.

    ``None`` when the camera has no position or lacks heading, field of view or range.
    """
    if drawn:
        return drawn_footprint(drawn)
    if lon is None or lat is None or heading_deg is None or fov_deg is None or range_m is None:
        return None
    return sector(lon, lat, heading_deg, fov_deg, range_m)


def _check_position(lon: float, lat: float) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeometryError(f"position: ({lon}, {lat}) is not a longitude/latitude")


def footprint_pairs(
    footprints: Sequence[BaseGeometry | None], areas: Sequence[BaseGeometry] | NDArray[np.object_]
) -> NDArray[np.intp]:
    """``(2, N)`` indices ``[footprint, area]`` of every footprint that intersects an area.

    A spatial index (Shapely's STRtree) over the areas keeps this fast for thousands of cameras.
    """
    present = [i for i, footprint in enumerate(footprints) if footprint is not None]
    if not present or not len(areas):
        return np.zeros((2, 0), dtype=np.intp)
    tree = shapely.STRtree(np.asarray(areas, dtype=object))
    query = np.asarray([footprints[i] for i in present], dtype=object)
    pairs = tree.query(query, predicate="intersects")
    pairs[0] = np.asarray(present, dtype=np.intp)[pairs[0]]
    return np.asarray(pairs, dtype=np.intp)


def sites_seen(footprint: BaseGeometry | None, sites: Sequence[Site]) -> list[Site]:
    """The sites whose area the footprint touches, in the order given."""
    if footprint is None or not sites:
        return []
    pairs = footprint_pairs([footprint], [site.area for site in sites])
    return [sites[i] for i in sorted(pairs[1].tolist())]
