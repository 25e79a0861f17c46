"""Dependencies of the routes, as ``Annotated`` aliases: the app's context, the caller, roles."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from citybrain.api.audit import client_address
from citybrain.api.media import MediaStore
from citybrain.api.security import (
    API_TOKEN_PREFIX,
    LoginLimiter,
    LoginTokens,
    Passwords,
    TokenError,
    hash_api_token,
    password_fingerprint,
)
from citybrain.server.services import Services
from citybrain.store import CameraPublic, CameraRepo, Role, TokenRepo, UserRecord, UserRepo

__all__ = [
    "ApiContext",
    "AuditorUser",
    "CameraEditor",
    "Client",
    "Context",
    "CurrentUser",
    "EventExporter",
    "EventHandler",
    "Principal",
    "VideoViewer",
    "current_user",
    "forbid_restricted",
    "get_context",
    "not_found",
    "visible_camera",
]

#: Record an API token's use at most this often (a write per request would cost more).
_TOUCH_EVERY = timedelta(minutes=1)

_bearer = HTTPBearer(auto_error=False, description="A login token or an API token.")


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes share: the server's services and the API's own parts."""

    services: Services
    media: MediaStore
    tokens: LoginTokens
    passwords: Passwords
    limiter: LoginLimiter
    heartbeat_s: float = 15.0
    clock: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    user: UserRecord
    token_id: int | None = None

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def camera_ids(self) -> frozenset[int] | None:
        """The cameras the caller may see; ``None`` means all."""
        return self.user.allowed_camera_ids

    def can_see(self, camera_id: int) -> bool:
        allowed = self.camera_ids
        return allowed is None or camera_id in allowed


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


Client = Annotated[str | None, Depends(client_address)]


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


def not_found(what: str) -> HTTPException:
    """A 404 that says what was not found (the same for hidden and missing things)."""
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


def current_user(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from a login token or an API token.

    Raises:
        HTTPException: 401 when the token is missing, invalid or expired, or its user is
            disabled or gone.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised("authentication required: send 'Authorization: Bearer <token>'")
    token = credentials.credentials
    if token.startswith(API_TOKEN_PREFIX):
        return _api_token_user(context, token)
    try:
        claims = context.tokens.verify(token, now=context.clock())
    except TokenError as exc:
        raise _unauthorised(str(exc)) from None
    with context.services.store.session() as session:
        user = UserRepo(session).get(user_id=claims.user_id)
    if (
        user is None
        or user.disabled
        or password_fingerprint(user.password_hash) != claims.fingerprint
    ):
        raise _unauthorised("the token is no longer valid; log in again")
    return Principal(user=user)


def _api_token_user(context: ApiContext, token: str) -> Principal:
    with context.services.store.session() as session:
        found = TokenRepo(session).find_active(token_hash=hash_api_token(token))
        if found is None:
            raise _unauthorised("invalid or revoked API token")
        record, user_id = found
        user = UserRepo(session).get(user_id=user_id)
        now = datetime.fromtimestamp(context.clock(), UTC)
        if record.last_used_at is None or now - record.last_used_at > _TOUCH_EVERY:
            TokenRepo(session).touch(token_id=record.id, at=now)
    if user is None:
        raise _unauthorised("invalid or revoked API token")
    return Principal(user=user, token_id=record.id)


CurrentUser = Annotated[Principal, Depends(current_user)]


def _require(*roles: Role, doing: str) -> Callable[[Principal], Principal]:
    def check(principal: CurrentUser) -> Principal:
        if principal.user.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.user.role.value!r} may not {doing}; needs {allowed}",
            )
        return principal

    return check


_READ_VIDEO = (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)

#: Users who may watch frames, live video and snapshots.
VideoViewer = Annotated[Principal, Depends(_require(*_READ_VIDEO, doing="view video"))]
#: Users who may acknowledge and resolve events.
EventHandler = Annotated[Principal, Depends(_require(*_READ_VIDEO, doing="handle events"))]
#: Users who may export events (the same as those who may view their snapshots).
EventExporter = Annotated[Principal, Depends(_require(*_READ_VIDEO, doing="export events"))]
#: Users who may add, change and delete cameras.
CameraEditor = Annotated[
    Principal, Depends(_require(Role.ADMIN, Role.SUPERVISOR, doing="change cameras"))
]
#: Users who may read the audit trail.
AuditorUser = Annotated[Principal, Depends(_require(Role.AUDITOR, doing="read the audit trail"))]


def forbid_restricted(principal: Principal, doing: str) -> None:
    """Refuse an action that touches every camera to a user limited to some.

    Raises:
        HTTPException: 403.
    """
    if principal.camera_ids is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"your account is limited to some cameras and may not {doing}",
        )


def visible_camera(context: ApiContext, principal: Principal, camera_id: int) -> CameraPublic:
    """The camera if it exists and the caller may see it.

    Raises:
        HTTPException: 404 otherwise (hidden and missing look the same).
    """
    if principal.can_see(camera_id):
        with context.services.store.session() as session:
            camera = CameraRepo(session).public(camera_id=camera_id)
        if camera is not None:
            return camera
    raise not_found(f"camera {camera_id}")
