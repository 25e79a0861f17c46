"""Import with a user's mapping: CSV with lat/lon or WKT, GeoJSON, and coordinates in any CRS."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import shapely

from citybrain.citydata import (
    SiteImportError,
    area_m2,
    import_bytes,
    import_file,
    import_text,
    load_mapping,
    parse_mapping,
)

LONDON = ZoneInfo("Europe/London")

FACILITIES_YAML = """\
source: london-facilities
kind: facility
id: facility_id
name: "{site_name} ({facility_type})"
geometry: {lat: latitude, lon: longitude, radius_m: 40}
valid_from: {field: opened, formats: ["%d/%m/%Y"], timezone: Europe/London}
attributes: [facility_type, operator]
context: [facility_type]
"""

FACILITIES_CSV = """\
facility_id,site_name,facility_type,operator,contact_phone,manager_first_name,opened,latitude,longitude
F-001,Kings Cross depot,bus_depot,Transport for London,020 7946 0001,Sam,01/04/2019,51.5322,-0.1240
F-002,Vauxhall substation,substation,UK Power Networks,020 7946 0002,Lee,15/10/2021,51.4858,-0.1236
"""


def test_user_mapping_from_yaml_reads_csv_with_lat_lon(tmp_path: Path) -> None:
    (tmp_path / "facilities.yaml").write_text(FACILITIES_YAML)
    (tmp_path / "facilities.csv").write_text(FACILITIES_CSV)
    mapping = load_mapping(tmp_path / "facilities.yaml")

    result = import_file(tmp_path / "facilities.csv", mapping)

    first, second = result.sites
    assert first.id == "london-facilities.F-001"
    assert first.name == "Kings Cross depot (bus_depot)"
    assert first.kind == "facility"
    assert first.valid_from == datetime(2019, 4, 1, tzinfo=LONDON)
    assert first.valid_to is None
    # Only what the mapping names: the phone and the manager's first name are not kept.
    assert first.attributes == {"facility_type": "bus_depot", "operator": "Transport for London"}
    assert "020 7946" not in repr(first) and "Sam" not in repr(first.attributes)
    assert first.context()["attributes"] == {"facility_type": "bus_depot"}
    assert area_m2(second.area) == pytest.approx(math.pi * 40**2 * 0.99359, rel=2e-3)


def test_kind_given_to_the_import_wins_over_the_mapping() -> None:
    mapping = parse_mapping(FACILITIES_YAML)
    result = import_text(FACILITIES_CSV, mapping, kind="restricted_area", label="f.csv")
    assert {site.kind for site in result.sites} == {"restricted_area"}
    with pytest.raises(SiteImportError, match="'Bus Depot' is not a kind"):
        import_text(FACILITIES_CSV, mapping, kind="Bus Depot", label="f.csv")
    no_kind = parse_mapping(FACILITIES_YAML.replace("kind: facility\n", ""))
    with pytest.raises(SiteImportError, match="no kind"):
        import_text(FACILITIES_CSV, no_kind, label="f.csv")


WKT_YAML = """\
source: bng-zones
kind: no_parking
id: ref
name: label
geometry: {wkt: geom, crs: "EPSG:27700"}
attributes: {ref: ref}
"""


def test_wkt_in_british_national_grid_lands_in_london_with_its_true_size() -> None:
    # A 100 m x 100 m square of the national grid near Charing Cross (TQ 300 800).
    text = (
        "ref,label,geom\n"
        'NP-7,Whitehall bay,"POLYGON ((530000 180000, 530100 180000, 530100 180100, '
        '530000 180100, 530000 180000))"\n'
    )

    [site] = import_text(text, parse_mapping(WKT_YAML), label="zones.csv").sites

    x0, y0, x1, y1 = site.area.bounds
    assert -0.135 < x0 < x1 < -0.120 and 51.50 < y0 < y1 < 51.51
    # The grid's scale factor near London is about 0.9997: the square is 10,000 m2 to 0.1 %.
    assert area_m2(site.area) == pytest.approx(10_000, rel=1e-3)
    assert site.radius_m is None


def test_point_in_british_national_grid_is_buffered_in_metres() -> None:
    mapping = parse_mapping(WKT_YAML.replace('27700"}', '27700", radius_m: 50}'))
    text = "ref,label,geom\nNP-8,Strand,POINT (530500 180700)\n"

    [site] = import_text(text, mapping, label="zones.csv").sites

    assert site.geometry.geom_type == "Point"
    assert area_m2(site.area) == pytest.approx(math.pi * 50**2 * 0.99359, rel=2e-3)


GEOJSON_YAML = """\
source: city-restricted
kind: restricted_area
id: "@id"
name: name
attributes: {zone_type: class}
"""


def _square(x: float, y: float, d: float) -> list[list[list[float]]]:
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def test_geojson_polygons_with_a_crs_member_are_transformed() -> None:
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
        "features": [
            {"type": "Feature", "id": "R1", "properties": {"name": "Depot yard", "class": "rail"},
             "geometry": {"type": "Polygon", "coordinates": _square(530000, 180000, 200)}},
        ],
    }  # fmt: skip

    mapping = parse_mapping(GEOJSON_YAML)
    [site] = import_text(json.dumps(collection), mapping, label="r.geojson").sites

    assert site.source_id == "R1"
    assert site.attributes == {"zone_type": "rail"}
    assert area_m2(site.area) == pytest.approx(40_000, rel=1e-3)


def test_geojson_in_wgs84_keeps_polygons_and_multipolygons() -> None:
    features = [
        {"type": "Feature", "id": 1, "properties": {"name": "A", "class": "x"},
         "geometry": {"type": "Polygon", "coordinates": _square(13.40, 52.52, 0.001)}},
        {"type": "Feature", "id": 2, "properties": {"name": "B", "class": None},
         "geometry": {"type": "MultiPolygon",
                      "coordinates": [_square(13.41, 52.52, 0.001), _square(13.42, 52.52, 0.001)]}},
    ]  # fmt: skip
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()

    a, b = import_bytes(data, parse_mapping(GEOJSON_YAML), label="zones.json").sites

    assert a.area.equals(shapely.geometry.shape(features[0]["geometry"]))
    assert b.area.geom_type == "MultiPolygon"
    assert b.attributes == {"zone_type": None}
    # 0.001 degrees at 52.52 N: 67.8 m east-west by 111.3 m north-south (ellipsoid).
    assert area_m2(a.area) == pytest.approx(67.85 * 111.29, rel=2e-3)


def test_reimport_gives_the_same_ids() -> None:
    mapping = parse_mapping(FACILITIES_YAML)
    first = import_text(FACILITIES_CSV, mapping, label="a.csv").sites
    changed = FACILITIES_CSV.replace("Kings Cross depot", "King's Cross depot")
    again = import_text(changed, mapping, label="b.csv").sites
    assert [s.id for s in first] == [s.id for s in again]
    assert not first[0].same_content(again[0])
    assert first[1].same_content(again[1])


def test_duplicate_ids_are_refused_unless_the_mapping_merges() -> None:
    text = FACILITIES_CSV + "F-001,Kings Cross depot,bus_depot,TfL,,,01/04/2020,51.5322,-0.1240\n"

    with pytest.raises(SiteImportError) as refused:
        import_text(text, parse_mapping(FACILITIES_YAML), label="f.csv")

    assert refused.value.problems == (
        "line 4: facility_id: id 'F-001' appears again (first at line 2)",
    )
