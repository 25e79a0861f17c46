"""``GET /api/stats``: events per camera, kind and hour (or day), and line-crossing counts."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from citybrain.api.deps import CurrentUser, DbSession, not_found
from citybrain.api.params import EventFilters
from citybrain.api.schemas import CountPublic, Problem, StatsPublic
from citybrain.store import CameraRepo, CountRepo, EventRepo

__all__ = ["router"]

router = APIRouter(tags=["stats"])


@router.get("/api/stats", responses={404: {"model": Problem}})
def stats(
    principal: CurrentUser,
    session: DbSession,
    filters: Annotated[EventFilters, Depends()],
    bucket: Annotated[Literal["hour", "day"], Query(description="Time bucket size.")] = "hour",
) -> StatsPublic:
    """Counts over the cameras you may see, in the time range (events by start time, line
    crossings by interval start). Naming a camera you may not see is a 404."""
    query = filters.query(principal.camera_ids)
    if filters.cameras:
        known = {c.id for c in CameraRepo(session).list(camera_ids=query.camera_ids)}
        for camera_id in filters.cameras:
            if camera_id not in known:
                raise not_found(f"camera {camera_id}")
    events = EventRepo(session).stats(query=query, bucket=bucket)
    lines = CountRepo(session).totals(
        since=query.since, until=query.until, camera_ids=query.camera_ids
    )
    per_camera: Counter[int] = Counter()
    per_kind: Counter[str] = Counter()
    for stat in events:
        per_camera[stat.camera_id] += stat.count
        per_kind[stat.kind] += stat.count
    return StatsPublic(
        since=query.since,
        until=query.until,
        bucket=bucket,
        events=events,
        per_camera=[CountPublic(key=str(k), count=n) for k, n in sorted(per_camera.items())],
        per_kind=[CountPublic(key=k, count=n) for k, n in sorted(per_kind.items())],
        lines=lines,
    )
