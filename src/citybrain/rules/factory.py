"""Build a camera's rule objects from its validated config (data-driven, rebuilt on change).

One builder per rule kind, registered under the kind its config class declares
(:func:`~citybrain.config.model.rule_kind`): a new kind is a config class, a rule class and a
builder here, with no dispatch to edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from citybrain.config import model as cfg
from citybrain.core.geometry import Line, PolygonZone
from citybrain.rules.base import Rule, Schedule
from citybrain.rules.hardhat import HardhatRule
from citybrain.rules.line_crossing import LineCrossingRule
from citybrain.rules.occupancy import OccupancyRule
from citybrain.rules.zone_presence import DwellRule, RestrictedZoneRule

__all__ = ["build_rules", "buildable_kinds"]

C = TypeVar("C", bound=cfg.RuleConfigBase)


@dataclass(frozen=True, slots=True)
class _Scene:
    """What a camera's rules are wired to: its name, zones and lines."""

    camera: str
    zones: dict[str, PolygonZone]
    lines: dict[str, Line]


Builder = Callable[[str, C, _Scene], Rule]
#: Builders by rule kind; each takes its own config class (``Any`` here: one dict for all).
_BUILDERS: dict[str, Builder[Any]] = {}


def _builds(config_type: type[C]) -> Callable[[Builder[C]], Builder[C]]:
    """Register the decorated function as the builder of ``config_type``'s kind."""

    def register(builder: Builder[C]) -> Builder[C]:
        _BUILDERS[cfg.rule_kind(config_type)] = builder
        return builder

    return register


def buildable_kinds() -> frozenset[str]:
    """The rule kinds a builder is registered for (every kind the config accepts)."""
    return frozenset(_BUILDERS)


def build_rules(config: cfg.CameraConfig) -> list[Rule]:
    """One rule object per entry of ``config.rules``, wired to its zone or line."""
    scene = _Scene(
        camera=config.camera.name,
        zones={n: PolygonZone(n, z.polygon, z.anchor) for n, z in config.zones.items()},
        lines={n: Line(n, ln.points[0], ln.points[1], ln.anchor) for n, ln in config.lines.items()},
    )
    return [_BUILDERS[rule.kind](name, rule, scene) for name, rule in config.rules.items()]


def _schedule(rule: cfg.RuleConfigBase) -> Schedule | None:
    if rule.schedule is None:
        return None
    windows = [(list(w.days), w.start, w.end) for w in rule.schedule]
    return Schedule(windows, rule.timezone)


@_builds(cfg.RestrictedZoneRuleConfig)
def _restricted_zone(name: str, rule: cfg.RestrictedZoneRuleConfig, scene: _Scene) -> Rule:
    return RestrictedZoneRule(
        name, scene.camera, scene.zones[rule.zone], rule.labels,
        seconds=rule.seconds, end_after=rule.end_after, schedule=_schedule(rule),
    )  # fmt: skip


@_builds(cfg.DwellRuleConfig)
def _dwell(name: str, rule: cfg.DwellRuleConfig, scene: _Scene) -> Rule:
    return DwellRule(
        name, scene.camera, scene.zones[rule.zone], rule.labels,
        seconds=rule.seconds, end_after=rule.end_after, schedule=_schedule(rule),
    )  # fmt: skip


@_builds(cfg.HardhatRuleConfig)
def _hardhat(name: str, rule: cfg.HardhatRuleConfig, scene: _Scene) -> Rule:
    return HardhatRule(
        name, scene.camera, scene.zones[rule.zone], seconds=rule.seconds,
        threshold=rule.threshold, end_after=rule.end_after, schedule=_schedule(rule),
    )  # fmt: skip


@_builds(cfg.OccupancyRuleConfig)
def _occupancy(name: str, rule: cfg.OccupancyRuleConfig, scene: _Scene) -> Rule:
    return OccupancyRule(
        name, scene.camera, scene.zones[rule.zone], rule.labels, maximum=rule.max,
        seconds=rule.seconds, end_after=rule.end_after, schedule=_schedule(rule),
    )  # fmt: skip


@_builds(cfg.LineCrossingRuleConfig)
def _line_crossing(name: str, rule: cfg.LineCrossingRuleConfig, scene: _Scene) -> Rule:
    return LineCrossingRule(
        name, scene.camera, scene.lines[rule.line], rule.labels, interval=rule.interval,
        directions=list(rule.directions), events=rule.events, schedule=_schedule(rule),
    )  # fmt: skip
