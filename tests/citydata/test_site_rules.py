"""Rules from data: active sites a camera sees switch rules on, with zone, origin and context."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import shapely

from citybrain.citydata import (
    NYC_DOB_PERMITS,
    Calibration,
    CameraView,
    LocalProjection,
    Site,
    import_text,
    next_change,
    parse_site_rules,
    rules_for_camera,
    sector,
    zone_polygon,
)
from citybrain.config.model import CameraConfig
from support.citydata_samples import nyc_csv, nyc_row

PERMIT_LON, PERMIT_LAT = -73.991898, 40.757929
PERMIT = "nyc-dob-permits.123456789"
DURING = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TEMPLATES = parse_site_rules(
    {
        "construction_permit": [{"kind": "hardhat_required", "seconds": 5}],
        "restricted_area": [{"kind": "restricted_zone", "labels": ["person"], "zone": "yard"}],
        "no_parking": [{"kind": "dwell", "labels": ["car", "truck", "bus"], "seconds": 120}],
    }
)


@pytest.fixture(scope="module")
def permit() -> Site:
    [site] = import_text(nyc_csv(nyc_row()), NYC_DOB_PERMITS).sites
    return site


def _looking_at_permit() -> Any:
    """A camera 60 m south of the permit, looking north at it."""
    here = LocalProjection(PERMIT_LON, PERMIT_LAT)
    lon, lat = here.points_to_wgs84(np.array([[0.0, -60.0]]))[0]
    return sector(lon, lat, 0.0, 70.0, 120.0)


def _top_down(size_m: float = 100.0) -> Calibration:
    """A camera looking straight down on the permit, ``size_m`` metres across its image."""
    here = LocalProjection(PERMIT_LON, PERMIT_LAT)
    ground = np.array([[-40.0, -40.0], [40.0, -40.0], [40.0, 40.0], [-40.0, 40.0]])
    image = np.column_stack([0.5 + ground[:, 0] / size_m, 0.5 - ground[:, 1] / size_m])
    return Calibration.from_pairs(image, here.points_to_wgs84(ground))


def test_an_uncalibrated_camera_watches_the_whole_frame(permit: Site) -> None:
    result = rules_for_camera(CameraView(_looking_at_permit()), [permit], TEMPLATES, DURING)

    [rule] = result.rules
    assert rule.name == f"site.{PERMIT}.hardhat_required"
    assert rule.rule == {"kind": "hardhat_required", "zone": "site-frame", "seconds": 5}
    assert rule.origin == f"site: {PERMIT}"
    assert rule.zone_source == "frame"
    assert result.zones == {"site-frame": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}}
    assert result.origins() == {rule.name: f"site: {PERMIT}"}
    assert result.sites == (
        {
            "id": PERMIT,
            "kind": "construction_permit",
            "name": "350 WEST 42 STREET, MANHATTAN",
            "attributes": {
                "permit_number": "123456789", "contractor": "ACME BUILDERS LLC",
                "job_type": "A2", "permit_type": "EW", "permit_status": "ISSUED",
            },
        },
    )  # fmt: skip


def test_a_calibrated_camera_watches_the_site_outline(permit: Site) -> None:
    calibration = _top_down()
    camera = CameraView(_looking_at_permit(), calibration=calibration, zones={"yard"})

    result = rules_for_camera(camera, [permit], TEMPLATES, DURING)

    [rule] = result.rules
    assert rule.zone_source == "site"
    zone = rule.rule["zone"]
    assert zone == f"site.{PERMIT}"
    assert result.zones[zone]["polygon"] == zone_polygon(calibration.project(permit.area))
    # The 30 m circle around the permit, in an image 100 m across: radius 0.3 around the centre.
    points = np.asarray(result.zones[zone]["polygon"])
    radii = np.hypot(points[:, 0] - 0.5, points[:, 1] - 0.5)
    assert np.allclose(radii, 0.3, atol=0.004)


def test_a_template_zone_the_camera_has_is_used_else_the_frame() -> None:
    area = LocalProjection(PERMIT_LON, PERMIT_LAT).to_wgs84(shapely.box(-10, -10, 10, 10))
    restricted = Site("city.r1", "city", "r1", "restricted_area", "Depot", area, area)
    footprint = _looking_at_permit()

    with_yard = rules_for_camera(CameraView(footprint, zones={"yard"}), [restricted], TEMPLATES,
                                 DURING)  # fmt: skip
    without = rules_for_camera(CameraView(footprint), [restricted], TEMPLATES, DURING)

    assert with_yard.rules[0].rule == {"kind": "restricted_zone", "zone": "yard",
                                       "labels": ["person"]}  # fmt: skip
    assert with_yard.rules[0].zone_source == "camera_zone"
    assert with_yard.zones == {}
    assert without.rules[0].rule["zone"] == "site-frame"
    assert without.rules[0].zone_source == "frame"


def test_rules_start_and_stop_with_the_permit(permit: Site) -> None:
    camera = CameraView(_looking_at_permit())
    assert permit.valid_from is not None and permit.valid_to is not None

    before = rules_for_camera(camera, [permit], TEMPLATES, permit.valid_from - timedelta(minutes=1))
    during = rules_for_camera(camera, [permit], TEMPLATES, permit.valid_from)
    last = rules_for_camera(camera, [permit], TEMPLATES, permit.valid_to - timedelta(seconds=1))
    after = rules_for_camera(camera, [permit], TEMPLATES, permit.valid_to)

    assert (len(before.rules), len(during.rules), len(last.rules), len(after.rules)) == (0, 1, 1, 0)
    assert after.sites == () and after.zones == {}
    assert next_change([permit], DURING) == permit.valid_to
    assert next_change([permit], permit.valid_from - timedelta(days=1)) == permit.valid_from
    assert next_change([permit], permit.valid_to) is None


def test_rules_from_data_never_replace_the_camera_own(permit: Site) -> None:
    own_rule = f"site.{PERMIT}.hardhat_required"
    camera = CameraView(_looking_at_permit(), zones={"site-frame"}, rules={own_rule, "intruders"})

    result = rules_for_camera(camera, [permit], TEMPLATES, DURING)

    [rule] = result.rules
    assert rule.name == f"{own_rule}-2"
    assert rule.rule["zone"] == "site-frame-2"
    assert set(result.zones) == {"site-frame-2"}


def test_sites_the_camera_does_not_see_give_nothing(permit: Site) -> None:
    here = LocalProjection(PERMIT_LON, PERMIT_LAT)
    lon, lat = here.points_to_wgs84(np.array([[0.0, -60.0]]))[0]
    looking_away = sector(lon, lat, 180.0, 70.0, 120.0)

    assert rules_for_camera(CameraView(looking_away), [permit], TEMPLATES, DURING).rules == ()
    assert rules_for_camera(CameraView(None), [permit], TEMPLATES, DURING).sites == ()


def test_a_site_out_of_the_calibrated_image_gives_context_but_no_rule(permit: Site) -> None:
    # The image shows only 10 m around a point 80 m south-west of the permit.
    here = LocalProjection(PERMIT_LON, PERMIT_LAT)
    ground = np.array([[-85.0, -85.0], [-75.0, -85.0], [-75.0, -75.0], [-85.0, -75.0]])
    image = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    calibration = Calibration.from_pairs(image, here.points_to_wgs84(ground))

    result = rules_for_camera(
        CameraView(_looking_at_permit(), calibration=calibration), [permit], TEMPLATES, DURING
    )

    assert result.rules == ()
    assert [entry["id"] for entry in result.sites] == [PERMIT]


def test_a_kind_without_templates_gives_context_only(permit: Site) -> None:
    result = rules_for_camera(CameraView(_looking_at_permit()), [permit], {}, DURING)
    assert result.rules == () and len(result.sites) == 1


def test_the_rules_are_valid_in_the_camera_config(permit: Site) -> None:
    own = {
        "camera": {"name": "gate"},
        "zones": {"yard": {"polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}},
        "rules": {"intruders": {"kind": "restricted_zone", "zone": "yard"}},
    }
    for camera in (CameraView(_looking_at_permit(), zones={"yard"}, rules={"intruders"}),
                   CameraView(_looking_at_permit(), calibration=_top_down(), zones={"yard"},
                              rules={"intruders"})):  # fmt: skip
        extra = rules_for_camera(camera, [permit], TEMPLATES, DURING)
        merged = {
            **own,
            "zones": {**own["zones"], **extra.zones},
            "rules": {**own["rules"], **extra.config_rules()},
        }
        config = CameraConfig.model_validate(merged)
        assert set(config.rules) == {"intruders", f"site.{PERMIT}.hardhat_required"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"construction_permit": [{"kind": "line_crossing"}]}, r"construction_permit\[0\]\.kind"),
        ({"Construction Permit": []}, "a site kind is lower case"),
        ({"no_parking": "dwell"}, "a list of rule templates"),
        ({"no_parking": [{"kind": "dwell", "zone": "no such zone"}]}, "is not a zone name"),
        ({"no_parking": [{"kind": "dwell", "line": "gate"}]}, "a site gives an area"),
        ({"no_parking": ["dwell"]}, "a rule template is a mapping"),
        (["dwell"], "site_rules: a mapping"),
    ],
)
def test_site_rules_setting_errors_name_the_place(raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_site_rules(raw)


def test_site_rules_setting_accepts_one_template_and_nothing() -> None:
    assert parse_site_rules(None) == {}
    one = parse_site_rules({"no_parking": {"kind": "dwell", "labels": ["car"], "seconds": 60}})
    assert one["no_parking"][0].rule("bay") == {
        "kind": "dwell", "zone": "bay", "labels": ["car"], "seconds": 60,
    }  # fmt: skip
