"""What the city-data routes take and return: sites as GeoJSON, imports, coverage."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from citybrain.api.schemas import CameraPublic, Schema
from citybrain.citydata import CoverageReport, KindCoverage, SiteCoverage
from citybrain.records import CameraHealth, CameraRecord
from citybrain.records.site import SiteFields, SiteImport, SiteRecord, geojson_geometry
from citybrain.services.sites import CameraSites, ImportSummary

__all__ = [
    "CameraDetail",
    "CoveragePublic",
    "CoverageTotal",
    "ImportPublic",
    "SiteCoveragePublic",
    "SiteDetail",
    "SiteFeature",
    "SiteProperties",
    "SiteSourcePublic",
    "SitesPublic",
]

GeoJSON = dict[str, Any]


class SiteProperties(SiteFields):
    """A site's properties in GeoJSON: its record's fields, and whether it is valid now."""

    active: bool = Field(description="Valid at `active_at` (or now, when none was asked).")


class SiteFeature(Schema):
    """A site as a GeoJSON Feature: ``geometry`` is the area it covers (WGS 84)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: GeoJSON
    properties: SiteProperties

    @classmethod
    def of(cls, site: SiteRecord, at: datetime) -> SiteFeature:
        fields = {name: getattr(site, name) for name in SiteFields.model_fields}
        return cls(
            id=site.id,
            geometry=geojson_geometry(site.area),
            properties=SiteProperties(**fields, active=site.active_at(at)),
        )


class SiteDetail(SiteFeature):
    """One site: its area, the shape its source gave, and the cameras that see it."""

    source_geometry: GeoJSON = Field(description="The shape as imported (a point, a line...).")
    cameras: list[int] = Field(description="Cameras (you may see) whose footprint touches it.")
    imported_at: datetime
    updated_at: datetime


class SitesPublic(Schema):
    """A GeoJSON FeatureCollection of sites, in id order; pass ``next_cursor`` as ``cursor``."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[SiteFeature]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class ImportPublic(Schema):
    """What an import did (the ids: ``GET /api/sites/changes?import_id=``)."""

    source: str
    import_id: int
    added: int
    changed: int
    expired: int
    removed: int
    unchanged: int
    merged: int = Field(description="Records that shared an id and became one site.")
    skipped: list[str] = Field(description="Records the mapping left out, and why.")

    @classmethod
    def of(cls, summary: ImportSummary) -> ImportPublic:
        return cls(
            source=summary.source, import_id=summary.import_id, added=len(summary.added),
            changed=len(summary.changed), expired=len(summary.expired),
            removed=len(summary.removed), unchanged=summary.unchanged, merged=summary.merged,
            skipped=list(summary.skipped[:1000]),
        )  # fmt: skip


class SiteSourcePublic(Schema):
    """A scheduled refresh and how its latest reads went."""

    name: str
    location: str = Field(description="Credentials redacted.")
    every_minutes: float
    last: SiteImport | None = Field(description="The latest read, kept or refused.")
    last_ok: SiteImport | None = Field(description="The latest read that was kept.")


class CoverageTotal(Schema):
    sites: int
    area_m2: float
    covered_m2: float
    share: float

    @classmethod
    def of(cls, totals: KindCoverage) -> CoverageTotal:
        return cls(
            sites=totals.sites,
            area_m2=round(totals.area_m2, 2),
            covered_m2=round(totals.covered_m2, 2),
            share=round(totals.share, 6),
        )


class SiteCoveragePublic(Schema):
    id: str
    kind: str
    name: str
    area_m2: float
    covered_m2: float
    share: float
    cameras: list[int] = Field(description="Counted cameras (you may see) that see part of it.")
    uncovered: GeoJSON | None = Field(
        default=None, description="The part no camera sees (with `geometry=true`)."
    )

    @classmethod
    def of(
        cls, site: SiteCoverage, visible: frozenset[int] | None, geometry: bool
    ) -> SiteCoveragePublic:
        cameras = [
            c for c in site.cameras if isinstance(c, int) and (visible is None or c in visible)
        ]
        outline = geojson_geometry(site.uncovered) if geometry else None
        return cls(
            id=site.site_id, kind=site.kind, name=site.name, area_m2=round(site.area_m2, 2),
            covered_m2=round(site.covered_m2, 2), share=round(site.share, 6), cameras=cameras,
            uncovered=outline,
        )  # fmt: skip


class CoveragePublic(Schema):
    """How much of the chosen sites enabled, healthy cameras see."""

    at: datetime = Field(description="Sites valid at this time were counted.")
    kinds: list[str] | None = Field(description="The kinds asked for; null = every kind.")
    cameras_counted: int = Field(description="Enabled, online cameras with a footprint.")
    total: CoverageTotal
    by_kind: dict[str, CoverageTotal]
    sites: list[SiteCoveragePublic]

    @classmethod
    def of(
        cls,
        report: CoverageReport,
        *,
        at: datetime,
        kinds: list[str] | None,
        cameras_counted: int,
        visible: frozenset[int] | None,
        geometry: bool,
    ) -> CoveragePublic:
        return cls(
            at=at, kinds=kinds, cameras_counted=cameras_counted,
            total=CoverageTotal.of(report.total),
            by_kind={k: CoverageTotal.of(v) for k, v in report.kinds.items()},
            sites=[SiteCoveragePublic.of(s, visible, geometry) for s in report.sites],
        )  # fmt: skip


class CameraDetail(CameraPublic):
    """One camera with what the city's data says about it."""

    calibrated: bool = Field(description="Has a usable image-to-ground calibration.")
    sites: list[dict[str, Any]] = Field(
        description="The active sites it sees: id, kind, name and key attributes (the "
        "`context.sites` its events carry)."
    )
    site_rules: dict[str, dict[str, Any]] = Field(
        description="Rules those sites add to it, by name, each with its `origin` "
        "(`site: <id>`); they never replace the camera's own rules."
    )

    @classmethod
    def detail(
        cls, camera: CameraRecord, health: CameraHealth | None, sites: CameraSites
    ) -> CameraDetail:
        public = CameraPublic.of(camera, health).model_dump()
        return cls.model_validate(
            public
            | {"calibrated": sites.calibrated, "sites": sites.sites, "site_rules": sites.rules}
        )
