"""What the user-administration routes take and return (``/api/users``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from citybrain.api.schemas import MAX_ID, Password, Schema
from citybrain.records import Role, UserRecord
from citybrain.records.user import Username

__all__ = ["PasswordReset", "UserCreate", "UserPublic", "UserUpdate", "UsersPublic"]

CameraIdList = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]],
    Field(max_length=10_000, description="The cameras the user is limited to."),
]


def _some_cameras(ids: list[int] | None) -> list[int] | None:
    if ids is not None and not ids:
        raise ValueError("name at least one camera, or null for every camera")
    return ids


class UserPublic(UserRecord):
    """A user as admins see them; ``camera_ids`` is ``null`` for a user who sees every camera."""

    camera_ids: list[int] | None = Field(  # type: ignore[assignment]
        description="The cameras the user may see; null = all."
    )

    @classmethod
    def of(cls, user: UserRecord) -> UserPublic:
        allowed = user.allowed_camera_ids
        fields = user.model_dump(exclude={"camera_ids"})
        return cls.model_validate(
            fields | {"camera_ids": None if allowed is None else sorted(allowed)}
        )


class UsersPublic(Schema):
    items: list[UserPublic]


class UserCreate(Schema):
    username: Username
    password: Password = Field(description="At least 10 characters; never shown again.")
    role: Role
    camera_ids: CameraIdList | None = Field(default=None, description="null = every camera.")

    _cameras = field_validator("camera_ids")(_some_cameras)


class UserUpdate(Schema):
    """The fields to change; absent fields stay. ``camera_ids: null`` lifts a limit."""

    role: Role | None = None
    disabled: bool | None = None
    camera_ids: CameraIdList | None = None

    _cameras = field_validator("camera_ids")(_some_cameras)


class PasswordReset(Schema):
    password: Password = Field(description="The new password, at least 10 characters.")
