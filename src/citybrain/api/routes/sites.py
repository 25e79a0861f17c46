"""``/api/sites``: import files of city data, read sites as GeoJSON, delete them; the change log
and the scheduled refreshes.

An import is refused whole, naming each row or feature and field (422), or kept whole. Uploads
have a body limit of their own (``site_import_max_mb``, far above the JSON routes'), enforced
while the body is read: a larger upload is cut off with 413 before it is parsed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from citybrain.api.deps import Audit, Context, DbSession, SiteAdmin, SiteReader, not_found
from citybrain.api.params import UtcDatetime
from citybrain.api.schemas import Problem
from citybrain.api.site_schemas import (
    ImportPublic,
    SiteDetail,
    SiteFeature,
    SiteSourcePublic,
    SitesPublic,
)
from citybrain.citydata import SiteImportError
from citybrain.citydata.fetch import redact_url
from citybrain.errors import ConfigError
from citybrain.records import Action
from citybrain.records.site import SiteChange, geojson_geometry
from citybrain.services.site_refresh import refresh_by
from citybrain.services.sites import footprint_of, import_sites, mapping_for
from citybrain.store import CameraRepo, SiteRepo

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/sites", tags=["sites"])

#: By number: their constants were renamed between Starlette releases.
_UNPROCESSABLE, _TOO_LARGE = 422, 413
#: What a multipart upload may add around the file (boundaries, the preset, a mapping).
_FORM_OVERHEAD = 1024 * 1024
_KIND = r"^[a-z][a-z0-9_]{0,39}$"
SiteId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,80}$", description="The site's id.")]
Kinds = Annotated[list[Annotated[str, Query(pattern=_KIND)]] | None, Query(description="Kinds.")]
_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "No file, or an unusable preset or mapping."},
    413: {"model": Problem, "description": "Larger than `site_import_max_mb`."},
    422: {"description": "The file was refused: `{detail: {file, problems, more}}`."},
}


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        x0, y0, x1, y1 = (float(part) for part in text.split(","))
    except ValueError:
        raise _bad_bbox() from None
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise _bad_bbox()
    return x0, y0, x1, y1


def _bad_bbox() -> HTTPException:
    return HTTPException(
        _UNPROCESSABLE,
        detail=[{"loc": ["query", "bbox"], "type": "value_error",
                 "msg": "minlon,minlat,maxlon,maxlat in WGS 84 degrees, min <= max"}],
    )  # fmt: skip


@router.get("")
def list_sites(
    principal: SiteReader,
    session: DbSession,
    kind: Kinds = None,
    active_at: Annotated[
        UtcDatetime | None, Query(description="Only sites valid at this time (ISO 8601).")
    ] = None,
    bbox: Annotated[
        str | None, Query(description="minlon,minlat,maxlon,maxlat: sites touching this box.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> SitesPublic:
    """Sites as a GeoJSON FeatureCollection (geometry: the area each covers)."""
    box = _bbox(bbox)
    page = SiteRepo(session).search(
        kinds=kind, active_at=active_at, bbox=box, cursor=cursor, limit=limit
    )
    at = active_at or datetime.now(UTC)
    return SitesPublic(
        features=[SiteFeature.of(site, at) for site in page.items], next_cursor=page.next_cursor
    )


@router.post("/import", responses=_REFUSED)
async def import_file(
    request: Request,
    principal: SiteAdmin,
    context: Context,
    audit: Audit,
    preset: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(pattern=_KIND)] = None,
    filename: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """Import a file of sites (admins): multipart with a ``file`` part and a ``preset`` or a
    ``mapping`` (YAML text, or a file part), optionally a ``kind``; or the file as the body
    with ``?preset=`` (and ``?filename=`` for its format). Re-importing a source updates its
    sites by their source id; the response counts what changed."""
    services = context.services
    limit = services.settings.site_import_max_bytes
    body = await _bounded_body(request, limit + _FORM_OVERHEAD)
    fields = await _fields(request, body, filename)
    data: bytes = fields["file"]
    if len(data) > limit:
        raise _too_large(limit)
    try:
        mapping = mapping_for(
            preset_name=fields.get("preset") or preset,
            mapping_text=fields.get("mapping"),
            mapping_label=fields.get("mapping_label") or "mapping",
        )
    except ConfigError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    label = PurePath(fields.get("label") or "upload").name
    try:
        summary = await run_in_threadpool(
            import_sites, services.store, data, mapping, label=label, by=principal.username,
            kind=fields.get("kind") or kind, max_bytes=limit,
        )  # fmt: skip
    except SiteImportError as exc:
        refused = {"file": label, "refused": True, "problems": len(exc.problems) + exc.more}
        audit(Action.SITES_IMPORT, principal, target=mapping.source, detail=refused)
        return JSONResponse(
            {"detail": {"file": exc.label, "problems": list(exc.problems), "more": exc.more}},
            status_code=_UNPROCESSABLE,
        )
    public = ImportPublic.of(summary)
    audit(Action.SITES_IMPORT, principal, target=summary.source,
          detail={"file": label, "import_id": summary.import_id, "added": public.added,
                  "changed": public.changed, "removed": public.removed})  # fmt: skip
    services.sites_changed()
    return public


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        _TOO_LARGE,
        detail=f"the file is larger than {limit / 1048576:g} MB (site_import_max_mb); refused",
    )


async def _fields(request: Request, body: bytes, filename: str | None) -> dict[str, Any]:
    """``file`` (bytes), ``label``, and ``preset``, ``mapping``, ``kind`` when given."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        if not body:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="no file: the body is empty")
        return {"file": body, "label": filename or "upload"}

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(
            request.headers, stream(), max_files=2, max_fields=8, max_part_size=_FORM_OVERHEAD
        ).parse()
    except MultiPartException as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=exc.message) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="no file: send a 'file' part")
        out: dict[str, Any] = {"file": await upload.read(), "label": upload.filename or filename}
        for name in ("preset", "kind"):
            if isinstance(value := form.get(name), str) and value:
                out[name] = value
        mapping = form.get("mapping")
        if isinstance(mapping, UploadFile):
            out["mapping"] = (await mapping.read()).decode("utf-8", errors="replace")
            out["mapping_label"] = PurePath(mapping.filename or "mapping").name
        elif isinstance(mapping, str) and mapping:
            out["mapping"] = mapping
        return out
    finally:
        await form.close()


@router.get("/sources", responses={403: {"model": Problem}})
def list_sources(
    principal: SiteAdmin, context: Context, session: DbSession
) -> list[SiteSourcePublic]:
    """The scheduled refreshes and how their latest reads went (admins)."""
    repo = SiteRepo(session)
    out = []
    for source in context.services.settings.site_sources:
        reads = repo.imports(by=refresh_by(source.name), limit=50)
        out.append(
            SiteSourcePublic(
                name=source.name,
                location=redact_url(source.location),
                every_minutes=source.every_minutes,
                last=reads[0] if reads else None,
                last_ok=next((r for r in reads if r.status == "ok"), None),
            )
        )
    return out


@router.get("/changes")
def list_changes(
    principal: SiteReader,
    session: DbSession,
    site: Annotated[str | None, Query(max_length=80)] = None,
    import_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    since: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[SiteChange]:
    """The change log (added, changed, expired, removed), newest first."""
    return SiteRepo(session).changes(site_id=site, import_id=import_id, since=since, limit=limit)


@router.get("/{site_id}", responses={404: {"model": Problem}})
def get_site(principal: SiteReader, session: DbSession, site_id: SiteId) -> SiteDetail:
    """One site, the shape its source gave, and the cameras (you may see) that see it."""
    site = SiteRepo(session).get(site_id=site_id)
    if site is None:
        raise not_found(f"site {site_id}")
    cameras = CameraRepo(session).list(camera_ids=principal.camera_ids)
    footprints = {c.id: fp for c in cameras if (fp := footprint_of(c)) is not None}
    seen = SiteRepo(session).seen_by(site_id=site_id, footprints=footprints)
    feature = SiteFeature.of(site, datetime.now(UTC))
    return SiteDetail(
        **feature.model_dump(), source_geometry=geojson_geometry(site.geometry),
        cameras=sorted(seen), imported_at=site.imported_at, updated_at=site.updated_at,
    )  # fmt: skip


@router.delete(
    "/{site_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"model": Problem}, 404: {"model": Problem}},
)
def delete_site(
    principal: SiteAdmin, context: Context, session: DbSession, audit: Audit, site_id: SiteId
) -> Response:
    """Delete a site (admins); rules it switched on stop at once (within a minute at most)."""
    if not SiteRepo(session).delete(site_id=site_id, now=datetime.now(UTC), by=principal.username):
        raise not_found(f"site {site_id}")
    session.commit()
    audit(Action.SITE_DELETE, principal, target=site_id)
    context.services.sites_changed()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
