"""The ranges of a camera config are the engine's: every value the model allows builds a working
pipeline, and every value beyond is refused by the model, naming the field.

The bounds are read from the model's fields, so a field added with a range is covered here
without a change to this test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types as at
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from citybrain.config import stored_camera_config
from citybrain.config.model import RULE_KINDS, CameraConfig
from citybrain.errors import ConfigError
from citybrain.ingest import Reader, ReaderOptions
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, Vision

#: How far inside an open bound (``gt``, ``lt``) the extreme value lies.
STEP = 1e-3
SECTIONS = ("camera", "detector", "motion", "anonymise")
ZONE = {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}
LINE = {"points": [[0.5, 0], [0.5, 1]]}
#: A valid rule of each kind (its numbers are then set to an extreme, one at a time or all).
RULE_BASE: dict[str, dict[str, Any]] = {
    "restricted_zone": {"zone": "site"},
    "hardhat_required": {"zone": "site"},
    "dwell": {"zone": "site", "labels": ["person"], "seconds": 10},
    "occupancy": {"zone": "site", "max": 2},
    "line_crossing": {"line": "gate"},
}


def bounds(field: FieldInfo) -> tuple[float | None, float | None, bool]:
    """``(lowest, highest, integer)`` values ``field`` allows; ``None`` where unbounded."""
    integer = field.annotation is int
    step = 1 if integer else STEP
    low = high = multiple = None
    for rule in field.metadata:
        if isinstance(rule, at.Ge):
            low = rule.ge
        elif isinstance(rule, at.Gt):
            low = rule.gt + step
        elif isinstance(rule, at.Le):
            high = rule.le
        elif isinstance(rule, at.Lt):
            high = rule.lt - step
        elif isinstance(rule, at.MultipleOf):
            multiple = rule.multiple_of
    if multiple is not None:  # the extremes themselves must be allowed values
        assert low is not None and high is not None
        assert low % multiple == 0 and high % multiple == 0
    return low, high, integer  # type: ignore[return-value]


def numeric_fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        if field.metadata and name != "kind":
            yield name, field


def extreme(model: type[BaseModel], end: int) -> dict[str, Any]:
    """A section whose bounded numbers all sit at their lowest (``end=0``) or highest (1)."""
    values: dict[str, Any] = {}
    for name, field in numeric_fields(model):
        value = bounds(field)[end]
        if value is not None:
            values[name] = value
    return values


def extreme_config(end: int) -> CameraConfig:
    data: dict[str, Any] = {
        section: extreme(CameraConfig.model_fields[section].annotation, end)  # type: ignore[arg-type]
        for section in SECTIONS
    }
    data["zones"] = {"site": ZONE}
    data["lines"] = {"gate": LINE}
    data["rules"] = {
        kind: {"kind": kind, **RULE_BASE[kind], **extreme(model, end)}
        for kind, model in RULE_KINDS.items()
    }
    assert set(RULE_BASE) == set(RULE_KINDS)
    return stored_camera_config("edge", data)


def beyond() -> Iterator[tuple[tuple[str, ...], float]]:
    """Each bounded field's path and a value just past each of its bounds."""
    models: list[tuple[tuple[str, ...], type[BaseModel]]] = [
        ((section,), CameraConfig.model_fields[section].annotation)  # type: ignore[misc]
        for section in SECTIONS
    ]
    models += [(("rules", kind), model) for kind, model in RULE_KINDS.items()]
    for path, model in models:
        for name, field in numeric_fields(model):
            low, high, integer = bounds(field)
            step = 1 if integer else STEP
            if low is not None:
                yield (*path, name), low - step
            if high is not None:
                yield (*path, name), high + step


@pytest.mark.parametrize(("path", "value"), list(beyond()), ids=str)
def test_values_beyond_a_range_are_refused_naming_the_field(
    path: tuple[str, ...], value: float
) -> None:
    data: dict[str, Any] = {"zones": {"site": ZONE}, "lines": {"gate": LINE}}
    if path[0] == "rules":
        kind, name = path[1], path[2]
        data["rules"] = {kind: {"kind": kind, **RULE_BASE[kind], name: value}}
    else:
        data[path[0]] = {path[1]: value}
    with pytest.raises(ConfigError) as info:
        stored_camera_config("edge", data)
    assert [p.loc for p in info.value.problems] == [path], info.value
    assert ".".join(path) in str(info.value)


def test_an_input_size_that_is_no_multiple_of_32_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"detector\.input_size: Input should be a multiple"):
        stored_camera_config("edge", {"detector": {"input_size": 400}})


@pytest.mark.slow
@pytest.mark.parametrize("end", [0, 1], ids=["lowest", "highest"])
def test_the_extremes_the_model_allows_build_a_working_pipeline(
    end: int, samples_dir: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
    config = extreme_config(end)
    assert config.motion.threshold == (1, 254)[end]
    assert config.detector.input_size == (128, 1280)[end]
    pipeline = CameraPipeline(config, Vision.load(config, threads=1))
    options = ReaderOptions(fps=config.camera.fps, thumbnail_width=MOTION_WIDTH)
    analysed = 0
    with Reader(str(samples_dir / "worker-zone-detection.mp4"), options) as reader:
        for frame in reader:
            result = pipeline.process(frame)
            assert pipeline.render(frame.image).shape == frame.image.shape
            analysed += 1
            if analysed == 12:
                break
    pipeline.close()
    assert analysed == (1, 12)[end]  # at the lowest rate, only the first frame is analysed
    assert pipeline.stats.detector_frames >= 1 and result.frame is frame
