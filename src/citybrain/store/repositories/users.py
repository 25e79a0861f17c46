"""Users, their roles and the cameras they may see."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.store.models import Camera, Role, User, user_cameras

__all__ = ["UserRecord", "UserRepo"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user, detached from the session.

    Attributes:
        camera_ids: the cameras a restricted user may see.
        restricted: whether the user is limited to ``camera_ids`` (possibly none left).
    """

    id: int
    username: str
    role: Role
    disabled: bool
    created_at: datetime
    camera_ids: frozenset[int]
    password_hash: str = field(repr=False)
    restricted: bool = False

    @property
    def allowed_camera_ids(self) -> frozenset[int] | None:
        """The camera filter for searches: ``None`` means every camera."""
        return self.camera_ids if self.restricted else None


class UserRepo:
    """User rows in one session (the caller commits). Passwords arrive already hashed."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create(
        self,
        *,
        username: str,
        password_hash: str,
        role: Role,
        camera_ids: Collection[int] = (),
    ) -> UserRecord:
        """Add a user, restricted to ``camera_ids`` if any are given.

        Raises:
            StoreError: the user name is taken, or a camera id does not exist.
        """
        user = User(
            username=username,
            password_hash=password_hash,
            role=Role(role).value,
            restricted=bool(camera_ids),
        )
        self._session.add(user)
        self._flush(f"a user named {username!r} already exists")
        self._set_cameras(user.id, camera_ids)
        return self._record(user)

    def get(self, *, user_id: int) -> UserRecord | None:
        """The user, or ``None``."""
        user = self._session.get(User, user_id)
        return None if user is None else self._record(user)

    def by_username(self, *, username: str) -> UserRecord | None:
        """The user called ``username``, or ``None``."""
        user = self._session.scalar(select(User).where(User.username == username))
        return None if user is None else self._record(user)

    def list(self) -> list[UserRecord]:
        """Every user, by user name."""
        users = self._session.scalars(select(User).order_by(User.username))
        return [self._record(user) for user in users]

    def update(
        self,
        *,
        user_id: int,
        role: Role | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
        camera_ids: Collection[int] | None = None,
    ) -> UserRecord | None:
        """Change the fields given (``None`` keeps a field); ``None`` if there is no such user.

        ``camera_ids`` replaces the restriction; an empty collection lifts it.
        """
        user = self._session.get(User, user_id)
        if user is None:
            return None
        if role is not None:
            user.role = Role(role).value
        if disabled is not None:
            user.disabled = disabled
        if password_hash is not None:
            user.password_hash = password_hash
        self._session.flush()
        if camera_ids is not None:
            user.restricted = bool(camera_ids)
            self._session.execute(delete(user_cameras).where(user_cameras.c.user_id == user_id))
            self._set_cameras(user_id, camera_ids)
        return self._record(user)

    def delete(self, *, user_id: int) -> bool:
        """Delete a user with their tokens; whether there was one."""
        user = self._session.get(User, user_id)
        if user is None:
            return False
        self._session.delete(user)
        self._session.flush()
        return True

    def _set_cameras(self, user_id: int, camera_ids: Collection[int]) -> None:
        wanted = set(camera_ids)
        if not wanted:
            return
        known = set(self._session.scalars(select(Camera.id).where(Camera.id.in_(wanted))))
        if missing := wanted - known:
            raise StoreError(f"unknown camera id(s) {sorted(missing)} in a user's restriction")
        rows = [{"user_id": user_id, "camera_id": camera_id} for camera_id in sorted(wanted)]
        self._session.execute(insert(user_cameras), rows)

    def _record(self, user: User) -> UserRecord:
        cameras = self._session.scalars(
            select(user_cameras.c.camera_id).where(user_cameras.c.user_id == user.id)
        )
        return UserRecord(
            id=user.id,
            username=user.username,
            role=Role(user.role),
            disabled=user.disabled,
            created_at=user.created_at,
            camera_ids=frozenset(cameras),
            password_hash=user.password_hash,
            restricted=user.restricted,
        )

    def _flush(self, conflict: str) -> None:
        try:
            self._session.flush()
        except IntegrityError as exc:
            raise StoreError(conflict) from exc
