"""Users of the operations centre, their roles and camera limits, and their API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from citybrain.records.base import Record

__all__ = ["USERNAME_PATTERN", "ApiTokenRecord", "Role", "UserAccount", "UserRecord", "Username"]

#: What a user name may be made of (it appears in logs and the audit trail).
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"
Username = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=USERNAME_PATTERN)]


class Role(StrEnum):
    """What a user may do (the API decides what each role allows)."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    AUDITOR = "auditor"


class UserRecord(Record):
    """A user as those who manage users may see them (never the password hash).

    Attributes:
        restricted: limited to ``camera_ids`` (possibly none left). A flag of its own, so that
            deleting a user's last camera leaves them seeing nothing rather than everything.
        camera_ids: the cameras a restricted user may see.
    """

    id: int
    username: Username
    role: Role
    disabled: bool = False
    restricted: bool = False
    created_at: datetime
    camera_ids: frozenset[int] = frozenset()

    @property
    def allowed_camera_ids(self) -> frozenset[int] | None:
        """The camera filter for searches: ``None`` means every camera."""
        return self.camera_ids if self.restricted else None

    @property
    def full_admin(self) -> bool:
        """An enabled admin who sees every camera: one must always remain (who else would
        manage the others?)."""
        return self.role is Role.ADMIN and not self.disabled and not self.restricted


class UserAccount(UserRecord):
    """A stored user with the password hash that only the login and token checks read."""

    password_hash: str = Field(repr=False, exclude=True)


class ApiTokenRecord(Record):
    """An API token's metadata (never the token, nor its hash)."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked: bool = False
