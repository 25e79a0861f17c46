"""``GET /api/stats/lines``: line-crossing counts over time, per hour or day (the dashboard's
chart; ``GET /api/stats`` gives the totals)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from citybrain.api.deps import CurrentUser, DbSession
from citybrain.api.params import CameraIds, Since, Until, visible_ids
from citybrain.api.schemas import Schema
from citybrain.records import CountTotal
from citybrain.store import CountRepo

__all__ = ["LineSeriesPublic", "router"]

router = APIRouter(tags=["stats"])


class LineSeriesPublic(Schema):
    since: datetime | None
    until: datetime | None
    bucket: Literal["hour", "day"]
    items: list[CountTotal] = Field(
        description="Crossings per line, direction and label, per bucket."
    )


@router.get("/api/stats/lines")
def line_series(
    principal: CurrentUser,
    session: DbSession,
    since: Since = None,
    until: Until = None,
    camera: CameraIds = None,
    bucket: Annotated[Literal["hour", "day"], Query(description="Time bucket size.")] = "hour",
) -> LineSeriesPublic:
    """Crossings per line, direction, label and bucket over the cameras you may see."""
    totals = CountRepo(session).totals(
        since=since, until=until, camera_ids=visible_ids(principal.camera_ids, camera),
        bucket=bucket,
    )  # fmt: skip
    return LineSeriesPublic(since=since, until=until, bucket=bucket, items=totals)
