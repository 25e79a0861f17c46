"""The HTTP API of the operations centre: ``create_app(services)`` builds it.

Example:
    >>> app = create_app(Services.of(settings, store, supervisor))
    >>> uvicorn.run(app, host=settings.host, port=settings.port)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from citybrain import __version__
from citybrain.api.deps import ApiContext
from citybrain.api.routes import (
    audit,
    auth,
    cameras,
    console,
    coverage,
    events,
    health,
    line_counts,
    live,
    metrics,
    session,
    sites,
    stats,
    users,
    wall,
    webhooks,
)
from citybrain.api.web_security import (
    BodyLimit,
    CookieSession,
    SecurityHeaders,
    content_security_policy,
    tile_origin,
)
from citybrain.errors import CitybrainError
from citybrain.services import Services
from citybrain.services.retention import RetentionJob
from citybrain.services.security import LoginGuard, LoginTokens, Passwords, load_secret
from citybrain.store import describe_error

__all__ = ["create_app"]

log = logging.getLogger(__name__)

#: Routes under this prefix take uploads (city data) and have a limit of their own.
IMPORTS = "/api/sites/import"

DESCRIPTION = """
The operations centre's API. Authenticate with `POST /api/auth/login` (or an API token from
`citybrain user token`) and send `Authorization: Bearer <token>`.

Frames, snapshots and live views are anonymised by the engine before they reach the API;
every read of them is written to the audit trail.
"""


def create_app(
    services: Services,
    *,
    retention_interval_s: float = 600.0,
    heartbeat_s: float = 15.0,
    recheck_s: float = 5.0,
    passwords: Passwords | None = None,
) -> FastAPI:
    """The FastAPI app over ``services``.

    Args:
        services: the store, the camera runtime's control, the live hub and metrics.
        retention_interval_s: how often the retention job runs (it also runs at start-up).
        heartbeat_s: idle seconds between keep-alive comments on the event stream.
        recheck_s: how often a long-lived stream checks that its credential still holds.
        passwords: the password hasher (argon2id with argon2-cffi's defaults if absent).

    Raises:
        ConfigError: the token key in the data directory is unusable.
    """
    settings = services.settings
    media = services.media
    context = ApiContext(
        services=services,
        tokens=LoginTokens(load_secret(settings.data_dir), lifetime_s=settings.token_hours * 3600),
        passwords=passwords or Passwords(),
        limiter=LoginGuard(per_pair=5, per_user=20, window_s=60.0),
        trusted_proxies=tuple(settings.trusted_proxies),
        heartbeat_s=heartbeat_s,
        recheck_s=recheck_s,
    )
    retention = RetentionJob(
        store=services.store, media=media, retention_hours=settings.retention_hours,
        interval_s=retention_interval_s,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        media.root.mkdir(parents=True, exist_ok=True)
        retention.start()
        try:
            yield
        finally:
            retention.stop()

    app = FastAPI(
        title="citybrain",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files by routes.console (no CDN)
        redoc_url=None,
    )
    app.state.context = context
    app.state.retention = retention
    services.metrics.live_subscribers.set_function(lambda: services.hub.subscriber_count)
    _add_error_handlers(app)
    # live before events: /api/events/stream must not be taken for an event id.
    routers = (health, auth, session, users, cameras, live, wall, events, stats, line_counts,
               audit, metrics, webhooks, console, sites, coverage)  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    console.mount_console(app)
    app.add_middleware(CookieSession)
    limits = settings.limits
    imports = (int(settings.site_import_max_mb * 2**20), "site_import_max_mb")
    app.add_middleware(
        BodyLimit,
        default=(limits.json_body_bytes, "limits.json_body_bytes"),
        prefixes={IMPORTS: imports},
    )
    tiles = tile_origin(settings.console.tile_url)
    app.add_middleware(SecurityHeaders, policy=content_security_policy([tiles] if tiles else []))
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input: it may hold a camera's credentials or a password.
        errors = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""),
             "type": error.get("type", "")}
            for error in exc.errors()
        ]  # fmt: skip
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(SQLAlchemyError)
    async def database_failed(_request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # describe_error: one line, without the statement and its parameters.
        log.error("database error: %s", describe_error(exc))
        return JSONResponse(
            {"detail": "the database is unavailable or failed; try again"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @app.exception_handler(CitybrainError)
    async def citybrain_failed(_request: Request, exc: CitybrainError) -> JSONResponse:
        log.error("request failed: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=500)
