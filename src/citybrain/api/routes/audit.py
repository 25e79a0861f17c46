"""``GET /api/audit``: the audit trail, for auditors only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from citybrain.api.audit import Action, record
from citybrain.api.deps import AuditorUser, Client, Context
from citybrain.api.routes.events import Since, Until, aware, visible_ids
from citybrain.api.schemas import MAX_ID, USERNAME_PATTERN, AuditEntryPublic, AuditPublic
from citybrain.store import AuditRepo

__all__ = ["router"]

router = APIRouter(tags=["audit"])

Username = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=USERNAME_PATTERN)]


@router.get("/api/audit")
def audit_trail(
    principal: AuditorUser,
    context: Context,
    client: Client,
    since: Since = None,
    until: Until = None,
    user: Annotated[Username | None, Query(description="Only this user's actions.")] = None,
    camera: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this camera.")] = None,
    action: Annotated[Action | None, Query(description="Only this action.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPublic:
    """Who did what, when, from where; newest first. An auditor limited to some cameras sees
    the entries of those cameras and those about no camera."""
    cameras = visible_ids(principal, None if camera is None else [camera])
    with context.services.store.session() as session:
        page = AuditRepo(session).search(
            since=aware(since, "from"), until=aware(until, "to"), username=user,
            action=None if action is None else action.value, camera_ids=cameras,
            limit=limit, offset=offset,
        )  # fmt: skip
    record(
        context.services.store, action=Action.AUDIT_READ, username=principal.username,
        client=client, camera_id=camera,
    )  # fmt: skip
    items = [
        AuditEntryPublic(
            id=e.id,
            at=e.at,
            username=e.username,
            action=e.action,
            camera_id=e.camera_id,
            target=e.target,
            client=e.client,
            detail=e.detail,
        )
        for e in page.items
    ]
    return AuditPublic(items=items, total=page.total, limit=limit, offset=offset)
