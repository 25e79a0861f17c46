"""``GET /metrics``: Prometheus text exposition (any user not limited to some cameras)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from citybrain.api.deps import Context, CurrentUser, forbid_restricted
from citybrain.services.metrics import CONTENT_TYPE

__all__ = ["router"]

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
def metrics(principal: CurrentUser, context: Context) -> Response:
    """Per-camera frame rates, detector latency, queue depths, events, live subscribers.

    Scrape it with an API token (``citybrain user token``) as a bearer token.
    """
    forbid_restricted(principal, "read metrics that cover every camera")
    return Response(context.services.metrics.render(), media_type=CONTENT_TYPE)
