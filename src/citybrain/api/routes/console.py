"""The browser console and the offline API docs, served by the API itself.

``/`` is the console's page, ``/console/…`` its modules, styles and the libraries that
``scripts/install`` copies from npm into ``citybrain/web/vendor`` (never a CDN), ``/docs``
Swagger UI from the same local copy. ``/api/console/…`` gives the console what it needs beyond
the API: the map's tile settings and the camera config's JSON schema (the same Pydantic models
that validate YAML configs, so the rule forms match what the server accepts).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

from citybrain.api.deps import Context, CurrentUser
from citybrain.api.schemas import Schema
from citybrain.config.model import CameraConfig
from citybrain.core.detections import COCO_LABELS

__all__ = ["WEB_DIR", "ConsoleSettingsPublic", "mount_console", "router"]

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
#: A file that exists once ``scripts/install`` has copied the npm libraries.
_VENDOR_PROBE = WEB_DIR / "vendor" / "leaflet" / "leaflet.js"
_PAGE_HEADERS = {"Cache-Control": "no-cache"}
_MISSING = (
    "The console's libraries are missing: run scripts/install (it fetches them from npm "
    "into src/citybrain/web/vendor). The API works without them.\n"
)

router = APIRouter(tags=["console"])


class ConsoleSettingsPublic(Schema):
    tile_url: str | None
    tile_attribution: str
    tile_max_zoom: int
    map_center: tuple[float, float] | None
    labels: list[str]
    live_fps: float


def _page(name: str) -> Response:
    if not _VENDOR_PROBE.is_file():
        return PlainTextResponse(_MISSING, status_code=503)
    return FileResponse(WEB_DIR / name, media_type="text/html", headers=_PAGE_HEADERS)


@router.get("/", include_in_schema=False)
def console_page() -> Response:
    """The console (a single page; its views live in the URL's fragment)."""
    return _page("index.html")


@router.get("/docs", include_in_schema=False)
def api_docs() -> Response:
    """Swagger UI over ``/openapi.json``, from local files."""
    return _page("docs.html")


@router.get("/api/console/settings")
def console_settings(_principal: CurrentUser, context: Context) -> ConsoleSettingsPublic:
    """The map's basemap (none unless an admin configured a tile URL), the object labels the
    rule forms offer, and the live frame rate."""
    settings = context.services.settings
    console = settings.console
    return ConsoleSettingsPublic(
        tile_url=console.tile_url, tile_attribution=console.tile_attribution,
        tile_max_zoom=console.tile_max_zoom, map_center=console.map_center,
        labels=list(COCO_LABELS), live_fps=settings.live_fps,
    )  # fmt: skip


@router.get("/api/console/config-schema")
def config_schema(_principal: CurrentUser) -> dict[str, Any]:
    """The JSON schema of a camera's analysis config (zones, lines, rules and their fields)."""
    return CameraConfig.model_json_schema()


def mount_console(app: FastAPI) -> None:
    """Serve ``citybrain/web`` at ``/console`` (static files; no directory listings)."""
    if not _VENDOR_PROBE.is_file():
        log.warning("console libraries missing in %s: run scripts/install", WEB_DIR / "vendor")
    app.mount("/console", StaticFiles(directory=WEB_DIR, check_dir=False), name="console")
