"""Rules from data: the rules active sites switch on for a camera, and the context of its events.

The server settings map site kinds to rule templates in the camera config's rule format::

    site_rules:
      construction_permit: [{kind: hardhat_required, seconds: 5}]
      restricted_area:     [{kind: restricted_zone, labels: [person]}]
      no_parking:          [{kind: dwell, labels: [car, truck, bus], seconds: 120}]

For a camera whose footprint touches an active site, each template of the site's kind becomes a
rule of the camera. Its zone is the site's outline projected into the image where the camera is
calibrated, else the camera's own zone the template names, else the whole frame. Rules from data
get names of their own and never replace a rule (or zone) of the camera's config. The result is
plain data in the camera config's format; merging it into a running camera is the runtime's job.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shapely.geometry.base import BaseGeometry

from citybrain.citydata.calibration import Calibration, zone_polygon
from citybrain.citydata.footprint import sites_seen
from citybrain.citydata.model import KIND_PATTERN, Site

__all__ = [
    "WHOLE_FRAME",
    "ZONE_RULE_KINDS",
    "CameraView",
    "RuleTemplate",
    "SiteRule",
    "SiteRules",
    "parse_site_rules",
    "rules_for_camera",
    "site_context",
]

#: Rule kinds that watch a zone; a site gives an area, so these are the ones it can switch on.
ZONE_RULE_KINDS = frozenset({"restricted_zone", "hardhat_required", "dwell", "occupancy"})
WHOLE_FRAME = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
#: Names of rules and zones in camera configs (they appear in paths and URLs).
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NAME_MAX = 64


@dataclass(frozen=True)
class RuleTemplate:
    """A rule without its zone (or naming a camera zone to fall back to)."""

    kind: str
    zone: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def rule(self, zone: str) -> dict[str, Any]:
        """The rule in the camera config's format, watching ``zone``."""
        return {"kind": self.kind, "zone": zone, **self.params}


def parse_site_rules(raw: Any) -> dict[str, tuple[RuleTemplate, ...]]:
    """The ``site_rules`` setting: site kind -> its rule templates.

    Raises:
        ValueError: the message names the place, ``site_rules.<kind>[<i>].<field>``.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("site_rules: a mapping of site kind to a list of rule templates")
    parsed: dict[str, tuple[RuleTemplate, ...]] = {}
    for kind, value in raw.items():
        where = f"site_rules.{kind}"
        if not isinstance(kind, str) or not re.match(KIND_PATTERN, kind):
            raise ValueError(f"{where}: a site kind is lower case letters, digits and _")
        templates = [value] if isinstance(value, Mapping) else value
        if not isinstance(templates, list):
            raise ValueError(f"{where}: a list of rule templates")
        parsed[kind] = tuple(_template(t, f"{where}[{i}]") for i, t in enumerate(templates))
    return parsed


def _template(raw: Any, where: str) -> RuleTemplate:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a rule template is a mapping such as {{kind: dwell, ...}}")
    kind = raw.get("kind")
    if kind not in ZONE_RULE_KINDS:
        raise ValueError(
            f"{where}.kind: {kind!r} cannot come from a site; use one of {sorted(ZONE_RULE_KINDS)}"
        )
    zone = raw.get("zone")
    if zone is not None and (not isinstance(zone, str) or not _NAME.match(zone)):
        raise ValueError(f"{where}.zone: {zone!r} is not a zone name")
    if "line" in raw:
        raise ValueError(f"{where}.line: a site gives an area, not a line")
    params = {k: v for k, v in raw.items() if k not in ("kind", "zone")}
    return RuleTemplate(kind=kind, zone=zone, params=params)


@dataclass(frozen=True)
class CameraView:
    """What rules from data need to know of a camera.

    Attributes:
        footprint: Its ground footprint (WGS 84), ``None`` if it has no position.
        calibration: Its image-to-ground calibration, if any.
        zones: Names of the zones its own config defines.
        rules: Names of the rules its own config defines.
    """

    footprint: BaseGeometry | None
    calibration: Calibration | None = None
    zones: Collection[str] = ()
    rules: Collection[str] = ()


@dataclass(frozen=True)
class SiteRule:
    """One rule a site switches on for a camera."""

    name: str
    rule: dict[str, Any]
    site_id: str
    zone_source: Literal["site", "camera_zone", "frame"]

    @property
    def origin(self) -> str:
        """How the camera shows where the rule comes from: ``site: <id>``."""
        return f"site: {self.site_id}"


@dataclass(frozen=True)
class SiteRules:
    """The rules, the zones they add and the event context sites give one camera at one time."""

    rules: tuple[SiteRule, ...] = ()
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: tuple[dict[str, Any], ...] = ()

    def config_rules(self) -> dict[str, dict[str, Any]]:
        """The rules in the camera config's ``rules`` format, by name."""
        return {rule.name: rule.rule for rule in self.rules}

    def origins(self) -> dict[str, str]:
        """Rule name -> ``site: <id>``."""
        return {rule.name: rule.origin for rule in self.rules}


def site_context(sites: Sequence[Site]) -> tuple[dict[str, Any], ...]:
    """``context.sites`` entries: id, kind, name and the key attributes of each site."""
    return tuple(site.context() for site in sites)


def rules_for_camera(
    camera: CameraView,
    sites: Sequence[Site],
    templates: Mapping[str, Sequence[RuleTemplate]],
    at: datetime,
) -> SiteRules:
    """The rules and context the sites active at ``at`` give ``camera``.

    A calibrated camera gets a rule only for a site whose outline shows in its image; its zone
    is that outline. Otherwise a template's camera zone (when the camera has it) or the whole
    frame is watched.
    """
    seen = [site for site in sites_seen(camera.footprint, sites) if site.active_at(at)]
    taken_rules = set(camera.rules)
    taken_zones = set(camera.zones)
    rules: list[SiteRule] = []
    zones: dict[str, dict[str, Any]] = {}
    frame_zone: str | None = None
    for site in seen:
        kind_templates = templates.get(site.kind, ())
        if not kind_templates:
            continue
        outline = None
        if camera.calibration is not None:
            outline = zone_polygon(camera.calibration.project(site.area))
            if outline is None:
                continue  # the footprint touches the site, but the image does not show it
            site_zone = _unique(f"site.{site.id}", taken_zones)
            zones[site_zone] = {"polygon": outline}
        for template in kind_templates:
            source: Literal["site", "camera_zone", "frame"]
            if outline is not None:
                zone, source = site_zone, "site"
            elif template.zone is not None and template.zone in camera.zones:
                zone, source = template.zone, "camera_zone"
            else:
                if frame_zone is None:
                    frame_zone = _unique("site-frame", taken_zones)
                    zones[frame_zone] = {"polygon": [list(p) for p in WHOLE_FRAME]}
                zone, source = frame_zone, "frame"
            name = _unique(f"site.{site.id}.{template.kind}", taken_rules)
            rules.append(SiteRule(name, template.rule(zone), site.id, source))
    return SiteRules(rules=tuple(rules), zones=zones, sites=site_context(seen))


def _unique(base: str, taken: set[str]) -> str:
    """A valid config name from ``base``, not in ``taken`` (which it joins)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", base)
    if len(name) > _NAME_MAX or not _NAME.match(name):
        digest = hashlib.sha256(base.encode()).hexdigest()[:8]
        name = f"{name.lstrip('._-')[: _NAME_MAX - 12]}-{digest}"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = name[: _NAME_MAX - len(suffix)] + suffix
    taken.add(candidate)
    return candidate
