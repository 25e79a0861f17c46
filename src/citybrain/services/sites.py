"""City data for the API, the command line and the server: importing files of sites, what a
camera sees, and coverage. No HTTP here.

An import is all or nothing: the file is parsed first (a refused file raises
:class:`~citybrain.citydata.SiteImportError` naming each row or feature and field, and only a
note that it was refused is kept), then its sites replace the source's in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shapely.geometry.base import BaseGeometry

from citybrain.citydata import (
    PRESETS,
    CoverageReport,
    SiteImportError,
    SiteRules,
    import_bytes,
    parse_mapping,
    parse_site_rules,
    preset,
    rules_for_camera,
)
from citybrain.citydata import (
    Mapping as SiteMapping,
)
from citybrain.citydata.site_rules import CameraView
from citybrain.errors import ConfigError
from citybrain.records import CameraHealth, CameraRecord
from citybrain.runtime.site_plan import calibration_of, footprint_of
from citybrain.store import SiteRepo, Store

__all__ = [
    "CameraSites",
    "ImportSummary",
    "camera_sites",
    "coverage_report",
    "footprint_of",
    "import_sites",
    "mapping_for",
]


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did."""

    source: str
    import_id: int
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    expired: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    merged: int = 0
    skipped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "import_id": self.import_id, "added": list(self.added),
            "changed": list(self.changed), "expired": list(self.expired),
            "removed": list(self.removed), "unchanged": self.unchanged, "merged": self.merged,
            "skipped": list(self.skipped),
        }  # fmt: skip


def mapping_for(
    *, preset_name: str | None, mapping_text: str | None, mapping_label: str = "<mapping>"
) -> SiteMapping:
    """The mapping an import names: a preset, or a user's YAML mapping (exactly one).

    Raises:
        ConfigError: neither or both, an unknown preset, or an invalid mapping (naming its
            line and field).
    """
    if (preset_name is None) == (mapping_text is None):
        raise ConfigError("give exactly one of a preset and a mapping")
    if preset_name is not None:
        try:
            return preset(preset_name)
        except KeyError:
            raise ConfigError(f"unknown preset {preset_name!r}; known: {sorted(PRESETS)}") from None
    assert mapping_text is not None
    return parse_mapping(mapping_text, source=mapping_label)


def import_sites(
    store: Store,
    data: bytes,
    mapping: SiteMapping,
    *,
    label: str,
    by: str | None,
    kind: str | None = None,
    max_bytes: int,
    now: datetime | None = None,
) -> ImportSummary:
    """Import a file's sites (replacing the mapping's source) in one transaction.

    Raises:
        SiteImportError: the file is refused; nothing of it is kept (the refusal is noted).
    """
    now = now or datetime.now(UTC)
    try:
        result = import_bytes(data, mapping, kind=kind, label=label, max_bytes=max_bytes)
    except SiteImportError as exc:
        with store.session() as session:
            SiteRepo(session).record_refused(
                source=mapping.source, now=now, by=by, label=label,
                problems=[*exc.problems, *([f"... and {exc.more} more"] if exc.more else [])],
            )  # fmt: skip
        raise
    with store.session() as session:
        outcome = SiteRepo(session).replace_source(
            source=result.source, sites=result.sites, now=now, by=by, label=label,
            merged=result.merged, skipped=len(result.skipped),
        )  # fmt: skip
    log = outcome.changes
    return ImportSummary(
        source=result.source, import_id=outcome.record.id, added=log.added, changed=log.changed,
        expired=log.expired, removed=log.removed, unchanged=log.unchanged, merged=result.merged,
        skipped=tuple(result.skipped),
    )  # fmt: skip


@dataclass(frozen=True)
class CameraSites:
    """What the city's data says about one camera now.

    Attributes:
        footprint: the ground it sees (drawn, or the sector of its view), if it has one.
        calibrated: whether it has a usable image-to-ground calibration.
        sites: the ``context.sites`` entries of the active sites it sees.
        rules: the rules those sites give it, by name, each with its ``origin`` (``site: <id>``).
        zones: the zones those rules watch that the camera's own config does not define.
    """

    footprint: BaseGeometry | None
    calibrated: bool
    sites: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    zones: dict[str, dict[str, Any]] = field(default_factory=dict)


def camera_sites(
    store: Store,
    camera: CameraRecord,
    site_rules: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    at: datetime | None = None,
) -> CameraSites:
    """The camera's footprint, the active sites it sees and the rules they give it at ``at``
    (what its running pipeline has within a minute)."""
    footprint = footprint_of(camera)
    calibration = calibration_of(camera)
    if footprint is None:
        return CameraSites(None, calibration is not None)
    with store.session() as session:
        seen = SiteRepo(session).candidates({camera.id: footprint}).get(camera.id, [])
    config = camera.config
    view = CameraView(
        footprint=footprint, calibration=calibration, zones=tuple(config.get("zones") or ()),
        rules=tuple(config.get("rules") or ()),
    )  # fmt: skip
    templates = parse_site_rules({k: list(v) for k, v in site_rules.items()})
    found: SiteRules = rules_for_camera(view, seen, templates, at or datetime.now(UTC))
    rules = {rule.name: {**rule.rule, "origin": rule.origin} for rule in found.rules}
    return CameraSites(footprint, calibration is not None, list(found.sites), rules, found.zones)


def coverage_report(
    store: Store,
    cameras: Sequence[CameraRecord],
    *,
    kinds: Collection[str] | None,
    health: Mapping[int, CameraHealth] | None = None,
    geometry: bool = False,
    at: datetime | None = None,
) -> CoverageReport:
    """Coverage of the sites of ``kinds`` valid at ``at`` by the enabled cameras' footprints.

    Args:
        health: the runtime's health board: only cameras online in it count; ``None`` (the
            command line, which has no runtime) counts every enabled camera.
    """
    footprints: dict[Hashable, BaseGeometry | None] = {}
    for camera in cameras:
        if not camera.enabled:
            continue
        if health is not None and not (camera.id in health and health[camera.id].online):
            continue
        footprints[camera.id] = footprint_of(camera)
    with store.session() as session:
        report = SiteRepo(session).coverage(
            footprints, kinds=kinds, at=at or datetime.now(UTC), geometry=geometry
        )
    return report
