"""Coverage: how much of each site at least one camera sees, and where no camera looks.

Planning for places, never for people: the inputs are site areas and camera footprints, the
output areas in square metres and the uncovered parts as WGS 84 geometry for the map. The
caller decides which cameras count (enabled and healthy ones) and which kinds of site.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from citybrain.citydata.bulk import no_cyclic_gc
from citybrain.citydata.footprint import footprint_pairs
from citybrain.citydata.geo import LocalProjection, by_cell
from citybrain.citydata.model import Site

__all__ = ["CoverageReport", "KindCoverage", "SiteCoverage", "coverage"]


@dataclass(frozen=True)
class SiteCoverage:
    """One site's coverage.

    Attributes:
        site_id: The site.
        kind: Its kind.
        name: Its name.
        area_m2: Its area.
        covered_m2: The part of it inside at least one footprint.
        share: ``covered_m2 / area_m2`` (0 for a site without area).
        uncovered: The part no footprint reaches, WGS 84 (empty when fully covered).
        cameras: The cameras whose footprints reach it.
    """

    site_id: str
    kind: str
    name: str
    area_m2: float
    covered_m2: float
    share: float
    uncovered: BaseGeometry
    cameras: tuple[Hashable, ...] = ()


@dataclass(frozen=True)
class KindCoverage:
    """Totals over the sites of one kind (or all): areas summed site by site."""

    sites: int
    area_m2: float
    covered_m2: float

    @property
    def share(self) -> float:
        return self.covered_m2 / self.area_m2 if self.area_m2 > 0 else 0.0


@dataclass(frozen=True)
class CoverageReport:
    """Per-site coverage and totals (all sites, and per kind)."""

    sites: list[SiteCoverage]
    total: KindCoverage
    kinds: dict[str, KindCoverage] = field(default_factory=dict)


def coverage(
    sites: Sequence[Site],
    footprints: Mapping[Hashable, BaseGeometry | None],
    *,
    kinds: Collection[str] | None = None,
) -> CoverageReport:
    """Coverage of ``sites`` (of ``kinds``, if given) by the cameras' ``footprints``.

    Args:
        sites: The sites to report on.
        footprints: Camera key -> WGS 84 footprint (``None``: a camera without one, ignored).
        kinds: Only sites of these kinds; ``None`` = all.
    """
    with no_cyclic_gc():  # a result per site: 100,000 of them
        return _coverage(sites, footprints, kinds)


def _coverage(
    sites: Sequence[Site],
    footprints: Mapping[Hashable, BaseGeometry | None],
    kinds: Collection[str] | None,
) -> CoverageReport:
    chosen = [site for site in sites if kinds is None or site.kind in kinds]
    cameras = list(footprints)
    polygons = [footprints[key] for key in cameras]
    areas = np.asarray([site.area for site in chosen], dtype=object)
    pairs = footprint_pairs(polygons, areas) if len(areas) else np.zeros((2, 0), dtype=np.intp)
    seen_by: dict[int, list[int]] = defaultdict(list)
    for camera_index, site_index in pairs.T.tolist():
        seen_by[site_index].append(camera_index)
    results: list[SiteCoverage | None] = [None] * len(chosen)
    for projection, index in by_cell(areas):
        for site_index, result in _cell(projection, index, chosen, areas, seen_by, cameras,
                                        polygons):  # fmt: skip
            results[site_index] = result
    done = [result for result in results if result is not None]
    return CoverageReport(sites=done, total=_totals(done), kinds=_by_kind(done))


def _cell(
    projection: LocalProjection,
    index: NDArray[np.intp],
    sites: Sequence[Site],
    areas: NDArray[np.object_],
    seen_by: dict[int, list[int]],
    cameras: list[Hashable],
    polygons: list[BaseGeometry | None],
) -> list[tuple[int, SiteCoverage]]:
    """Coverage of the sites ``index`` of one projection cell; each projection call batched."""
    metres = projection.to_metres(areas[index])
    site_m2 = shapely.area(metres)
    needed = sorted({c for i in index.tolist() for c in seen_by.get(i, ())})
    footprint_m = dict(zip(needed, projection.to_metres(
        np.asarray([polygons[c] for c in needed], dtype=object)), strict=True))  # fmt: skip
    out: list[tuple[int, SiteCoverage]] = []
    pending: list[tuple[int, float, float, BaseGeometry, tuple[Hashable, ...]]] = []
    for local, i in enumerate(index.tolist()):
        site, area_m2 = sites[i], float(site_m2[local])
        seen = seen_by.get(i)
        if not seen:
            out.append((i, SiteCoverage(site.id, site.kind, site.name, area_m2, 0.0, 0.0,
                                        site.area)))  # fmt: skip
            continue
        union = shapely.union_all([footprint_m[c] for c in seen])
        covered_m2 = min(float(metres[local].intersection(union).area), area_m2)
        uncovered = metres[local].difference(union)
        pending.append((i, area_m2, covered_m2, uncovered, tuple(cameras[c] for c in seen)))
    if pending:
        back = projection.to_wgs84(np.asarray([p[3] for p in pending], dtype=object))
        for (i, area_m2, covered_m2, _, keys), rest in zip(pending, back, strict=True):
            site = sites[i]
            share = covered_m2 / area_m2 if area_m2 > 0 else 0.0
            outline = Polygon() if rest.is_empty else rest
            out.append((i, SiteCoverage(site.id, site.kind, site.name, area_m2, covered_m2,
                                        share, outline, keys)))  # fmt: skip
    return out


def _totals(results: Sequence[SiteCoverage]) -> KindCoverage:
    return KindCoverage(
        sites=len(results),
        area_m2=float(sum(r.area_m2 for r in results)),
        covered_m2=float(sum(r.covered_m2 for r in results)),
    )


def _by_kind(results: Sequence[SiteCoverage]) -> dict[str, KindCoverage]:
    grouped: dict[str, list[SiteCoverage]] = defaultdict(list)
    for result in results:
        grouped[result.kind].append(result)
    return {kind: _totals(group) for kind, group in sorted(grouped.items())}
