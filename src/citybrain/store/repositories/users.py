"""Users, their roles and the cameras they may see."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybrain.errors import StoreError
from citybrain.records import Role, UserAccount
from citybrain.store.schema import cameras, user_cameras, users
from citybrain.store.types import utcnow

__all__ = ["UserRepo"]


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
    ) -> UserAccount:
        """Add a user, restricted to ``camera_ids`` if any are given.

        Raises:
            StoreError: the user name is taken, or a camera id does not exist.
        """
        values = {
            "username": username, "password_hash": password_hash, "role": Role(role).value,
            "disabled": False, "restricted": bool(camera_ids), "created_at": utcnow(),
        }  # fmt: skip
        try:
            row = self._session.execute(insert(users).values(values).returning(*users.c)).one()
        except IntegrityError as exc:
            raise StoreError(f"a user named {username!r} already exists") from exc
        self._set_cameras(row.id, camera_ids)
        return self._account(row)

    def get(self, *, user_id: int) -> UserAccount | None:
        """The user, or ``None``."""
        row = self._session.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else self._account(row)

    def by_username(self, *, username: str) -> UserAccount | None:
        """The user called ``username``, or ``None``."""
        row = self._session.execute(select(users).where(users.c.username == username)).first()
        return None if row is None else self._account(row)

    def list(self) -> list[UserAccount]:
        """Every user, by user name."""
        rows = self._session.execute(select(users).order_by(users.c.username))
        return [self._account(row) for row in rows]

    def update(
        self,
        *,
        user_id: int,
        role: Role | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
        camera_ids: Collection[int] | None = None,
    ) -> UserAccount | None:
        """Change the fields given (``None`` keeps a field); ``None`` if there is no such user.

        ``camera_ids`` replaces the restriction; an empty collection lifts it.
        """
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = Role(role).value
        if disabled is not None:
            values["disabled"] = disabled
        if password_hash is not None:
            values["password_hash"] = password_hash
        if camera_ids is not None:
            values["restricted"] = bool(camera_ids)
        if not values:
            return self.get(user_id=user_id)
        stmt = update(users).where(users.c.id == user_id).values(values).returning(users.c.id)
        if self._session.execute(stmt).first() is None:
            return None
        if camera_ids is not None:
            self._session.execute(delete(user_cameras).where(user_cameras.c.user_id == user_id))
            self._set_cameras(user_id, camera_ids)
        return self.get(user_id=user_id)

    def delete(self, *, user_id: int) -> bool:
        """Delete a user with their tokens; whether there was one."""
        gone = delete(users).where(users.c.id == user_id).returning(users.c.id)
        return self._session.execute(gone).first() is not None

    def _set_cameras(self, user_id: int, camera_ids: Collection[int]) -> None:
        wanted = set(camera_ids)
        if not wanted:
            return
        known = set(self._session.scalars(select(cameras.c.id).where(cameras.c.id.in_(wanted))))
        if missing := wanted - known:
            raise StoreError(f"unknown camera id(s) {sorted(missing)} in a user's restriction")
        rows = [{"user_id": user_id, "camera_id": camera_id} for camera_id in sorted(wanted)]
        self._session.execute(insert(user_cameras), rows)

    def _account(self, row: Row[Any]) -> UserAccount:
        allowed: Sequence[int] = self._session.scalars(
            select(user_cameras.c.camera_id).where(user_cameras.c.user_id == row.id)
        ).all()
        return UserAccount.model_validate({**row._mapping, "camera_ids": frozenset(allowed)})
