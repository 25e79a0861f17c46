"""Coordinates and footprints, checked against hand-worked geometry."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import shapely

from citybrain.citydata import (
    GeometryError,
    LocalProjection,
    area_m2,
    buffer_m,
    camera_footprint,
    drawn_footprint,
    footprint_pairs,
    parse_crs,
    sector,
    sectors,
)
from citybrain.citydata.geo import by_cell, point_circles


def test_parse_crs_accepts_the_ways_files_name_one() -> None:
    for name in ("EPSG:27700", "urn:ogc:def:crs:EPSG::27700", "epsg:27700", 27700):
        assert parse_crs(name).to_epsg() == 27700
    with pytest.raises(ValueError, match="unknown CRS 'EPSG:99999'"):
        parse_crs("EPSG:99999")
    with pytest.raises(ValueError, match="a CRS is a string"):
        parse_crs(None)


def test_area_of_a_small_square_at_the_equator() -> None:
    # 0.001 degrees: 111.319 m of longitude by 110.574 m of latitude on the WGS 84 ellipsoid.
    square = shapely.box(10.0, 0.0, 10.001, 0.001)
    assert area_m2(square) == pytest.approx(111.319 * 110.574, rel=1e-4)


@pytest.mark.parametrize("lat", [0.0, 40.76, 52.52, 64.14])
def test_buffers_are_metres_at_every_latitude(lat: float) -> None:
    circle = buffer_m(shapely.Point(13.4, lat), 50.0)
    metres = LocalProjection(13.4, lat).to_metres(circle)
    x0, y0, x1, y1 = metres.bounds
    assert x1 - x0 == pytest.approx(100.0, rel=1e-3)  # not narrower in the north (degrees would)
    assert y1 - y0 == pytest.approx(100.0, rel=1e-3)


#: Hand-picked places: Manhattan, Berlin, the equator, Sydney, Reykjavik, near the antimeridian.
_PLACES = [(-73.99, 40.76), (13.4, 52.52), (10.0, 0.0), (151.2, -33.9), (-21.9, 64.14),
           (179.9, -16.5)]  # fmt: skip


@pytest.mark.parametrize(("lon", "lat"), _PLACES)
def test_point_circles_are_geos_buffers_vertex_for_vertex(lon: float, lat: float) -> None:
    projection = LocalProjection.near(lon, lat)
    points = np.asarray([shapely.Point(lon, lat), shapely.Point(lon + 0.01, lat - 0.007)])
    fast = point_circles(projection, points, 30.0)
    # The per-shape way: each point buffered by GEOS in the projection, transformed back.
    slow = [projection.to_wgs84(shapely.buffer(projection.to_metres(p), 30.0, quad_segs=8))
            for p in points]  # fmt: skip
    for a, b in zip(fast, slow, strict=True):
        assert a.geom_type == b.geom_type == "Polygon"
        assert len(a.exterior.coords) == len(b.exterior.coords) == 33
        # Same vertices in the same order, to a nanometre (1e-14 degrees).
        assert shapely.equals_exact(a, b, tolerance=1e-14)


def test_point_circles_vertices_lie_on_the_ground_circle() -> None:
    # Hand-checked: 32 vertices 30 m from the centre on the ellipsoid (to a millimetre: the
    # projection is centred 27 km away), the first due east, the ninth due south, going
    # clockwise, the ring closed.
    lon, lat = -73.99, 40.76
    (circle,) = point_circles(LocalProjection.near(lon, lat), [shapely.Point(lon, lat)], 30.0)
    coords = np.asarray(circle.exterior.coords)
    geod = pyproj.Geod(ellps="WGS84")
    azimuths, _, distances = geod.inv(
        np.full(33, lon), np.full(33, lat), coords[:, 0], coords[:, 1]
    )
    assert distances == pytest.approx(np.full(33, 30.0), abs=1e-3)
    # Azimuths are clockwise from north: east is 90, south 180; 1 degree allows for the
    # projection's centre being the cell's (-74, 41), not the point.
    assert azimuths[0] == pytest.approx(90.0, abs=1.0)
    assert abs(azimuths[8]) == pytest.approx(180.0, abs=1.0)  # pyproj: -180 to 180
    assert np.all(np.diff(np.unwrap(np.radians(azimuths[:32]))) > 0)
    assert tuple(coords[0]) == tuple(coords[-1])
    assert not circle.exterior.is_ccw


def test_buffer_m_grows_points_and_other_shapes_alike() -> None:
    shapes = [
        shapely.Point(-73.99, 40.76),
        shapely.LineString([(13.40, 52.52), (13.41, 52.52)]),
        shapely.Point(13.4, 52.52),
        shapely.MultiPoint([(13.40, 52.52), (13.41, 52.52)]),
    ]
    grown = buffer_m(np.asarray(shapes, dtype=object), 15.0)
    for shape, area in zip(shapes, grown, strict=True):
        projection = LocalProjection.around(shape)
        expected = projection.to_wgs84(shapely.buffer(projection.to_metres(shape), 15.0))
        assert shapely.equals_exact(area, expected, tolerance=1e-12)
    assert buffer_m(shapely.Point(13.4, 52.52), 0.0).is_empty  # GEOS's answer, not a circle


def test_projection_cells_group_nearby_shapes_and_keep_negative_coordinates() -> None:
    points = [
        shapely.Point(-73.99, 40.76),
        shapely.Point(-73.95, 40.70),
        shapely.Point(151.2, -33.9),
    ]
    groups = by_cell(points)
    assert sorted(index.tolist() for _, index in groups) == [[0, 1], [2]]
    centres = sorted((p.lon, p.lat) for p, _ in groups)
    assert centres == [(-74.0, 41.0), (151.0, -34.0)]


def _local(lon: float, lat: float, x: float, y: float) -> shapely.Point:
    """The point ``x`` metres east and ``y`` north of ``(lon, lat)``."""
    return LocalProjection(lon, lat).to_wgs84(shapely.Point(x, y))


@pytest.mark.parametrize(
    ("heading", "inside", "outside"),
    [
        (0.0, (0, 50), (50, 0)),  # north
        (90.0, (50, 0), (0, 50)),  # east
        (180.0, (0, -50), (0, 50)),  # south
        (270.0, (-50, 0), (50, 0)),  # west
        (45.0, (30, 30), (-30, 30)),  # north-east
    ],
)
def test_sector_points_along_its_heading_clockwise_from_north(
    heading: float, inside: tuple[float, float], outside: tuple[float, float]
) -> None:
    footprint = sector(13.4, 52.52, heading, 60.0, 100.0)
    assert footprint.contains(_local(13.4, 52.52, *inside))
    assert not footprint.contains(_local(13.4, 52.52, *outside))


def test_sector_reaches_its_range_and_no_further() -> None:
    footprint = sector(-73.99, 40.76, 0.0, 90.0, 100.0)
    assert footprint.contains(_local(-73.99, 40.76, 0, 99))
    assert not footprint.contains(_local(-73.99, 40.76, 0, 101))
    # The edges of a 90 degree view run at 45 degrees either side of north.
    assert footprint.contains(_local(-73.99, 40.76, 34, 35))
    assert not footprint.contains(_local(-73.99, 40.76, 36, 35))


def test_sector_area_is_its_share_of_the_circle() -> None:
    # 70 degrees of a 40 m circle; the arc is a polyline, a little inside the true arc.
    footprint = sector(13.4, 52.52, 120.0, 70.0, 40.0, segments=720)
    assert area_m2(footprint) == pytest.approx(math.pi * 40**2 * 70 / 360, rel=1e-3)
    full = sector(13.4, 52.52, 0.0, 360.0, 40.0, segments=720)
    assert area_m2(full) == pytest.approx(math.pi * 40**2, rel=1e-3)


def test_sector_far_from_its_cell_centre_still_points_true_north() -> None:
    # 13.49 E is half a degree from the shared projection's centre: its grid north is turned
    # 0.4 degrees from true north there, which a narrow view must not inherit.
    lon, lat = 13.49, 52.52
    footprint = sector(lon, lat, 0.0, 1.0, 1000.0)
    assert footprint.contains(_local(lon, lat, 0, 900))
    assert not footprint.contains(_local(lon, lat, 8.5, 900))
    assert not footprint.contains(_local(lon, lat, -8.5, 900))


def test_sectors_for_many_cameras_equal_one_by_one() -> None:
    rng = np.random.default_rng(7)
    n = 50
    lon, lat = 13.0 + rng.uniform(-1, 1, n), 52.0 + rng.uniform(-1, 1, n)
    heading, fov, reach = rng.uniform(0, 360, n), rng.uniform(10, 360, n), rng.uniform(10, 200, n)
    many = sectors(lon, lat, heading, fov, reach)
    for i in range(n):
        one = sector(lon[i], lat[i], heading[i], fov[i], reach[i])
        assert shapely.equals_exact(many[i], one, tolerance=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((13.4, 95.0, 0.0, 60.0, 50.0), "position"),
        ((13.4, 52.5, math.nan, 60.0, 50.0), "heading_deg"),
        ((13.4, 52.5, 0.0, 0.0, 50.0), "fov_deg"),
        ((13.4, 52.5, 0.0, 60.0, 0.0), "range_m"),
        ((13.4, 52.5, 0.0, 60.0, 50_000.0), "range_m"),
    ],
)
def test_sector_refuses_what_is_not_a_camera(
    args: tuple[float, float, float, float, float], message: str
) -> None:
    with pytest.raises(GeometryError, match=message):
        sector(*args)


def test_drawn_footprint() -> None:
    corners = [[13.40, 52.52], [13.401, 52.52], [13.401, 52.521], [13.40, 52.521]]
    assert drawn_footprint(corners).equals(shapely.Polygon(corners))
    with pytest.raises(GeometryError, match="three"):
        drawn_footprint(corners[:2])
    with pytest.raises(GeometryError, match="WGS 84"):
        drawn_footprint([[400000, 100000], [400100, 100000], [400100, 100100]])
    with pytest.raises(GeometryError, match="not a valid polygon"):
        drawn_footprint([corners[0], corners[2], corners[1], corners[3]])


def test_camera_footprint_prefers_a_drawn_polygon_and_needs_a_position() -> None:
    corners = [[13.40, 52.52], [13.401, 52.52], [13.401, 52.521]]
    assert camera_footprint(lon=13.4, lat=52.52, drawn=corners).equals(shapely.Polygon(corners))
    assert camera_footprint(lon=None, lat=None, heading_deg=0, fov_deg=60, range_m=50) is None
    assert camera_footprint(lon=13.4, lat=52.52, heading_deg=None, fov_deg=60, range_m=50) is None
    found = camera_footprint(lon=13.4, lat=52.52, heading_deg=0, fov_deg=60, range_m=50)
    assert found is not None and found.equals(sector(13.4, 52.52, 0, 60, 50))


def test_footprint_pairs_match_hand_placed_sites() -> None:
    lon, lat = 13.4, 52.52
    north_camera = sector(lon, lat, 0.0, 90.0, 100.0)
    east_camera = sector(lon, lat, 90.0, 90.0, 100.0)
    north_site = buffer_m(_local(lon, lat, 0, 60), 10.0)
    east_site = buffer_m(_local(lon, lat, 60, 0), 10.0)
    far_site = buffer_m(_local(lon, lat, 0, 500), 10.0)

    pairs = footprint_pairs([north_camera, None, east_camera], [north_site, east_site, far_site])

    assert sorted(map(tuple, pairs.T.tolist())) == [(0, 0), (2, 1)]
    assert footprint_pairs([None], [north_site]).shape == (2, 0)
