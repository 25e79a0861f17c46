"""Site ids, validity, and the change log of a re-import (added, changed, expired, removed)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import shapely

from citybrain.citydata import Site, active_sites, diff_sites, site_id
from citybrain.citydata.model import SOURCE_PATTERN

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _site(ref: str, *, start: int | None = -10, end: int | None = 10, name: str = "x") -> Site:
    area = shapely.box(13.40, 52.52, 13.401, 52.521)
    return Site(
        id=site_id("city", ref), source="city", source_id=ref, kind="facility", name=name,
        geometry=area, area=area,
        valid_from=None if start is None else NOW + timedelta(days=start),
        valid_to=None if end is None else NOW + timedelta(days=end),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("source_id", "expected"),
    [
        ("121234567", "nyc-dob-permits.121234567"),
        ("F-001_b", "nyc-dob-permits.F-001_b"),
    ],
)
def test_plain_source_ids_are_kept(source_id: str, expected: str) -> None:
    assert site_id("nyc-dob-permits", source_id) == expected


@pytest.mark.parametrize("source_id", ["8/2025", "Baustelle Nr. 7 (Süd)", "x" * 200, "///"])
def test_other_source_ids_get_a_readable_prefix_and_a_hash(source_id: str) -> None:
    made = site_id("berlin-viz", source_id)
    assert made == site_id("berlin-viz", source_id)
    assert made != site_id("berlin-viz", source_id + " ")
    assert len(made) <= 64
    assert re.match(NAME, made)


def test_ids_do_not_collide_when_cleaning_makes_them_alike() -> None:
    assert site_id("s", "a/b") != site_id("s", "a-b") != site_id("s", "a b")
    assert re.match(SOURCE_PATTERN, "nyc-dob-permits")


def test_validity_is_half_open_and_may_be_open_at_either_end() -> None:
    site = _site("a", start=0, end=1)
    assert not site.active_at(NOW - timedelta(seconds=1))
    assert site.active_at(NOW)
    assert not site.active_at(NOW + timedelta(days=1))
    assert _site("b", start=None, end=None).active_at(NOW + timedelta(days=10_000))
    assert [s.source_id for s in active_sites([site, _site("c", start=5)], NOW)] == ["a"]
    with pytest.raises(ValueError, match="aware"):
        site.active_at(datetime(2026, 5, 1))


def test_change_log_of_a_reimport() -> None:
    old = [_site("same"), _site("renamed"), _site("gone"), _site("ends-now", end=10)]
    new = [
        _site("same"),
        _site("renamed", name="new name"),
        _site("ends-now", end=-1),  # the file moved its end into the past
        _site("new"),
    ]

    log = diff_sites(old, new, now=NOW)

    assert log.added == ("city.new",)
    assert log.changed == ("city.renamed",)
    assert log.expired == ("city.ends-now",)
    assert log.removed == ("city.gone",)
    assert log.unchanged == 1
    assert log.as_dict()["removed"] == ["city.gone"]


def test_expiry_between_two_refreshes_is_logged_once() -> None:
    site = _site("permit", end=0)  # ends at NOW
    since = NOW - timedelta(hours=1)

    first = diff_sites([site], [site], now=NOW + timedelta(minutes=5), since=since)
    later = diff_sites([site], [site], now=NOW + timedelta(hours=2), since=NOW + timedelta(hours=1))

    assert first.expired == ("city.permit",)
    assert later.expired == () and later.unchanged == 1


def test_geometry_and_attribute_changes_count() -> None:
    base = _site("a")
    moved = replace(base, geometry=shapely.box(13.41, 52.52, 13.411, 52.521))
    relabelled = replace(base, attributes={"operator": "new"})
    assert diff_sites([base], [moved], now=NOW).changed == ("city.a",)
    assert diff_sites([base], [relabelled], now=NOW).changed == ("city.a",)
