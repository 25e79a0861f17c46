"""Build a camera's rule objects from its validated config (data-driven, rebuilt on change)."""

from __future__ import annotations

from citybrain.config import model as cfg
from citybrain.core.geometry import Line, PolygonZone
from citybrain.rules.base import Rule, Schedule
from citybrain.rules.hardhat import HardhatRule
from citybrain.rules.line_crossing import LineCrossingRule
from citybrain.rules.occupancy import OccupancyRule
from citybrain.rules.zone_presence import DwellRule, RestrictedZoneRule

__all__ = ["build_rules"]


def build_rules(config: cfg.CameraConfig) -> list[Rule]:
    """One rule object per entry of ``config.rules``, wired to its zone or line."""
    camera = config.camera.name
    zones = {n: PolygonZone(n, z.polygon, z.anchor) for n, z in config.zones.items()}
    lines = {n: Line(n, ln.points[0], ln.points[1], ln.anchor) for n, ln in config.lines.items()}
    return [_build(name, rule, camera, zones, lines) for name, rule in config.rules.items()]


def _schedule(rule: cfg.RuleBase) -> Schedule | None:
    if rule.schedule is None:
        return None
    windows = [(list(w.days), w.start, w.end) for w in rule.schedule]
    return Schedule(windows, rule.timezone)


def _build(
    name: str,
    rule: cfg.RuleConfig,
    camera: str,
    zones: dict[str, PolygonZone],
    lines: dict[str, Line],
) -> Rule:
    schedule = _schedule(rule)
    if isinstance(rule, cfg.RestrictedZoneRule | cfg.DwellRule):
        presence = RestrictedZoneRule if isinstance(rule, cfg.RestrictedZoneRule) else DwellRule
        return presence(
            name,
            camera,
            zones[rule.zone],
            rule.labels,
            seconds=rule.seconds,
            end_after=rule.end_after,
            schedule=schedule,
        )
    if isinstance(rule, cfg.HardhatRule):
        return HardhatRule(
            name,
            camera,
            zones[rule.zone],
            seconds=rule.seconds,
            threshold=rule.threshold,
            end_after=rule.end_after,
            schedule=schedule,
        )
    if isinstance(rule, cfg.OccupancyRule):
        return OccupancyRule(
            name,
            camera,
            zones[rule.zone],
            rule.labels,
            maximum=rule.max,
            seconds=rule.seconds,
            end_after=rule.end_after,
            schedule=schedule,
        )
    return LineCrossingRule(
        name,
        camera,
        lines[rule.line],
        rule.labels,
        interval=rule.interval,
        directions=list(rule.directions),
        events=rule.events,
        schedule=schedule,
    )
