"""``/api/webhooks``: admins add, read, change, delete and test webhooks, and see deliveries.

A webhook's signing secret is made by the server and shown once, when it is created (or
rotated). Destinations pass the server's network policy when they are set, and again at every
attempt. An admin limited to some cameras sees and manages only their own webhooks, whose
cameras lie within their limit (a hidden camera answers as an unknown one); their webhooks only
ever carry events of their cameras. Every change is written to the audit trail, URLs with
their credentials hidden.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import Response
from sqlalchemy.orm import Session

from citybrain.api.deps import Audit, Context, CurrentUser, DbSession, Principal, not_found
from citybrain.api.schemas import MAX_ID, Problem
from citybrain.api.webhook_schemas import (
    DeliveriesPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhooksPublic,
    WebhookTestPublic,
    WebhookUpdate,
)
from citybrain.errors import StoreError
from citybrain.netpolicy import DestinationRefusedError, NetworkPolicy
from citybrain.records import (
    Action,
    DeliveryStatus,
    Role,
    WebhookFields,
    WebhookRecord,
    WebhookRow,
)
from citybrain.services.outbound import new_webhook_secret
from citybrain.store import DeliveryRepo, UserRepo, WebhookRepo, redacted_source
from citybrain.store.types import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])

#: How long the previous secret still signs after a rotation (receivers switch over).
ROTATION_OVERLAP = timedelta(hours=24)
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="The webhook's id.")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem}, 404: {"model": Problem}, 422: {"model": Problem},
}  # fmt: skip


def _admin(principal: CurrentUser) -> Principal:
    if principal.user.role is not Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {principal.user.role.value!r} may not manage webhooks; needs admin",
        )
    return principal


def _unprocessable(field: str, message: str) -> HTTPException:
    return HTTPException(
        422, detail=[{"loc": ["body", field], "msg": message, "type": "value_error"}]
    )


def _check_destination(policy: NetworkPolicy, url: str) -> None:
    """Refuse a destination the network policy denies. A name that does not resolve now is
    accepted: names resolve differently over time, and every attempt checks again."""
    try:
        policy.check_url(url)
    except DestinationRefusedError as exc:
        raise _unprocessable("url", str(exc)) from None
    except Exception:  # unresolvable now: checked again at every attempt
        return


def _check_cameras(principal: Principal, cameras: list[int] | None) -> None:
    allowed = principal.camera_ids
    if cameras is not None and allowed is not None and not set(cameras) <= allowed:
        hidden = sorted(set(cameras) - allowed)  # answered exactly as unknown ones are
        raise _unprocessable("cameras", f"unknown camera id(s) {hidden}")


def _visible(session: Session, principal: Principal, webhook_id: int) -> WebhookRow:
    """The webhook if it exists and the caller may manage it (404 otherwise)."""
    webhook = WebhookRepo(session).get(webhook_id=webhook_id)
    if webhook is None or (
        principal.camera_ids is not None and webhook.owner_id != principal.user.id
    ):
        raise not_found(f"webhook {webhook_id}")
    return webhook


def _public(session: Session, webhooks: list[WebhookRow]) -> list[WebhookPublic]:
    pending = DeliveryRepo(session).pending_counts()
    names = {u.id: u.username for u in UserRepo(session).list()}
    return [
        WebhookPublic.of(w, owner=names.get(w.owner_id), pending=pending.get(w.id, 0))
        for w in webhooks
    ]


def _created(session: Session, webhook: WebhookRecord, secret: str) -> WebhookCreated:
    (public,) = _public(session, [webhook])  # type: ignore[list-item]
    return WebhookCreated.model_validate(public.model_dump() | {"secret": secret})


def _changed(context: Context, webhook_id: int | None = None) -> None:
    outbound = context.services.outbound
    if outbound is not None:
        if webhook_id is None:
            outbound.webhooks_changed()
        else:
            outbound.webhook_deleted(webhook_id)


@router.get("", responses=_ERRORS)
def list_webhooks(principal: CurrentUser, session: DbSession) -> WebhooksPublic:
    """Every webhook (admins; an admin limited to some cameras: their own)."""
    _admin(principal)
    owner = principal.user.id if principal.camera_ids is not None else None
    return WebhooksPublic(items=_public(session, WebhookRepo(session).list(owner_id=owner)))


@router.post("", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
def create_webhook(
    body: WebhookCreate, principal: CurrentUser, context: Context, session: DbSession, audit: Audit
) -> WebhookCreated:
    """Add a webhook (admins). The answer holds its signing secret: the only time it shows."""
    _admin(principal)
    _check_destination(context.services.policy, body.url)
    _check_cameras(principal, body.cameras)
    secret = new_webhook_secret()
    fields = WebhookFields.model_validate(body.model_dump(exclude={"cameras"}))
    try:
        webhook = WebhookRepo(session).create(
            fields, owner_id=principal.user.id, secret=secret, camera_ids=body.cameras
        )
    except StoreError as exc:
        raise _unprocessable("cameras", str(exc)) from None
    session.commit()
    _changed(context)
    audit(
        Action.WEBHOOK_CREATE, principal, target=str(webhook.id),
        detail={"url": redacted_source(webhook.url), "kinds": body.kinds, "cameras": body.cameras},
    )  # fmt: skip
    return _created(session, webhook, secret)


@router.get("/{webhook_id}", responses=_ERRORS)
def get_webhook(webhook_id: WebhookId, principal: CurrentUser, session: DbSession) -> WebhookPublic:
    """One webhook (404 if it does not exist or is not yours to manage)."""
    _admin(principal)
    return _public(session, [_visible(session, principal, webhook_id)])[0]


@router.patch("/{webhook_id}", responses=_ERRORS)
def update_webhook(
    webhook_id: WebhookId,
    body: WebhookUpdate,
    principal: CurrentUser,
    context: Context,
    session: DbSession,
    audit: Audit,
) -> WebhookCreated | WebhookPublic:
    """Change some fields, or rotate the signing secret (`rotate_secret: true`: the answer holds
    the new secret, once)."""
    _admin(principal)
    current = _visible(session, principal, webhook_id)
    given = body.model_dump(exclude_unset=True)
    for key in ("url", "enabled"):
        if key in given and given[key] is None:
            raise _unprocessable(key, "must not be null")
    rotate = bool(given.pop("rotate_secret", False))
    cameras = given.pop("cameras", ...)
    if "url" in given:
        _check_destination(context.services.policy, given["url"])
    if cameras is not ...:
        _check_cameras(principal, cameras)
    repo = WebhookRepo(session)
    try:
        webhook = repo.update(webhook_id=webhook_id, changes=given, camera_ids=cameras)
    except StoreError as exc:
        raise _unprocessable("cameras", str(exc)) from None
    secret = new_webhook_secret() if rotate else None
    if secret is not None:
        repo.rotate_secret(
            webhook_id=webhook_id, secret=secret, previous_until=utcnow() + ROTATION_OVERLAP
        )
    if webhook is None:  # deleted meanwhile
        raise not_found(f"webhook {webhook_id}")
    session.commit()
    _changed(context)
    detail: dict[str, Any] = {"fields": sorted(given) + (["cameras"] if cameras is not ... else [])}
    if "url" in given:
        detail |= {"old_url": redacted_source(current.url), "url": redacted_source(webhook.url)}
    audit(Action.WEBHOOK_UPDATE, principal, target=str(webhook_id), detail=detail)
    if secret is None:
        return _public(session, [webhook])[0]
    audit(Action.WEBHOOK_ROTATE, principal, target=str(webhook_id))
    return _created(session, webhook, secret)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_webhook(
    webhook_id: WebhookId,
    principal: CurrentUser,
    context: Context,
    session: DbSession,
    audit: Audit,
) -> Response:
    """Delete a webhook with its deliveries, pending ones included (admins)."""
    _admin(principal)
    current = _visible(session, principal, webhook_id)
    WebhookRepo(session).delete(webhook_id=webhook_id)
    session.commit()
    _changed(context, webhook_id)
    audit(
        Action.WEBHOOK_DELETE, principal, target=str(webhook_id),
        detail={"url": redacted_source(current.url)},
    )  # fmt: skip
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", responses=_ERRORS)
def list_deliveries(
    webhook_id: WebhookId,
    principal: CurrentUser,
    session: DbSession,
    status_: Annotated[
        DeliveryStatus | None, Query(alias="status", description="pending, delivered or failed.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of a page.")
    ] = None,
) -> DeliveriesPublic:
    """A webhook's deliveries, newest first: status, attempts, last response code and error."""
    _admin(principal)
    _visible(session, principal, webhook_id)
    items = DeliveryRepo(session).page(
        webhook_id=webhook_id, status=status_, limit=limit,
        before_id=None if cursor is None else int(cursor),
    )  # fmt: skip
    more = len(items) == limit
    return DeliveriesPublic(items=items, next_cursor=str(items[-1].id) if more else None)


@router.post("/{webhook_id}/test", responses={**_ERRORS, 503: {"model": Problem}})
def test_webhook(
    webhook_id: WebhookId,
    principal: CurrentUser,
    context: Context,
    session: DbSession,
    audit: Audit,
) -> WebhookTestPublic:
    """Send a signed `citybrain.webhook.test` message now (outside the outbox) and say how the
    receiver answered."""
    _admin(principal)
    _visible(session, principal, webhook_id)
    session.commit()  # nothing to write; release the connection during the attempt
    outbound = context.services.outbound
    try:
        result = None if outbound is None else outbound.test_webhook(webhook_id)
    except KeyError:
        raise not_found(f"webhook {webhook_id}") from None
    if result is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="webhook deliveries are not running"
        )
    audit(
        Action.WEBHOOK_TEST, principal, target=str(webhook_id),
        detail={"ok": result.ok, "status_code": result.status_code},
    )  # fmt: skip
    return WebhookTestPublic(
        ok=result.ok, status_code=result.status_code, error=result.error, seconds=result.seconds
    )
