"""``/api/session``: the console's sign-in, kept in an ``HttpOnly``, ``SameSite=Strict`` cookie.

The console never holds the token in script-readable storage: ``POST /api/session`` checks
the password exactly as ``POST /api/auth/login`` does (same lock-out, same audit entry) and
puts the signed login token in a cookie that scripts cannot read and other sites cannot send.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import Response

from citybrain.api.deps import Audit, Context, CurrentUser, DbSession
from citybrain.api.routes.auth import login
from citybrain.api.schemas import LoginRequest, MePublic, Problem
from citybrain.api.web_security import COOKIE_NAME
from citybrain.records import Action
from citybrain.store import UserRepo

__all__ = ["router"]

router = APIRouter(prefix="/api/session", tags=["auth"])


@router.post(
    "",
    responses={401: {"model": Problem}, 429: {"model": Problem, "description": "Too many tries."}},
)
def sign_in(
    body: LoginRequest,
    request: Request,
    response: Response,
    context: Context,
    session: DbSession,
    audit: Audit,
) -> MePublic:
    """Sign in for the browser console: sets the session cookie and returns who you are."""
    token = login(body, context, session, audit)
    user = UserRepo(session).by_username(username=body.username)
    assert user is not None  # login succeeded for this name
    response.set_cookie(
        COOKIE_NAME, token.access_token, max_age=token.expires_in, path="/",
        secure=request.url.scheme == "https", httponly=True, samesite="strict",
    )  # fmt: skip
    allowed = user.allowed_camera_ids
    return MePublic(
        username=user.username, role=user.role,
        camera_ids=None if allowed is None else sorted(allowed),
    )  # fmt: skip


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(principal: CurrentUser, audit: Audit) -> Response:
    """Sign out of the console: the browser forgets the session cookie."""
    audit(Action.LOGOUT, principal)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
