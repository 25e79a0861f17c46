"""``GET /api/audit``: the audit trail, for auditors only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from citybrain.api.deps import Audit, AuditorUser, DbSession
from citybrain.api.params import Since, Until, visible_ids
from citybrain.api.schemas import MAX_ID, AuditPublic
from citybrain.records import Action
from citybrain.records.user import Username
from citybrain.store import MAX_PAGE, AuditRepo

__all__ = ["router"]

router = APIRouter(tags=["audit"])


@router.get("/api/audit")
def audit_trail(
    principal: AuditorUser,
    session: DbSession,
    audit: Audit,
    since: Since = None,
    until: Until = None,
    user: Annotated[Username | None, Query(description="Only this user's actions.")] = None,
    camera: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this camera.")] = None,
    action: Annotated[Action | None, Query(description="Only this action.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPublic:
    """Who did what, when, from where; newest first. An auditor limited to some cameras sees
    the entries of those cameras and those about no camera."""
    page = AuditRepo(session).search(
        since=since, until=until, username=user,
        action=None if action is None else action.value,
        camera_ids=visible_ids(principal.camera_ids, None if camera is None else [camera]),
        limit=limit, offset=offset,
    )  # fmt: skip
    audit(Action.AUDIT_READ, principal, camera_id=camera)
    return AuditPublic(items=page.items, total=page.total, limit=limit, offset=offset)
