"""``/api/auth``: log in, who am I, and one's API tokens."""

from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import Response
from sqlalchemy.orm import Session

from citybrain.api.deps import ApiContext, Audit, Context, CurrentUser, DbSession, not_found
from citybrain.api.schemas import (
    MAX_ID,
    ApiTokensPublic,
    LoginRequest,
    MePublic,
    Problem,
    TokenPublic,
)
from citybrain.records import Action, Role, UserAccount
from citybrain.store import TokenRepo, UserRepo

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth", tags=["auth"])

_WRONG = "wrong user name or password"


@router.post(
    "/login",
    responses={401: {"model": Problem}, 429: {"model": Problem, "description": "Too many tries."}},
)
def login(body: LoginRequest, context: Context, session: DbSession, audit: Audit) -> TokenPublic:
    """Exchange a user name and password for a bearer token that expires.

    Five failed tries for one user name from one address within a minute lock that pair out
    for the rest of the minute, twenty from any addresses lock the name out (429, with
    ``Retry-After``).
    """
    client = audit.client
    now = context.clock()
    wait = context.limiter.retry_after(body.username, client, now=now)
    if wait is not None:
        log.warning("login for %r from %s refused: too many failed tries", body.username, client)
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed logins; try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    user = _check_password(context, session, body)
    if user is None:
        context.limiter.failure(body.username, client, now=now)
        log.warning("failed login for %r from %s", body.username, client)
        audit(Action.LOGIN_FAILED, body.username)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=_WRONG, headers={"WWW-Authenticate": "Bearer"}
        )
    context.limiter.success(body.username, client)
    audit(Action.LOGIN, user.username)
    token = context.tokens.issue(user_id=user.id, password_hash=user.password_hash, now=now)
    return TokenPublic(access_token=token, expires_in=int(context.tokens.lifetime_s))


def _check_password(
    context: ApiContext, session: Session, body: LoginRequest
) -> UserAccount | None:
    user = UserRepo(session).by_username(username=body.username)
    if user is None or user.disabled:
        context.passwords.burn(body.password)  # answer as slowly as for a real user
        return None
    return user if context.passwords.verify(user.password_hash, body.password) else None


@router.get("/me")
def me(principal: CurrentUser) -> MePublic:
    """The caller's user name, role and cameras."""
    allowed = principal.camera_ids
    return MePublic(
        username=principal.username,
        role=principal.user.role,
        camera_ids=None if allowed is None else sorted(allowed),
    )


@router.get("/tokens")
def list_tokens(principal: CurrentUser, session: DbSession) -> ApiTokensPublic:
    """The caller's API tokens (never the tokens themselves). Create them with
    ``citybrain user token``."""
    return ApiTokensPublic(items=TokenRepo(session).list_for(user_id=principal.user.id))


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": Problem}},
)
def revoke_token(
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    principal: CurrentUser,
    session: DbSession,
    audit: Audit,
) -> Response:
    """Revoke one of your API tokens (an admin may revoke anyone's)."""
    repo = TokenRepo(session)
    own = {t.id for t in repo.list_for(user_id=principal.user.id)}
    if token_id not in own and principal.user.role is not Role.ADMIN:
        raise not_found(f"token {token_id}")
    if not repo.revoke(token_id=token_id):
        raise not_found(f"token {token_id}")
    session.commit()
    audit(Action.TOKEN_REVOKE, principal, target=str(token_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
