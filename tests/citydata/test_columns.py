"""The column-wise drafting of CSV files: the same drafts and sites as row by row, or nothing.

A clean CSV file is drafted a column at a time (:func:`draft_columns`); these tests hold it to
the row-by-row :class:`Drafter` on the shapes the importer reads (the NYC preset, a user's
lat/lon mapping with a name template, WKT in another CRS, blank and repeated rows), and check
that each kind of wrong value makes it give up, so that the row-by-row path names the problem.
"""

from __future__ import annotations

import pytest
import shapely

from citybrain.citydata import NYC_DOB_PERMITS, import_text, parse_mapping
from citybrain.citydata.columns import draft_columns
from citybrain.citydata.convert import build_sites
from citybrain.citydata.drafting import Draft, Drafter
from citybrain.citydata.errors import Problems
from citybrain.citydata.formats import read_csv_columns
from citybrain.citydata.geo import parse_crs
from citybrain.citydata.mapping import Mapping
from support.citydata_samples import nyc_csv, nyc_row

FACILITIES_YAML = """\
source: london-facilities
kind: facility
id: facility_id
name: "{site_name} ({facility_type})"
geometry: {lat: latitude, lon: longitude, radius_m: 40}
valid_from: {field: opened, formats: ["%d/%m/%Y"], timezone: Europe/London}
attributes: [facility_type, operator]
context: [facility_type]
missing_geometry: skip
"""

FACILITIES_CSV = """\
facility_id,site_name,facility_type,operator,contact_phone,opened,latitude,longitude
F-001,Kings Cross depot,bus_depot,Transport for London,020 7946 0001,01/04/2019,51.5322,-0.1240
F-002, Vauxhall  substation ,substation,UK Power Networks,020 7946 0002,15/10/2021, 51.4858 ,-0.1236

F-003,,,,,,,
F-004,Bow,,Network Rail,,,51.5290,-0.0200
"""

WKT_YAML = """\
source: bng-zones
kind: no_parking
id: ref
name: label
geometry: {wkt: geom, crs: "EPSG:27700", radius_m: 10}
attributes: {ref: ref, label: label}
missing_geometry: skip
"""

WKT_CSV = (
    "ref,label,geom\n"
    'NP-7,Whitehall bay,"POLYGON ((530000 180000, 530100 180000, 530100 180100, '
    '530000 180100, 530000 180000))"\n'
    "NP-8,Strand,POINT (530500 180700)\n"
    "NP-9,Nowhere yet,\n"
    'NP-10,Mall,"LINESTRING (529500 180000, 529900 180100)"\n'
)

NYC_CSV = nyc_csv(
    nyc_row(),
    nyc_row(job__="2", house__="", borough="QUEENS", gis_latitude="40.7", gis_longitude="-73.9"),
    nyc_row(job__="123456789", issuance_date="05/01/2024", expiration_date="05/01/2025"),
    nyc_row(job__="3", gis_latitude="", gis_longitude=""),  # not geocoded: skipped
    nyc_row(job__="4", issuance_date="2024-06-01T08:30:00", expiration_date=""),
)

CASES = [
    (NYC_DOB_PERMITS, NYC_CSV),
    (parse_mapping(FACILITIES_YAML), FACILITIES_CSV),
    (parse_mapping(WKT_YAML), WKT_CSV),
]


def _row_by_row(mapping: Mapping, text: str) -> list[Draft]:
    problems = Problems()
    drafter = Drafter(mapping, problems)
    records = read_csv_columns(text, mapping, label="t.csv").records()
    drafts = [drafter.draft(record) for record in records]
    assert problems.count == 0
    return drafts


@pytest.mark.parametrize(("mapping", "text"), CASES, ids=["nyc", "facilities", "wkt"])
def test_columns_give_the_drafts_rows_give(mapping: Mapping, text: str) -> None:
    drafts = draft_columns(read_csv_columns(text, mapping, label="t.csv"), mapping)
    expected = _row_by_row(mapping, text)
    assert drafts is not None
    assert len(drafts) == len(expected)
    for fast, slow in zip(drafts, expected, strict=True):
        if isinstance(slow.geometry, shapely.Geometry):
            assert shapely.equals_exact(fast.geometry, slow.geometry, tolerance=0)
            fast.geometry = slow.geometry
        assert fast == slow


@pytest.mark.parametrize(("mapping", "text"), CASES, ids=["nyc", "facilities", "wkt"])
def test_columns_give_the_sites_rows_give(mapping: Mapping, text: str) -> None:
    fast = import_text(text, mapping, label="t.csv")
    crs = None if mapping.geometry.crs is None else parse_crs(mapping.geometry.crs)
    records = read_csv_columns(text, mapping, label="t.csv").records()
    slow = build_sites(records, mapping, kind=mapping.kind or "", crs=crs, label="t.csv")
    assert fast.skipped == slow.skipped and fast.skipped
    assert fast.merged == slow.merged
    assert len(fast.sites) == len(slow.sites) >= 2
    for a, b in zip(fast.sites, slow.sites, strict=True):
        assert a.same_content(b)
        assert a.radius_m == b.radius_m
        assert shapely.equals_exact(a.area, b.area, tolerance=1e-14)


def test_the_nyc_rows_are_what_the_preset_says() -> None:
    # Hand-checked against the rows: the job seen twice is one site spanning both permits.
    result = import_text(NYC_CSV, NYC_DOB_PERMITS, label="p.csv")
    first, queens, fourth = result.sites
    assert first.source_id == "123456789" and result.merged == 1
    assert first.valid_from is not None and first.valid_from.date().isoformat() == "2024-03-15"
    assert first.valid_to is not None and first.valid_to.date().isoformat() == "2025-05-02"
    assert first.attributes["issuance_date"] == "05/01/2024"  # the later permit's fields
    assert queens.name == "WEST 42 STREET, QUEENS"  # no house number: no leading space
    assert queens.attributes["house_number"] == ""
    assert fourth.valid_to is None and fourth.valid_from is not None
    assert result.skipped == ["line 5: gis_latitude: no geometry"]
    assert "JOHN" not in repr(result.sites) and "2125550147" not in repr(result.sites)


ZONES_YAML = """\
source: zones
kind: restricted_area
id: ref
geometry: {lat: lat, lon: lon, radius_m: 20}
valid_from: {field: start, formats: ["%Y-%m-%d"]}
valid_to: {field: end, formats: ["%Y-%m-%d"]}
attributes: [note]
max_attribute_chars: 10
"""


@pytest.mark.parametrize(
    "row",
    [
        ",52.5,13.4,,,",  # no id
        "Z2,52.5,13.4,2025-13-01,,",  # not a date
        "Z2,52.5,13.4,2025-02-01,2025-01-01,",  # ends before it starts
        "Z2,52.5,east,,,",  # not a number
        "Z2,nan,13.4,,,",  # not a finite number
        "Z2,52.5,,,,",  # half a position
        "Z2,52.5,13.4,,,a note far too long",  # longer than the mapping allows
    ],
)
def test_columns_give_up_at_a_wrong_value(row: str) -> None:
    mapping = parse_mapping(ZONES_YAML)
    text = f"ref,lat,lon,start,end,note\nZ1,52.5,13.4,,,\n{row}\n"
    assert draft_columns(read_csv_columns(text, mapping, label="z.csv"), mapping) is None
    problems = Problems()
    drafter = Drafter(mapping, problems)
    for record in read_csv_columns(text, mapping, label="z.csv").records():
        drafter.draft(record)
    assert problems.count == 1 and problems.lines[0].startswith("line 3: ")


def test_columns_give_up_at_bad_wkt() -> None:
    mapping = parse_mapping(WKT_YAML)
    text = 'ref,label,geom\nZ1,a,POINT (530500 180700)\nZ2,b,"POLYGON ((0 0, 1 0"\n'
    assert draft_columns(read_csv_columns(text, mapping, label="z.csv"), mapping) is None
