"""``/api/coverage``: how much of the city's important places enabled, healthy cameras see.

Planning for places, never for people: sites' areas and cameras' footprints in, areas and shares
out, and the places no camera sees (``geometry=true``) for the console's coverage layer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from citybrain.api.deps import Context, CoverageReader, DbSession
from citybrain.api.params import UtcDatetime
from citybrain.api.site_schemas import CoveragePublic
from citybrain.services.sites import coverage_report, footprint_of
from citybrain.store import CameraRepo

__all__ = ["router"]

router = APIRouter(prefix="/api/coverage", tags=["sites"])

_KIND = r"^[a-z][a-z0-9_]{0,39}$"


@router.get("")
async def get_coverage(
    principal: CoverageReader,
    context: Context,
    session: DbSession,
    kind: Annotated[
        list[Annotated[str, Query(pattern=_KIND)]] | None,
        Query(description="Site kinds (repeat for several); default: the coverage_kinds setting."),
    ] = None,
    at: Annotated[UtcDatetime | None, Query(description="Sites valid then; default now.")] = None,
    geometry: Annotated[bool, Query(description="Add each site's uncovered part.")] = False,
) -> CoveragePublic:
    """Per site and in total (and per kind): the share of its area at least one enabled, online
    camera sees (admins, supervisors). Camera ids are limited to the cameras you may see."""
    services = context.services
    kinds = kind or services.settings.coverage_kinds
    cameras = CameraRepo(session).list()
    health = services.cameras.health()
    when = at or datetime.now(UTC)
    report = await run_in_threadpool(
        coverage_report, services.store, cameras, kinds=kinds, health=health,
        geometry=geometry, at=when,
    )  # fmt: skip
    counted = sum(
        1
        for c in cameras
        if c.enabled and c.id in health and health[c.id].online and footprint_of(c) is not None
    )
    return CoveragePublic.of(
        report, at=when, kinds=None if kinds is None else sorted(kinds), cameras_counted=counted,
        visible=principal.camera_ids, geometry=geometry,
    )  # fmt: skip
