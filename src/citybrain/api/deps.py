"""Dependencies of the routes, as ``Annotated`` aliases: the app's context, one database session
per request, the caller, roles, and the audit trail bound to the request."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from citybrain.netpolicy import IPNetwork
from citybrain.records import Action, CameraRecord, Role, UserAccount
from citybrain.services import Services
from citybrain.services.security import (
    API_TOKEN_PREFIX,
    LoginGuard,
    LoginTokens,
    Passwords,
    TokenError,
    hash_api_token,
    password_fingerprint,
)
from citybrain.store import CameraRepo, TokenRepo, UserRepo, describe_error

__all__ = [
    "ApiContext",
    "Audit",
    "AuditorUser",
    "CameraEditor",
    "Context",
    "CoverageReader",
    "CurrentUser",
    "DbSession",
    "EventExporter",
    "EventHandler",
    "Principal",
    "RequestAudit",
    "SiteAdmin",
    "SiteReader",
    "VideoViewer",
    "credential_check",
    "forbid_restricted",
    "get_context",
    "not_found",
    "visible_camera",
]

log = logging.getLogger(__name__)

#: Record an API token's use at most this often (a write per request would cost more).
_TOUCH_EVERY = timedelta(minutes=1)

_bearer = HTTPBearer(auto_error=False, description="A login token or an API token.")


@dataclass(frozen=True, slots=True)
class ApiContext:
    """What the routes share: the server's services and the API's own parts."""

    services: Services
    tokens: LoginTokens
    passwords: Passwords
    limiter: LoginGuard
    trusted_proxies: tuple[IPNetwork, ...] = ()
    heartbeat_s: float = 15.0
    recheck_s: float = 5.0
    clock: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    user: UserAccount
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


def get_session(context: Context) -> Iterator[Session]:
    """One unit of work per request: committed when the route returns, rolled back if it
    raises (an HTTP error included). A route may commit earlier, e.g. before it tells others."""
    with context.services.store.sessions() as session:
        yield session
        session.commit()


#: The request's database session. ``scope="function"``: it commits before the response is
#: sent, so a client that reads after a write sees it.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def client_address(request: Request) -> str | None:
    """The client's address: the peer's, or, where the peer is a trusted proxy, the address it
    says it forwarded for (``X-Forwarded-For``), never a hop it did not add itself."""
    peer = request.client.host if request.client is not None else None
    context: ApiContext = request.app.state.context
    return forwarded_client(
        peer, request.headers.getlist("x-forwarded-for"), context.trusted_proxies
    )


def forwarded_client(
    peer: str | None, forwarded: list[str], trusted: tuple[IPNetwork, ...]
) -> str | None:
    """The client behind ``peer``: walking ``X-Forwarded-For`` from the right while the hop is a
    trusted proxy, the first untrusted one (what a client writes to the left is not believed)."""

    def is_trusted(address: str | None) -> bool:
        try:
            ip = ip_address((address or "").strip())
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    client = peer
    if not trusted or not is_trusted(peer):
        return client
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    for hop in reversed(hops):
        try:
            ip_address(hop)
        except ValueError:
            return client  # a malformed hop: stop at the last proxy we believe
        client = hop
        if not is_trusted(hop):
            return client
    return client


@dataclass(frozen=True, slots=True)
class RequestAudit:
    """The audit trail, bound to the request's client address (verb: call it)."""

    context: ApiContext
    client: str | None

    def __call__(
        self,
        action: Action,
        who: Principal | str | None,
        *,
        camera_id: int | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append an entry (in its own transaction, before any video it records is served)."""
        username = who.username if isinstance(who, Principal) else who
        self.context.services.audit.record(
            action, username=username, client=self.client, camera_id=camera_id, target=target,
            detail=detail,
        )  # fmt: skip


def _request_audit(context: Context, request: Request) -> RequestAudit:
    return RequestAudit(context, client_address(request))


Audit = Annotated[RequestAudit, Depends(_request_audit)]


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"}
    )


def not_found(what: str) -> HTTPException:
    """A 404 that says what was not found (the same for hidden and missing things)."""
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


def current_user(
    context: Context,
    session: DbSession,
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
        return _api_token_user(context, session, token)
    try:
        claims = context.tokens.verify(token, now=context.clock())
    except TokenError as exc:
        raise _unauthorised(str(exc)) from None
    user = UserRepo(session).get(user_id=claims.user_id)
    if (
        user is None
        or user.disabled
        or password_fingerprint(user.password_hash) != claims.fingerprint
    ):
        raise _unauthorised("the token is no longer valid; log in again")
    return Principal(user=user)


def _api_token_user(context: ApiContext, session: Session, token: str) -> Principal:
    found = TokenRepo(session).find_active(token_hash=hash_api_token(token))
    if found is None:
        raise _unauthorised("invalid or revoked API token")
    record, user_id = found
    user = UserRepo(session).get(user_id=user_id)
    if user is None:
        raise _unauthorised("invalid or revoked API token")
    now = datetime.fromtimestamp(context.clock(), UTC)
    if record.last_used_at is None or now - record.last_used_at > _TOUCH_EVERY:
        # In a transaction of its own: the request's session must not hold a write (on SQLite,
        # the database's one write lock) while the route audits in another.
        with context.services.store.session() as own:
            TokenRepo(own).touch(token_id=record.id, at=now)
    return Principal(user=user, token_id=record.id)


CurrentUser = Annotated[Principal, Depends(current_user)]


def credential_check(context: ApiContext, request: Request) -> Callable[[], Awaitable[bool]]:
    """An async check, for a long-lived stream, that the request's credential still holds
    (the token not revoked or expired, its user not disabled or changed)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())

    def check() -> bool:
        try:
            with context.services.store.sessions() as session:
                current_user(context, session, credentials)
        except HTTPException:
            return False
        except SQLAlchemyError as exc:
            # The store is away (an outage): a token's expiry was checked without it, its
            # revocation cannot be; keep the stream and ask again at the next check, rather
            # than cut every viewer off while the database restarts.
            log.warning("stream credential not re-checked: %s", describe_error(exc))
        return True

    async def still_valid() -> bool:
        return await run_in_threadpool(check)

    return still_valid


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


def visible_camera(session: Session, principal: Principal, camera_id: int) -> CameraRecord:
    """The camera if it exists and the caller may see it.

    Raises:
        HTTPException: 404 otherwise (hidden and missing look the same).
    """
    if principal.can_see(camera_id):
        camera = CameraRepo(session).get(camera_id=camera_id)
        if camera is not None:
            return camera
    raise not_found(f"camera {camera_id}")


# --- city data (issue 12) --------------------------------------------------------------------
#: Users who may read sites and their change log (city data, no video: all but auditors).
SiteReader = Annotated[Principal, Depends(_require(*_READ_VIDEO, doing="read sites"))]
#: Users who may import and delete sites.
SiteAdmin = Annotated[Principal, Depends(_require(Role.ADMIN, doing="import or delete sites"))]
#: Users who may read coverage (planning: admins and supervisors).
CoverageReader = Annotated[
    Principal, Depends(_require(Role.ADMIN, Role.SUPERVISOR, doing="read coverage"))
]
