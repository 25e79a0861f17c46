"""``GET /api/health``: liveness and readiness, without authentication."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from citybrain.api.deps import Context
from citybrain.api.schemas import HealthPublic
from citybrain.store import describe_error

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get(
    "/api/health",
    responses={503: {"model": HealthPublic, "description": "Store or workers not ready."}},
)
def health(context: Context, response: Response) -> HealthPublic:
    """200 when the store answers and the camera workers are up, else 503 with the same body."""
    try:
        with context.services.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        store_ok = True
    except SQLAlchemyError as exc:
        log.warning("health: the store does not answer: %s", describe_error(exc))
        store_ok = False
    workers_ok = bool(context.services.cameras.ready())
    ready = store_ok and workers_ok
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthPublic(status="ok" if ready else "degraded", store=store_ok, workers=workers_ok)
