"""The quality report's comparison of reported and expected events, and its expectation files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from citybrain.config import parse_config  # noqa: E402
from quality import (  # noqa: E402 (bench/ is not a package)
    EXPECTATIONS,
    Expected,
    Reported,
    expand_groups,
    load_expectations,
    match,
    run_clip,
)

DEVELOPMENT_CLIPS = {
    "worker-zone-detection.mp4",
    "person-bicycle-car-detection.mp4",
    "car-detection.mp4",
    "one-by-one-person-detection.mp4",
    "face-demographics-walking-and-pause.mp4",
}


def test_spans_match_once_and_within_the_slack() -> None:
    expected = [Expected("hats", "a", 0.0, 5.0), Expected("hats", "b", 10.0, 12.0)]
    reported = [
        Reported("hats", "hardhat_required", 1.0, 4.0),
        Reported("hats", "hardhat_required", 2.0, 3.0),  # the same person again: not matched
        Reported("hats", "hardhat_required", 13.0, 14.0),  # 1 s after b ends: within slack
    ]
    (tally,) = match(reported, expected, {"hats": "hardhat_required"}, slack=1.5).values()
    assert (tally.expected, tally.reported, tally.matched) == (2, 3, 2)
    assert tally.precision == pytest.approx(2 / 3)
    assert tally.recall == 1.0


def test_crossings_match_time_and_direction() -> None:
    expected = [Expected("c", "car", 6.0, 6.0, "out"), Expected("c", "car2", 17.0, 17.0, "in")]
    reported = [Reported("c", "line_crossing", 7.2, 7.2, "out"),
                Reported("c", "line_crossing", 17.1, 17.1, "out")]  # fmt: skip
    tallies = match(reported, expected, {"c": "line_crossing"}, slack=1.5)
    tally = tallies["line_crossing"]
    assert (tally.matched, tally.missed) == (1, ["car2"])


def test_a_rule_with_nothing_expected_and_nothing_reported_has_no_figures() -> None:
    tallies = match([], [], {"hats": "hardhat_required"}, slack=1.5)
    assert tallies["hardhat_required"].precision is None
    assert tallies["hardhat_required"].recall is None


@pytest.mark.parametrize("path", sorted(EXPECTATIONS.glob("*.yaml")), ids=lambda p: p.stem)
def test_expectation_files_are_development_clips_with_valid_configs(path: Path) -> None:
    data, kinds, expected = load_expectations(path)
    assert data["clip"] in DEVELOPMENT_CLIPS  # never an evaluation clip
    names = {p["name"] for p in data["people"]} | {v["name"] for v in data["vehicles"]}
    assert {e.who for e in expected} <= names
    assert all(e.start <= e.end <= data["duration"] + 0.5 for e in expected)
    config = expand_groups(yaml.safe_load(data["config"]))
    config["camera"] = {"name": "quality"}
    assert set(parse_config(yaml.safe_dump(config)).rules) == set(kinds)


def test_expectation_files_cover_every_development_clip() -> None:
    clips = {yaml.safe_load(p.read_text())["clip"] for p in EXPECTATIONS.glob("*.yaml")}
    assert clips == DEVELOPMENT_CLIPS


@pytest.mark.slow
def test_the_worker_clip_meets_its_expectations(samples_dir: Path, model_dir: Path) -> None:
    # The whole engine on the shortest development clip, as bench/quality.py runs it: it keeps
    # the report honest about the engine (the phase that wires new rules in must keep it green).
    data, kinds, expected = load_expectations(EXPECTATIONS / "worker-zone-detection.yaml")
    reported = run_clip(samples_dir / data["clip"], data["config"], threads=1)
    tallies = match(reported, expected, kinds, slack=1.5)
    assert tallies["restricted_zone"].recall == 1.0
    assert tallies["restricted_zone"].precision == 1.0
    assert tallies["hardhat_required"].reported == 0  # he wears a hard hat
