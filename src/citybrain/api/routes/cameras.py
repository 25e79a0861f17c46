"""``/api/cameras``: list, create, read, change and delete cameras.

Every change is followed by ``services.cameras.sync(id)``, so that the runtime starts, restarts
or stops the camera without a server restart. Sources are write-only: responses show them
with credentials redacted, and no log line carries one.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import Response

from citybrain.api.deps import (
    ApiContext,
    Audit,
    CameraEditor,
    Context,
    CurrentUser,
    DbSession,
    Principal,
    forbid_restricted,
    visible_camera,
)
from citybrain.api.schemas import (
    MAX_ID,
    CameraCreate,
    CameraPublic,
    CamerasPublic,
    CameraUpdate,
    Problem,
)
from citybrain.api.site_schemas import CameraDetail
from citybrain.citydata import Calibration, GeometryError, drawn_footprint
from citybrain.config import config_for_store, stored_camera_config
from citybrain.errors import ConfigError, ConfigProblem, SourceError, StoreError
from citybrain.records import Action, CameraRecord
from citybrain.services.sites import camera_sites
from citybrain.store import CameraRepo, redacted_source

__all__ = ["router", "stored_config"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

#: 422, by number: its constant was renamed between Starlette releases.
UNPROCESSABLE = 422

CameraId = Annotated[int, Path(ge=1, le=MAX_ID, description="The camera's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem}}
_CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem},
}  # fmt: skip


def stored_config(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Validate a camera's analysis config (the engine's one validation); returns what to store.

    Raises:
        HTTPException: 422 naming each invalid field as ``body.config.<path>``.
    """
    try:
        validated = stored_camera_config(name, config)
    except ConfigError as exc:
        detail = [
            {"loc": ["body", "config", *problem.loc], "msg": problem.message,
             "type": "value_error"}
            for problem in exc.problems or [ConfigProblem((), str(exc))]
        ]  # fmt: skip
        raise HTTPException(UNPROCESSABLE, detail=detail) from None
    return config_for_store(validated)


def _checked_source(context: ApiContext, source: str, field: str = "source") -> str:
    """The source as it is stored (files resolved), if the server's source policy allows it.

    Raises:
        HTTPException: 422 naming ``body.<field>`` and why it is refused.
    """
    try:
        return context.services.sources.check(source)
    except SourceError as exc:
        error = {"loc": ["body", field], "msg": str(exc), "type": "value_error"}
        raise HTTPException(UNPROCESSABLE, detail=[error]) from None


def _checked_sources(
    context: ApiContext, principal: Principal, given: dict[str, Any], current: CameraRecord
) -> dict[str, Any]:
    """Check the sources a change gives (the source policy, a limited user's right to change
    them); the audit's redacted old and new values of each."""
    detail: dict[str, Any] = {}
    for field in ("source", "analysis_source"):
        if field not in given:
            continue
        # A limited user could point a camera they see at one they do not, then watch it.
        forbid_restricted(principal, f"change a camera's {field.replace('_', ' ')}")
        new, old = given[field], getattr(current, field)
        if new is not None:
            given[field] = new = _checked_source(context, new, field)
        detail[field] = {
            "old": None if old is None else redacted_source(old),
            "new": None if new is None else redacted_source(new),
        }
    return detail


def _name_taken(exc: StoreError) -> HTTPException:
    # The other camera may be one the caller cannot see: say the name is taken, nothing more.
    log.info("camera name conflict: %s", exc)
    return HTTPException(status.HTTP_409_CONFLICT, detail="the camera name is already in use")


def checked_ground(fields: dict[str, Any]) -> None:
    """Check a drawn footprint and a calibration (city data) as the runtime will use them.

    Raises:
        HTTPException: 422 naming ``body.drawn_footprint`` or ``body.calibration``.
    """
    drawn: dict[str, Any] | None = fields.get("drawn_footprint")
    pairs: list[dict[str, Any]] | None = fields.get("calibration")
    try:
        if drawn is not None:
            where = "drawn_footprint"
            drawn_footprint([list(point) for point in drawn["coordinates"][0]])
        if pairs is not None:
            where = "calibration"
            Calibration.from_pairs([p["image"] for p in pairs], [p["ground"] for p in pairs])
    except GeometryError as exc:
        detail = [{"loc": ["body", where], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(UNPROCESSABLE, detail=detail) from None


def _public(context: ApiContext, camera: CameraRecord) -> CameraPublic:
    return CameraPublic.of(camera, context.services.cameras.health().get(camera.id))


def _sync(context: ApiContext, camera_id: int) -> None:
    try:
        context.services.cameras.sync(camera_id)
    except Exception:  # the change is stored; the supervisor picks it up when it recovers
        log.exception("camera %d changed, but the camera runtime could not be told", camera_id)


@router.get("")
def list_cameras(principal: CurrentUser, context: Context, session: DbSession) -> CamerasPublic:
    """The cameras you may see, by name."""
    cameras = CameraRepo(session).list(camera_ids=principal.camera_ids)
    items = [_public(context, c) for c in cameras]
    return CamerasPublic(items=items, count=len(items))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={403: {"model": Problem}, 409: {"model": Problem}},
)
def create_camera(
    body: CameraCreate, principal: CameraEditor, context: Context, session: DbSession, audit: Audit
) -> CameraPublic:
    """Add a camera (admin, supervisor); the runtime starts it at once if enabled."""
    forbid_restricted(principal, "add cameras")
    checked_ground(body.model_dump())
    source = _checked_source(context, body.source)
    analysis = body.analysis_source
    if analysis is not None:
        analysis = _checked_source(context, analysis, "analysis_source")
    config = stored_config(body.name, body.config)
    fields = body.model_copy(
        update={"source": source, "analysis_source": analysis, "config": config}
    )
    try:
        camera = CameraRepo(session).create(fields)
    except StoreError as exc:
        raise _name_taken(exc) from None
    session.commit()  # before the runtime is told: it reads the camera from the store
    audit(Action.CAMERA_CREATE, principal, camera_id=camera.id, target=camera.name)
    _sync(context, camera.id)
    return _public(context, camera)


@router.get("/{camera_id}", responses=_NOT_FOUND)
def get_camera(
    camera_id: CameraId, principal: CurrentUser, context: Context, session: DbSession
) -> CameraDetail:
    """One camera (404 if it does not exist or you may not see it), with its footprint, the
    active sites it sees and the rules they add to it."""
    camera = visible_camera(session, principal, camera_id)
    services = context.services
    sites = camera_sites(services.store, camera, services.settings.site_rules)
    return CameraDetail.detail(camera, services.cameras.health().get(camera.id), sites)


@router.patch("/{camera_id}", responses=_CHANGE_ERRORS)
def update_camera(
    camera_id: CameraId,
    body: CameraUpdate,
    principal: CameraEditor,
    context: Context,
    session: DbSession,
    audit: Audit,
) -> CameraPublic:
    """Change some fields (admin, supervisor); the runtime restarts the camera with them."""
    current = visible_camera(session, principal, camera_id)
    given = body.model_dump(exclude_unset=True)
    for key in ("name", "source", "enabled", "config"):
        if key in given and given[key] is None:
            raise HTTPException(
                UNPROCESSABLE,
                detail=[{"loc": ["body", key], "msg": "must not be null", "type": "value_error"}],
            )
    detail: dict[str, Any] = {"fields": sorted(given)}
    detail |= _checked_sources(context, principal, given, current)
    if "config" in given:
        given["config"] = stored_config(given.get("name", current.name), given["config"])
    checked_ground(given)
    try:
        camera = CameraRepo(session).update(camera_id=camera_id, changes=given)
    except StoreError as exc:
        raise _name_taken(exc) from None
    if camera is None:  # deleted meanwhile
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"camera {camera_id} not found")
    session.commit()
    audit(Action.CAMERA_UPDATE, principal, camera_id=camera_id, target=camera.name, detail=detail)
    _sync(context, camera_id)
    return _public(context, camera)


@router.delete("/{camera_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_CHANGE_ERRORS)
def delete_camera(
    camera_id: CameraId, principal: CameraEditor, context: Context, session: DbSession, audit: Audit
) -> Response:
    """Delete a camera with its events, snapshots and counts (admin, supervisor)."""
    current = visible_camera(session, principal, camera_id)
    snapshots = CameraRepo(session).delete(camera_id=camera_id)
    session.commit()  # the rows go before their files
    for path in snapshots or ():
        context.services.media.delete(path)
    context.services.hub.forget(camera_id)
    context.services.metrics.forget_camera(camera_id)
    audit(Action.CAMERA_DELETE, principal, camera_id=camera_id, target=current.name)
    _sync(context, camera_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
