"""Bad files are refused whole, with errors naming the row or feature and the field."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from citybrain.citydata import (
    BERLIN_VIZ,
    DEFAULT_MAX_BYTES,
    NYC_DOB_PERMITS,
    SiteImportError,
    import_bytes,
    import_file,
    import_text,
    parse_mapping,
)
from citybrain.errors import ConfigError
from support.citydata_samples import nyc_csv, nyc_row, viz_collection, viz_feature

ZONES_YAML = """\
source: zones
kind: restricted_area
id: ref
geometry: {lat: lat, lon: lon, radius_m: 20}
valid_from: {field: start, formats: ["%Y-%m-%d"]}
valid_to: {field: end, formats: ["%Y-%m-%d"]}
attributes: [note]
"""


def _refused(text: str, mapping_yaml: str = ZONES_YAML, label: str = "zones.csv") -> list[str]:
    with pytest.raises(SiteImportError) as refused:
        import_text(text, parse_mapping(mapping_yaml), label=label)
    assert str(refused.value).startswith(label + ": ")
    return list(refused.value.problems)


@pytest.fixture(scope="module")
def junk_100mb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("junk") / "permits.csv"
    with path.open("wb") as file:
        for _ in range(100):
            file.write(os.urandom(1024 * 1024))
    return path


def test_100_mb_of_junk_is_refused_by_the_size_bound(junk_100mb: Path) -> None:
    with pytest.raises(SiteImportError) as refused:
        import_file(junk_100mb, NYC_DOB_PERMITS)
    assert refused.value.problems == (f"(file): larger than {DEFAULT_MAX_BYTES:,} bytes; refused",)


def test_100_mb_of_junk_within_a_larger_bound_is_refused_as_not_text(junk_100mb: Path) -> None:
    with pytest.raises(SiteImportError) as refused:
        import_file(junk_100mb, NYC_DOB_PERMITS, max_bytes=128 * 1024 * 1024)
    [problem] = refused.value.problems
    assert problem.startswith("line ") and ": (text): byte " in problem and "utf-8" in problem


def test_junk_that_is_text_is_refused_for_missing_columns() -> None:
    letters = "".join(chr(0x41 + (i * 7919) % 50) for i in range(200_000))
    lines = "\n".join(letters[i : i + 80] for i in range(0, len(letters), 80)).encode()
    with pytest.raises(SiteImportError) as refused:
        import_bytes(lines, NYC_DOB_PERMITS, label="junk.csv")
    assert refused.value.problems[0].startswith("line 1: (header): missing column(s) 'job__'")


def test_junk_without_line_breaks_is_not_csv() -> None:
    junk = "".join(chr(0x41 + (i * 7919) % 50) for i in range(200_000)).encode()
    with pytest.raises(SiteImportError) as refused:
        import_bytes(junk, NYC_DOB_PERMITS, label="junk.csv")
    assert refused.value.problems[0].startswith("line 1: (header): not CSV: field larger than")


def test_junk_as_geojson_names_where_the_json_breaks() -> None:
    problems = _refused('{"type": "FeatureCollection",\n "features": [}', label="zones.geojson")
    assert problems == ["line 2 column 15: (document): not JSON: Expecting value"]


def test_json_that_is_not_a_feature_collection() -> None:
    problems = _refused('{"type": "Feature", "geometry": null}', label="z.geojson")
    assert problems == ["(document): type: a FeatureCollection is needed, got 'Feature'"]


def test_invalid_polygon_names_the_feature_and_the_field() -> None:
    ring = [[13.40, 52.52], [13.41, 52.53], [13.41, 52.52], [13.40, 52.53], [13.40, 52.52]]
    bowtie = {"type": "Polygon", "coordinates": [ring]}
    text = viz_collection(viz_feature(), viz_feature(bowtie, id="12/2025"))

    with pytest.raises(SiteImportError) as refused:
        import_text(text, BERLIN_VIZ, label="viz.json")

    [problem] = refused.value.problems
    assert problem.startswith("feature 2: geometry: not a valid Polygon: Self-intersection[")


def test_geometry_that_is_not_geojson() -> None:
    text = viz_collection(viz_feature({"type": "Blob", "coordinates": [1, 2]}))
    with pytest.raises(SiteImportError) as refused:
        import_text(text, BERLIN_VIZ, label="viz.json")
    assert refused.value.problems[0].startswith("feature 1: geometry: not a GeoJSON geometry")


def test_unknown_crs_in_the_file_is_refused() -> None:
    data = json.loads(viz_collection(viz_feature()))
    data["crs"] = {"type": "name", "properties": {"name": "EPSG:99999"}}
    with pytest.raises(SiteImportError) as refused:
        import_text(json.dumps(data), BERLIN_VIZ, label="viz.json")
    assert refused.value.problems == ("(document): crs: unknown CRS 'EPSG:99999'",)


def test_unknown_crs_in_a_mapping_names_file_line_and_field() -> None:
    text = ZONES_YAML.replace("radius_m: 20}", 'radius_m: 20, crs: "EPSG:99999"}')
    with pytest.raises(ConfigError) as refused:
        parse_mapping(text, source="zones.yaml")
    assert str(refused.value) == "zones.yaml:4: geometry.crs: unknown CRS 'EPSG:99999'"


def test_coordinates_off_the_earth_are_refused() -> None:
    text = "ref,lat,lon,start,end,note\nZ1,52.5,13.4,,,ok\nZ2,152.5,13.4,,,swapped?\n"
    assert _refused(text) == [
        "line 3: lat: coordinates (13.4, 152.5) are not a place on Earth in WGS 84"
    ]


def test_coordinates_that_are_not_numbers() -> None:
    text = "ref,lat,lon,start,end,note\nZ1,52.5,east,,,\n"
    assert _refused(text) == ["line 2: lon: 'east' is not a number"]


def test_validity_that_ends_before_it_starts() -> None:
    text = "ref,lat,lon,start,end,note\nZ1,52.5,13.4,2025-06-01,2025-05-01,\n"
    assert _refused(text) == ["line 2: end: ends before it starts"]


def test_rows_with_the_wrong_number_of_fields() -> None:
    text = "ref,lat,lon,start,end,note\nZ1,52.5,13.4,,,\nZ2,52.5,13.4\n"
    assert _refused(text) == ["line 3: (row): 3 fields, the header has 6"]


def test_nul_characters_are_not_text() -> None:
    text = "ref,lat,lon,start,end,note\nZ1,52.5,13.4,,,\x00\n"
    assert _refused(text) == ["line 2: (text): character 42 is NUL: not a text file"]


def test_empty_file() -> None:
    assert _refused("") == ["line 1: (header): the file is empty"]


def test_bad_wkt() -> None:
    mapping = ZONES_YAML.replace("{lat: lat, lon: lon, radius_m: 20}", "{wkt: shape}")
    text = 'ref,shape,start,end,note\nZ1,"POLYGON ((0 0, 1 0",,,\n'
    [problem] = _refused(text, mapping)
    assert problem.startswith("line 2: shape: not valid WKT:")


def test_a_point_without_a_radius_cannot_make_an_area() -> None:
    mapping = ZONES_YAML.replace(", radius_m: 20}", "}")
    text = "ref,lat,lon,start,end,note\nZ1,52.5,13.4,,,\n"
    assert _refused(text, mapping) == [
        "line 2: lat: a Point needs geometry.radius_m in the mapping to make an area"
    ]


def test_a_value_longer_than_the_mapping_allows() -> None:
    mapping = ZONES_YAML + "max_attribute_chars: 10\n"
    text = "ref,lat,lon,start,end,note\nZ1,52.5,13.4,,,this note is far too long\n"
    assert _refused(text, mapping) == ["line 2: note: longer than 10 chars"]


def test_one_bad_row_refuses_the_whole_file_and_many_are_summarised() -> None:
    good = [f"Z{i},52.5,13.4,,," for i in range(50)]
    bad = [f"B{i},52.5,13.4,2025-13-{i:02d},," for i in range(30)]
    text = "ref,lat,lon,start,end,note\n" + "\n".join(good + bad) + "\n"

    with pytest.raises(SiteImportError) as refused:
        import_text(text, parse_mapping(ZONES_YAML), label="zones.csv")

    assert len(refused.value.problems) == 20
    assert refused.value.more == 10
    assert refused.value.problems[0] == (
        "line 52: start: '2025-13-00' is not a date in the format %Y-%m-%d"
    )
    assert str(refused.value).endswith("zones.csv: ... and 10 more problem(s)")


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SiteImportError) as refused:
        import_file(tmp_path / "absent.csv", NYC_DOB_PERMITS)
    assert refused.value.problems[0].startswith("(file): cannot read:")


def test_nyc_file_with_a_broken_row_yields_nothing() -> None:
    rows = [nyc_row(), nyc_row(job__="2", gis_latitude="40.75", gis_longitude="not-a-longitude")]
    with pytest.raises(SiteImportError) as refused:
        import_text(nyc_csv(*rows), NYC_DOB_PERMITS, label="p.csv")
    assert refused.value.problems == ("line 3: gis_longitude: 'not-a-longitude' is not a number",)
