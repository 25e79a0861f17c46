"""``/api/users``: admins list, add, disable and limit users and reset their passwords.

Every change is written to the audit trail (never the password). The server refuses a change
that would leave no enabled admin who sees every camera, so an operations centre cannot lock
itself out; an admin limited to some cameras may not manage users (they could lift their own
limit).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import Response

from citybrain.api.deps import (
    ApiContext,
    Audit,
    Context,
    CurrentUser,
    DbSession,
    Principal,
    not_found,
)
from citybrain.api.schemas import MAX_ID, Problem
from citybrain.api.user_schemas import (
    PasswordReset,
    UserCreate,
    UserPublic,
    UsersPublic,
    UserUpdate,
)
from citybrain.errors import StoreError
from citybrain.records import Action, Role, UserRecord
from citybrain.store import UserRepo

__all__ = ["router"]

router = APIRouter(prefix="/api/users", tags=["users"])

UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id.")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem},
    422: {"model": Problem},
}  # fmt: skip


def _admin(principal: CurrentUser) -> Principal:
    if principal.user.role is not Role.ADMIN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {principal.user.role.value!r} may not manage users; needs admin",
        )
    if principal.camera_ids is not None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="your account is limited to some cameras and may not manage users",
        )
    return principal


def _unprocessable(field: str, message: str) -> HTTPException:
    error = {"loc": ["body", field], "msg": message, "type": "value_error"}
    return HTTPException(422, detail=[error])


def _hash(context: ApiContext, password: str) -> str:
    try:
        return context.passwords.hash(password)
    except ValueError as exc:
        raise _unprocessable("password", str(exc)) from None


def _full_admin(user: UserRecord) -> bool:
    return user.role is Role.ADMIN and not user.disabled and user.allowed_camera_ids is None


@router.get("", responses=_ERRORS)
def list_users(principal: CurrentUser, session: DbSession) -> UsersPublic:
    """Every user, by user name (admins)."""
    _admin(principal)
    users = UserRepo(session).list()
    return UsersPublic(items=[UserPublic.of(user) for user in users])


@router.post("", status_code=status.HTTP_201_CREATED, responses=_ERRORS)
def create_user(
    body: UserCreate, principal: CurrentUser, context: Context, session: DbSession, audit: Audit
) -> UserPublic:
    """Add a user (admins); limited to ``camera_ids`` when given."""
    _admin(principal)
    password_hash = _hash(context, body.password)
    try:
        user = UserRepo(session).create(
            username=body.username, password_hash=password_hash, role=body.role,
            camera_ids=body.camera_ids or (),
        )  # fmt: skip
    except StoreError as exc:
        code = status.HTTP_409_CONFLICT if "exists" in str(exc) else 422
        raise HTTPException(code, detail=str(exc)) from None
    session.commit()
    audit(
        Action.USER_CREATE, principal, target=user.username,
        detail={"role": user.role.value, "camera_ids": body.camera_ids},
    )  # fmt: skip
    return UserPublic.of(user)


@router.patch("/{user_id}", responses=_ERRORS)
def update_user(
    user_id: UserId, body: UserUpdate, principal: CurrentUser, session: DbSession, audit: Audit
) -> UserPublic:
    """Change a user's role, disable or enable them, or set the cameras they are limited to."""
    _admin(principal)
    given = body.model_dump(exclude_unset=True)
    for key in ("role", "disabled"):
        if key in given and given[key] is None:
            raise _unprocessable(key, "must not be null")
    if user_id == principal.user.id and given.get("disabled"):
        raise HTTPException(status.HTTP_409_CONFLICT, detail="you may not disable yourself")
    cameras = None
    if "camera_ids" in given:  # null lifts the limit: the repository takes () for that
        cameras = tuple(body.camera_ids) if body.camera_ids is not None else ()
    repo = UserRepo(session)
    try:
        user = repo.update(
            user_id=user_id, role=body.role, disabled=body.disabled, camera_ids=cameras
        )
    except StoreError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    if user is None:
        raise not_found(f"user {user_id}")
    if not any(_full_admin(u) for u in repo.list()):  # raising rolls the change back
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="at least one enabled admin who sees every camera must remain",
        )
    session.commit()
    audit(
        Action.USER_UPDATE, principal, target=user.username,
        detail=body.model_dump(mode="json", exclude_unset=True),
    )  # fmt: skip
    return UserPublic.of(user)


@router.post("/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def reset_password(
    user_id: UserId,
    body: PasswordReset,
    principal: CurrentUser,
    context: Context,
    session: DbSession,
    audit: Audit,
) -> Response:
    """Set a user's password (admins). Their login tokens made with the old one stop working."""
    _admin(principal)
    password_hash = _hash(context, body.password)
    user = UserRepo(session).update(user_id=user_id, password_hash=password_hash)
    if user is None:
        raise not_found(f"user {user_id}")
    session.commit()
    audit(Action.USER_PASSWORD, principal, target=user.username)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
