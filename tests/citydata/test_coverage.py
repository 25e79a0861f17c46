"""Coverage checked against hand-worked geometry: a square site half inside one camera's sector."""

from __future__ import annotations

import pytest
import shapely

from citybrain.citydata import LocalProjection, Site, area_m2, coverage, sector, site_id

LON, LAT = 13.4, 52.52
HERE = LocalProjection(LON, LAT)


def _site(ref: str, x0: float, y0: float, x1: float, y1: float, kind: str = "facility") -> Site:
    """A rectangle ``x0..x1`` metres east and ``y0..y1`` north of the camera position."""
    area = HERE.to_wgs84(shapely.box(x0, y0, x1, y1))
    return Site(site_id("test", ref), "test", ref, kind, ref, area, area)


def test_a_square_site_half_inside_one_camera_sector() -> None:
    # The camera looks east with a 180 degree view and 100 m range: it sees everything east of
    # the north-south line through it, out to 100 m. The 40 m square from 20 m west to 20 m
    # east, 30 to 70 m north (its far corner 73 m away) is cut in half by that line.
    camera = sector(LON, LAT, 90.0, 180.0, 100.0)
    square = _site("square", -20, 30, 20, 70)

    report = coverage([square], {"gate": camera})

    [result] = report.sites
    assert result.area_m2 == pytest.approx(1600, rel=1e-3)
    assert result.covered_m2 == pytest.approx(800, rel=1e-3)
    assert result.share == pytest.approx(0.5, abs=1e-3)
    assert result.cameras == ("gate",)
    # What no camera sees is the western half.
    western_half = HERE.to_wgs84(shapely.box(-20, 30, 0, 70))
    assert area_m2(result.uncovered) == pytest.approx(800, rel=1e-3)
    assert area_m2(result.uncovered.symmetric_difference(western_half)) < 1.0
    assert report.total.share == pytest.approx(0.5, abs=1e-3)


def test_overlapping_cameras_are_not_counted_twice() -> None:
    square = _site("square", -20, 30, 20, 70)
    east = sector(LON, LAT, 90.0, 180.0, 100.0)
    west = sector(LON, LAT, 270.0, 180.0, 100.0)
    everywhere = sector(LON, LAT, 0.0, 360.0, 100.0)

    both = coverage([square], {"east": east, "west": west, "all": everywhere}).sites[0]

    assert both.covered_m2 == pytest.approx(1600, rel=1e-3)
    assert both.share == pytest.approx(1.0, abs=1e-3)
    assert both.uncovered.is_empty or area_m2(both.uncovered) < 0.5
    assert set(both.cameras) == {"east", "west", "all"}


def test_a_site_no_camera_reaches_is_all_uncovered() -> None:
    far = _site("far", 500, 500, 540, 540)
    camera_without_position = None

    report = coverage([far], {"gate": sector(LON, LAT, 90.0, 180.0, 100.0),
                              "indoor": camera_without_position})  # fmt: skip

    [result] = report.sites
    assert (result.covered_m2, result.share, result.cameras) == (0.0, 0.0, ())
    assert result.uncovered.equals(far.area)


def test_kinds_filter_and_totals_per_kind() -> None:
    camera = sector(LON, LAT, 90.0, 180.0, 100.0)
    sites = [
        _site("half", -20, 30, 20, 70, kind="construction_permit"),
        _site("inside", 10, -10, 30, 10, kind="construction_permit"),
        _site("station", -60, -10, -40, 10, kind="facility"),
    ]

    report = coverage(sites, {"gate": camera})
    only_permits = coverage(sites, {"gate": camera}, kinds={"construction_permit"})

    assert report.kinds["construction_permit"].area_m2 == pytest.approx(2000, rel=1e-3)
    assert report.kinds["construction_permit"].covered_m2 == pytest.approx(1200, rel=1e-3)
    assert report.kinds["construction_permit"].share == pytest.approx(0.6, abs=1e-3)
    assert report.kinds["facility"].share == 0.0
    assert report.total.sites == 3
    assert report.total.share == pytest.approx(1200 / 2400, abs=1e-3)
    assert [r.site_id for r in only_permits.sites] == ["test.half", "test.inside"]
    assert set(only_permits.kinds) == {"construction_permit"}


def test_no_sites_and_no_cameras() -> None:
    empty = coverage([], {})
    assert empty.sites == [] and empty.total.share == 0.0
    lonely = coverage([_site("a", 0, 0, 10, 10)], {})
    assert lonely.sites[0].share == 0.0
