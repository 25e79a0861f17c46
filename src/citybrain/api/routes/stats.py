"""``GET /api/stats``: events per camera, kind and hour (or day), and line-crossing counts."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from citybrain.api.deps import Context, CurrentUser
from citybrain.api.routes.events import CameraIds, Kind, Since, Until, aware, visible_ids
from citybrain.api.schemas import CountPublic, EventStatPublic, LineTotalPublic, StatsPublic
from citybrain.store import CountRepo, EventQuery, EventRepo

__all__ = ["router"]

router = APIRouter(tags=["stats"])


@router.get("/api/stats")
def stats(
    principal: CurrentUser,
    context: Context,
    since: Since = None,
    until: Until = None,
    camera: CameraIds = None,
    kind: Annotated[list[Kind] | None, Query(description="Only these rule kinds.")] = None,
    bucket: Annotated[Literal["hour", "day"], Query(description="Time bucket size.")] = "hour",
) -> StatsPublic:
    """Counts over the cameras you may see, in the time range (events by start time, line
    crossings by interval start)."""
    start, end = aware(since, "from"), aware(until, "to")
    cameras = visible_ids(principal, camera)
    query = EventQuery(since=start, until=end, camera_ids=cameras, kinds=kind)
    with context.services.store.session() as session:
        events = EventRepo(session).stats(query=query, bucket=bucket)
        lines = CountRepo(session).totals(since=start, until=end, camera_ids=cameras)
    per_camera: Counter[int] = Counter()
    per_kind: Counter[str] = Counter()
    for stat in events:
        per_camera[stat.camera_id] += stat.count
        per_kind[stat.kind] += stat.count
    return StatsPublic(
        since=start,
        until=end,
        bucket=bucket,
        events=[
            EventStatPublic(
                camera_id=s.camera_id, kind=s.kind, bucket_start=s.bucket_start, count=s.count
            )
            for s in events
        ],
        per_camera=[CountPublic(key=str(k), count=n) for k, n in sorted(per_camera.items())],
        per_kind=[CountPublic(key=k, count=n) for k, n in sorted(per_kind.items())],
        lines=[
            LineTotalPublic(
                camera_id=t.camera_id,
                rule=t.rule,
                line=t.line,
                direction=t.direction,
                label=t.label,
                count=t.count,
            )
            for t in lines
        ],
    )
