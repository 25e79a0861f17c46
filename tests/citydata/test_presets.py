"""The two presets on files in their real shapes: NYC DOB permits (CSV) and VIZ Berlin (GeoJSON)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import shapely
import shapely.geometry

from citybrain.citydata import (
    BERLIN_VIZ,
    NYC_DOB_PERMITS,
    LocalProjection,
    Site,
    SiteImportError,
    area_m2,
    import_file,
    import_text,
    preset,
)
from support.citydata_samples import (
    NYC_COLUMNS,
    NYC_PERSONAL_VALUES,
    nyc_csv,
    nyc_export_csv,
    nyc_row,
    viz_collection,
    viz_feature,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def _everything_kept(site: Site) -> str:
    return repr((site.id, site.source_id, site.name, dict(site.attributes), site.context()))


def test_nyc_permit_becomes_a_construction_site_with_only_mapped_fields(tmp_path: Path) -> None:
    path = tmp_path / "DOB_Permit_Issuance.csv"
    path.write_text(nyc_csv(nyc_row()), encoding="utf-8")

    result = import_file(path, preset("nyc-dob-permits"))

    [site] = result.sites
    assert site.id == "nyc-dob-permits.123456789"
    assert (site.source, site.source_id, site.kind) == ("nyc-dob-permits", "123456789",
                                                        "construction_permit")  # fmt: skip
    assert site.name == "350 WEST 42 STREET, MANHATTAN"
    assert site.valid_from == datetime(2024, 3, 15, tzinfo=NEW_YORK)
    # MM/DD/YYYY without a time: valid through the whole expiration day, New York time.
    assert site.valid_to == datetime(2025, 3, 15, tzinfo=NEW_YORK)
    assert site.attributes == {
        "permit_number": "123456789", "contractor": "ACME BUILDERS LLC", "job_type": "A2",
        "permit_type": "EW", "permit_status": "ISSUED", "issuance_date": "03/15/2024",
        "expiration_date": "03/14/2025", "house_number": "350", "street_name": "WEST 42 STREET",
        "borough": "MANHATTAN", "zip_code": "10036",
    }  # fmt: skip
    kept = _everything_kept(site)
    for personal in NYC_PERSONAL_VALUES:
        assert personal not in kept
    assert site.context()["attributes"] == {
        "permit_number": "123456789", "contractor": "ACME BUILDERS LLC", "job_type": "A2",
        "permit_type": "EW", "permit_status": "ISSUED",
    }  # fmt: skip


def test_nyc_permit_area_is_a_30_m_circle_around_the_geocoded_point() -> None:
    [site] = import_text(nyc_csv(nyc_row()), NYC_DOB_PERMITS).sites

    assert site.geometry.equals(shapely.Point(-73.991898, 40.757929))
    assert site.radius_m == 30.0
    # A 32-gon inscribed in a 30 m circle: 0.9936 of pi r^2, measured on the ground.
    assert area_m2(site.area) == pytest.approx(math.pi * 30**2 * 0.99359, rel=2e-3)
    metres = LocalProjection(-73.991898, 40.757929).to_metres(site.area)
    x0, y0, x1, y1 = metres.bounds
    assert (x1 - x0, y1 - y0) == (pytest.approx(60, rel=1e-3), pytest.approx(60, rel=1e-3))


def test_nyc_portal_export_headers_are_read_as_the_same_columns() -> None:
    text = "\ufeff" + nyc_export_csv(nyc_row())

    [site] = import_text(text, NYC_DOB_PERMITS, label="export.csv").sites

    assert site.attributes["contractor"] == "ACME BUILDERS LLC"
    assert site.geometry.equals(shapely.Point(-73.991898, 40.757929))
    for personal in NYC_PERSONAL_VALUES:
        assert personal not in _everything_kept(site)


def test_nyc_permits_of_one_job_make_one_site_over_all_their_validity() -> None:
    rows = [
        nyc_row(permit_type="EW", issuance_date="03/15/2024", expiration_date="03/14/2025"),
        nyc_row(permit_type="PL", issuance_date="05/02/2024", expiration_date="11/30/2025",
                permittee_s_business_name="HUDSON PLUMBING CORP"),
        nyc_row(job__="421987654", borough="QUEENS", house__="37-10", street_name="30 STREET",
                gis_latitude="40.7532", gis_longitude="-73.9348"),
    ]  # fmt: skip

    result = import_text(nyc_csv(*rows), NYC_DOB_PERMITS)

    assert result.merged == 1
    by_id = {site.source_id: site for site in result.sites}
    job = by_id["123456789"]
    assert job.valid_from == datetime(2024, 3, 15, tzinfo=NEW_YORK)
    assert job.valid_to == datetime(2025, 12, 1, tzinfo=NEW_YORK)
    assert job.attributes["permit_type"] == "PL"  # the permit issued last
    assert job.attributes["contractor"] == "HUDSON PLUMBING CORP"
    assert by_id["421987654"].name == "37-10 30 STREET, QUEENS"


def test_nyc_rows_not_yet_geocoded_are_skipped_and_listed() -> None:
    rows = [nyc_row(), nyc_row(job__="520000001", gis_latitude="", gis_longitude="")]

    result = import_text(nyc_csv(*rows), NYC_DOB_PERMITS)

    assert [site.source_id for site in result.sites] == ["123456789"]
    assert result.skipped == ["line 3: gis_latitude: no geometry"]


def test_nyc_without_expiration_stays_open() -> None:
    [site] = import_text(nyc_csv(nyc_row(expiration_date="")), NYC_DOB_PERMITS).sites
    assert site.valid_to is None
    assert site.active_at(datetime(2040, 1, 1, tzinfo=UTC))


def test_nyc_date_that_does_not_parse_names_line_and_field() -> None:
    rows = [nyc_row(), nyc_row(job__="2", issuance_date="31/12/2024")]

    with pytest.raises(SiteImportError) as refused:
        import_text(nyc_csv(*rows), NYC_DOB_PERMITS, label="permits.csv")

    assert refused.value.problems == (
        "line 3: issuance_date: '31/12/2024' is not a date in the format "
        "%m/%d/%Y or %m/%d/%Y %I:%M:%S %p or iso",
    )
    assert str(refused.value).startswith("permits.csv: line 3: issuance_date:")


def test_nyc_file_without_the_mapped_columns_is_refused() -> None:
    columns = tuple(c for c in NYC_COLUMNS if c not in ("gis_latitude", "job__"))

    with pytest.raises(SiteImportError) as refused:
        import_text(nyc_csv(nyc_row(), columns=columns), NYC_DOB_PERMITS, label="p.csv")

    [problem] = refused.value.problems
    assert problem.startswith(
        "line 1: (header): missing column(s) 'job__' (the mapping's id), "
        "'gis_latitude' (the mapping's geometry.lat)"
    )


def test_berlin_road_works_collection_is_buffered_to_an_area() -> None:
    text = viz_collection(viz_feature())

    [site] = import_text(text, preset("berlin-viz"), label="baustellen_sperrungen.json").sites

    assert site.kind == "road_works"
    assert site.source_id == "8/2025"
    assert site.id.startswith("berlin-viz.8-2025-")
    assert site.name == "Wolfensteindamm zwischen Schloßstraße und Bismarckstraße"
    assert site.valid_from == datetime(2025, 7, 23, 7, 0, tzinfo=BERLIN)
    assert site.valid_to == datetime(2025, 8, 17, 17, 0, tzinfo=BERLIN)
    assert site.attributes == {
        "subtype": "Baustelle", "severity": "keine Sperrung", "street": "Wolfensteindamm",
        "section": "zwischen Schloßstraße und Bismarckstraße",
        "content": "Fahrbahn auf einen Fahrstreifen verengt, Bauarbeiten",
        "direction": "beidseitig",
    }  # fmt: skip
    assert site.geometry.geom_type == "GeometryCollection"
    assert site.area.geom_type == "Polygon"
    # A line buffered by 15 m: length x 30 m plus a 15 m circle for its two round ends.
    line = site.geometry.geoms[1]
    length = LocalProjection(13.32, 52.45).to_metres(line).length
    expected = length * 30 + math.pi * 15**2 * 0.99359
    assert area_m2(site.area) == pytest.approx(expected, rel=5e-3)


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [13.4050, 52.5200]},
        {"type": "LineString", "coordinates": [[13.3880, 52.5160], [13.3900, 52.5165]]},
    ],
)
def test_berlin_point_and_line_features(geometry: dict[str, Any]) -> None:
    [site] = import_text(viz_collection(viz_feature(geometry)), BERLIN_VIZ).sites

    assert site.area.geom_type == "Polygon"
    assert site.radius_m == 15.0
    shape = shapely.geometry.shape(geometry)
    assert site.area.contains(shape)
    # Every point of the source shape is 15 m from the edge of the area.
    projection = LocalProjection(13.4, 52.52)
    edge = projection.to_metres(site.area).exterior
    for x, y in shapely.get_coordinates(projection.to_metres(shape)):
        assert edge.distance(shapely.Point(x, y)) == pytest.approx(15, rel=0.02)


def test_berlin_iso_validity_of_newer_files_is_read_too() -> None:
    feature = viz_feature(valid_from="2025-07-23T07:00", valid_to="2099-08-17T17:00")
    [site] = import_text(viz_collection(feature), BERLIN_VIZ).sites
    assert site.valid_from == datetime(2025, 7, 23, 7, 0, tzinfo=BERLIN)
    assert site.valid_to == datetime(2099, 8, 17, 17, 0, tzinfo=BERLIN)


def test_berlin_features_without_id_get_a_stable_one() -> None:
    a = viz_feature(id=None)
    b = viz_feature(id=None, valid_from="01.09.2025 06:00", valid_to="30.09.2025 18:00")

    first = import_text(viz_collection(a, b), BERLIN_VIZ).sites
    again = import_text(viz_collection(b, a), BERLIN_VIZ).sites

    assert {s.id for s in first} == {s.id for s in again}
    assert len({s.id for s in first}) == 2
    assert first[0].source_id == "13.31985,52.45061@23.07.2025 07:00"


def test_berlin_validity_that_does_not_parse_names_feature_and_field() -> None:
    text = viz_collection(viz_feature(), viz_feature(id="9/2025", valid_to="31.02.2025 25:00"))

    with pytest.raises(SiteImportError) as refused:
        import_text(text, BERLIN_VIZ, label="viz.json")

    [problem] = refused.value.problems
    assert problem.startswith("feature 2: validity.to: '31.02.2025 25:00' is not a date")


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="berlin-viz"):
        preset("paris-permits")
