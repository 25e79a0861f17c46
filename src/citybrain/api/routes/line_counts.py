"""``GET /api/stats/lines``: line-crossing counts over time, per hour or day (the dashboard's
chart; ``GET /api/stats`` gives the totals)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from citybrain.api.deps import Context, CurrentUser
from citybrain.api.routes.events import CameraIds, Since, Until, aware, visible_ids
from citybrain.api.schemas import Schema
from citybrain.store import CountRepo

__all__ = ["LineSeriesPublic", "router"]

router = APIRouter(tags=["stats"])


class LineBucketPublic(Schema):
    camera_id: int
    rule: str
    line: str
    direction: str
    label: str
    bucket_start: datetime
    count: int


class LineSeriesPublic(Schema):
    since: datetime | None
    until: datetime | None
    bucket: Literal["hour", "day"]
    items: list[LineBucketPublic]


@router.get("/api/stats/lines")
def line_series(
    principal: CurrentUser,
    context: Context,
    since: Since = None,
    until: Until = None,
    camera: CameraIds = None,
    bucket: Annotated[Literal["hour", "day"], Query(description="Time bucket size.")] = "hour",
) -> LineSeriesPublic:
    """Crossings per line, direction, label and bucket over the cameras you may see."""
    start, end = aware(since, "from"), aware(until, "to")
    with context.services.store.session() as session:
        totals = CountRepo(session).totals(
            since=start, until=end, camera_ids=visible_ids(principal, camera), bucket=bucket
        )
    items = [
        LineBucketPublic(
            camera_id=t.camera_id,
            rule=t.rule,
            line=t.line,
            direction=t.direction,
            label=t.label,
            bucket_start=t.bucket_start,
            count=t.count,
        )
        for t in totals
        if t.bucket_start is not None
    ]
    return LineSeriesPublic(since=start, until=end, bucket=bucket, items=items)
