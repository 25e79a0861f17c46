from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.config import config_for_store, load_config, parse_config, stored_camera_config
from citybrain.config.model import CameraConfig
from citybrain.errors import ConfigError
from citybrain.rules.base import Schedule

ISSUE_EXAMPLE = """\
camera: {name: yard-1, fps: 5}
zones:
  site: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}     # normalised 0..1 image coordinates
lines:
  gate: {points: [[0, 0.5], [1, 0.5]]}
rules:
  intruders: {kind: restricted_zone, zone: site, labels: [person]}
  hardhats:  {kind: hardhat_required, zone: site, seconds: 1}
  parked:    {kind: dwell, zone: site, labels: [car, truck, bus], seconds: 10}
  crowd:     {kind: occupancy, zone: site, labels: [person], max: 2, seconds: 1}
  counts:    {kind: line_crossing, line: gate, labels: [person, vehicle]}
"""


def test_the_documented_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "yard.yaml"
    path.write_text(ISSUE_EXAMPLE)
    config = load_config(path)
    assert config.camera.fps == 5
    assert [r.kind for r in config.rules.values()] == [
        "restricted_zone", "hardhat_required", "dwell", "occupancy", "line_crossing",
    ]  # fmt: skip
    assert config.anonymise.enabled is True
    assert config.rules["counts"].labels == ["person", "vehicle"]  # a group, kept as written


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        ("zone: site, labels: [person]}", "zone: sight, labels: [person]}",
         "cfg.yaml:7: rules.intruders.zone: unknown zone 'sight'"),
        ("labels: [car, truck, bus]", "labels: [car, lorry]",
         "cfg.yaml:9: rules.parked.labels: unknown label(s) ['lorry']"),
        ("labels: [person, vehicle]", "labels: [person, vehicles]",
         "cfg.yaml:11: rules.counts.labels: unknown label(s) ['vehicles']; known labels are the "
         "COCO names and the groups vehicle"),
        ("max: 2", "max: -1", "cfg.yaml:10: rules.crowd.max: Input should be greater than"),
        ("seconds: 1}", "seconds: 1, colour: red}", "cfg.yaml:8: rules.hardhats.colour: Extra"),
        ("[1, 1], [0, 1]]", "[1, 1.5], [0, 1]]", "cfg.yaml:3: zones.site.polygon.2.1: Input"),
        ("kind: dwell", "kind: teleport", "cfg.yaml:9: rules.parked: Input tag 'teleport'"),
        ("line: gate", "line: fence", "cfg.yaml:11: rules.counts.line: unknown line 'fence'"),
        ("fps: 5", "fps: fast", "cfg.yaml:1: camera.fps: Input should be a valid number"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_field(replace: str, by: str, expected: str) -> None:
    assert replace in ISSUE_EXAMPLE
    with pytest.raises(ConfigError) as info:
        parse_config(ISSUE_EXAMPLE.replace(replace, by), source="cfg.yaml")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "cfg.yaml:1: the config is empty"),
        ("camera: [oops", "cfg.yaml:1: not valid YAML"),
        ("- a\n- b\n", "cfg.yaml:1: the config must be a mapping"),
        ("camera: {name: a}\nzones: {}\nzones: {}\n", "cfg.yaml:3: zones: defined twice"),
        ("zones: {}\n", "camera: Field required"),
    ],
)
def test_malformed_files(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_config(text, source="cfg.yaml")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_every_field_has_a_title_and_description() -> None:
    def walk(schema: dict[str, object], defs: dict[str, dict[str, object]]) -> list[str]:
        missing = []
        for name, prop in schema.get("properties", {}).items():  # type: ignore[attr-defined]
            if "title" not in prop or "description" not in prop:
                missing.append(name)
        return missing

    schema = CameraConfig.model_json_schema()
    defs = schema["$defs"]
    missing = walk(schema, defs)
    for definition in defs.values():
        missing += walk(definition, defs)
    assert missing == []


def test_weekly_schedule_with_overnight_window() -> None:
    config = parse_config(
        ISSUE_EXAMPLE.replace(
            "labels: [person]}",
            "labels: [person], schedule: [{days: [fri], start: '22:00', end: '06:00'}]}",
        )
    )
    window = config.rules["intruders"].schedule
    assert window is not None
    schedule = Schedule([(w.days, w.start, w.end) for w in window], "UTC")

    def at(day: int, hour: int) -> float:  # 2026-11-20 is a Friday
        return datetime(2026, 11, day, hour, tzinfo=UTC).timestamp()

    assert schedule.active(at(20, 23)) and schedule.active(at(21, 5))
    assert not schedule.active(at(20, 12)) and not schedule.active(at(21, 7))
    assert schedule.active(None)


STORED = """\
zones:
  site: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: site}
"""


def test_a_stored_cameras_config_needs_no_camera_section(tmp_path: Path) -> None:
    path = tmp_path / "dock.yaml"
    path.write_text(STORED)
    config = load_config(path, camera="dock")
    assert (config.camera.name, config.camera.fps) == ("dock", 5.0)
    # The camera's own name wins; what is stored is what the user set, without the name.
    renamed = parse_config("camera: {name: other, fps: 2}\n" + STORED, camera="dock")
    assert renamed.camera.name == "dock"
    stored = config_for_store(renamed)
    assert stored["camera"] == {"fps": 2.0} and "labels" not in stored["rules"]["intruders"]
    assert stored_camera_config("dock", stored) == renamed
    assert parse_config("", camera="dock") == stored_camera_config("dock", {})


@pytest.mark.parametrize(
    ("text", "expected", "loc"),
    [
        (STORED.replace("zone: site}", "zone: yard}"),
         "cfg.yaml:4: rules.intruders.zone: unknown zone 'yard'", ("rules", "intruders", "zone")),
        ("camera: {source: rtsp://u:secret@cam/1}\n" + STORED,
         "cfg.yaml:1: camera.source: a camera's source is its own field", ("camera", "source")),
        ("camera: {fps: 0}\n" + STORED,
         "cfg.yaml:1: camera.fps: Input should be greater than 0", ("camera", "fps")),
        ("motion:\n  threshold: 255\n", "cfg.yaml:2: motion.threshold: Input should be less",
         ("motion", "threshold")),
        ("zones: {}\nzones: {}\n", "cfg.yaml:2: zones: defined twice", ("zones",)),
        ("camera: [oops", "cfg.yaml:1: not valid YAML", ()),
    ],
)  # fmt: skip
def test_stored_camera_file_errors_name_file_line_field_and_path(
    text: str, expected: str, loc: tuple[str | int, ...]
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="cfg.yaml", camera="dock")
    assert expected in str(info.value)
    assert "secret" not in str(info.value)
    assert loc in [problem.loc for problem in info.value.problems]


def test_stored_config_errors_name_the_camera_and_carry_each_fields_path() -> None:
    data = {
        "camera": {"source": "rtsp://u:secret@cam/1"},
        "motion": {"min_area": 1.0},
        "rules": {"r": {"kind": "dwell", "zone": "nowhere", "labels": ["car"], "seconds": 5}},
    }
    with pytest.raises(ConfigError) as info:
        stored_camera_config("dock", data)
    message = str(info.value)
    assert message.startswith("camera 'dock': invalid config: camera.source: ")
    assert "motion.min_area: Input should be less than 1" in message
    assert "secret" not in message
    assert [p.loc for p in info.value.problems] == [("camera", "source"), ("motion", "min_area")]
    # A reference to a zone is checked once the fields are valid, and named by its path too.
    del data["camera"], data["motion"]
    with pytest.raises(ConfigError) as info:
        stored_camera_config("dock", data)
    (problem,) = info.value.problems
    assert problem == (("rules", "r", "zone"), "unknown zone 'nowhere' (defined: none)")


def test_camera_add_names_file_line_and_field(tmp_path: Path) -> None:
    """``citybrain camera add --config`` reports errors as ``analyze`` does (one loader)."""
    config = tmp_path / "dock.yaml"
    config.write_text(STORED.replace("zone: site}", "zone: yard}"))
    result = CliRunner().invoke(
        app, ["camera", "add", "dock", "clip.mp4", "-c", str(config), "--data", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert f"error: {config}:4: rules.intruders.zone: unknown zone 'yard'" in result.output
