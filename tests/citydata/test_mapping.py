"""Mapping files: validated with file, line and field in errors; personal fields cannot be named."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.citydata import BERLIN_VIZ, NYC_DOB_PERMITS, is_personal_field, load_mapping
from citybrain.citydata.mapping import parse_mapping, template_fields
from citybrain.errors import ConfigError
from support.citydata_samples import NYC_COLUMNS, NYC_EXPORT_HEADERS

BASE = """\
source: permits
kind: construction_permit
id: permit_no
geometry: {lat: lat, lon: lon, radius_m: 25}
"""


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as refused:
        parse_mapping(text, source="m.yaml")
    return str(refused.value)


@pytest.mark.parametrize(
    "field",
    [
        "permittee_s_first_name",
        "permittee_s_last_name",
        "permittee_s_phone__",
        "Permittee's Phone #",
        "Owner's First Name",
        "owner_s_house_street_name",
        "superintendent_first___last_name",
        "site_safety_mgr_s_last_name",
        "contact_email",
        "Surname",
        "date_of_birth",
    ],
)
def test_personal_fields_cannot_be_mapped(field: str) -> None:
    message = _error(BASE + f'attributes: {{who: "{field}"}}\n')
    assert message.startswith(f"m.yaml:5: attributes.who: {field!r} holds personal data")


@pytest.mark.parametrize("place", ["id: owner_s_phone__", 'name: "{owner_s_first_name} site"'])
def test_personal_fields_cannot_be_the_id_or_the_name(place: str) -> None:
    text = BASE.replace("id: permit_no\n", "id: permit_no\n" if "name" in place else "")
    assert "personal data" in _error(text + place + "\n")


def test_a_personal_column_cannot_be_renamed_past_the_guard() -> None:
    aliases = 'aliases: {"Permittee\'s Phone #": contractor_line}\n'
    text = BASE + aliases + "attributes: [contractor_line]\n"
    assert 'aliases: "Permittee\'s Phone #" holds personal data' in _error(text)


def test_business_and_site_address_fields_are_not_personal() -> None:
    for field in ("permittee_s_business_name", "owner_s_business_name", "street_name", "house__",
                  "gis_nta_name", "Permittee's Business Name", "zip_code"):  # fmt: skip
        assert not is_personal_field(field), field


def test_every_personal_nyc_column_is_recognised() -> None:
    personal = {c for c in NYC_COLUMNS if is_personal_field(c)}
    assert personal == {
        "permittee_s_first_name", "permittee_s_last_name", "permittee_s_phone__",
        "site_safety_mgr_s_first_name", "site_safety_mgr_s_last_name",
        "superintendent_first___last_name", "owner_s_first_name", "owner_s_last_name",
        "owner_s_house__", "owner_s_house_street_name", "owner_s_zip_code", "owner_s_phone__",
    }  # fmt: skip
    assert {c for c in personal if is_personal_field(NYC_EXPORT_HEADERS[c])} == personal


def test_presets_read_no_personal_field() -> None:
    for mapping in (NYC_DOB_PERMITS, BERLIN_VIZ):
        assert not [f for f in mapping.source_fields() if is_personal_field(f)]


def test_errors_name_the_line_and_field() -> None:
    text = BASE + "valid_from: {field: start, formats: ['%d.%m.%Y'], timezone: Mars/Olympus}\n"
    assert _error(text) == "m.yaml:5: valid_from.timezone: unknown time zone 'Mars/Olympus'"


def test_unknown_keys_and_bad_kinds() -> None:
    message = _error(BASE.replace("kind: construction_permit", "kind: Construction Permit")
                     + "colour: red\n")  # fmt: skip
    assert "m.yaml:2: kind: String should match pattern" in message
    assert "m.yaml:5: colour: Extra inputs are not permitted" in message


def test_lat_without_lon_and_lat_with_wkt() -> None:
    assert "give both lat and lon" in _error(BASE.replace("lon: lon, ", ""))
    assert "lat/lon or wkt, not both" in _error(BASE.replace("radius_m: 25", "wkt: shape"))


def test_context_must_name_attributes() -> None:
    message = _error(BASE + "attributes: [contractor]\ncontext: [permit_no]\n")
    assert "context: ['permit_no'] are not attributes of this mapping" in message


def test_templates_take_plain_fields_only() -> None:
    assert template_fields("{house__} {street_name}, {borough}") == [
        "house__",
        "street_name",
        "borough",
    ]
    assert "plain {field} placeholders" in _error(BASE + 'name: "{house__!r}"\n')
    assert "plain {field} placeholders" in _error(BASE + 'name: "{house__:>10}"\n')


def test_attribute_lists_keep_source_names() -> None:
    mapping = parse_mapping(BASE + "attributes: [contractor, job_type]\n")
    assert mapping.attributes == {"contractor": "contractor", "job_type": "job_type"}


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert _error("source: [unclosed\n").startswith("m.yaml:2: not valid YAML:")
    assert _error("- a\n- b\n") == "m.yaml:1: a mapping file is a YAML mapping (source, id, ...)"
    with pytest.raises(ConfigError, match="cannot read the mapping"):
        load_mapping(tmp_path / "absent.yaml")


def test_the_example_mapping_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "sites-mapping.yaml"
    mapping = load_mapping(example)
    assert mapping.source == "city-facilities"
    assert mapping.geometry.radius_m == 40
