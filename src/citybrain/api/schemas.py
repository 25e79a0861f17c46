"""What the HTTP API takes and returns: one schema family per entity.

Input strings are constrained so that nothing the database cannot store (NUL bytes, numbers
past its integer range) reaches it: such input is a 422, never a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from citybrain.errors import SourceError
from citybrain.ingest.urls import source_kind
from citybrain.store import EventStatus, Role

__all__ = [
    "MAX_ID",
    "USERNAME_PATTERN",
    "ApiTokenPublic",
    "ApiTokensPublic",
    "AuditEntryPublic",
    "AuditPublic",
    "CameraCreate",
    "CameraHealthPublic",
    "CameraPublic",
    "CameraUpdate",
    "CamerasPublic",
    "CountPublic",
    "EventPublic",
    "EventStatPublic",
    "EventsPublic",
    "HealthPublic",
    "LineTotalPublic",
    "LiveEventPublic",
    "LoginRequest",
    "MePublic",
    "Problem",
    "ResolveRequest",
    "StatsPublic",
    "TokenPublic",
]

#: Largest id a path or query may name (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1

_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_NO_NUL = r"^[^\x00]*$"

#: What a user name may be made of (it appears in logs and the audit trail).
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]+$"
Username = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=USERNAME_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=_NO_NUL)]
CameraName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NO_CONTROL),
]


def _supported_source(source: str) -> str:
    try:
        source_kind(source)
    except SourceError as exc:
        raise ValueError(str(exc)) from None  # the message has the credentials redacted
    return source


Source = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048, pattern=_NO_CONTROL),
    AfterValidator(_supported_source),
]


def _no_nul(value: Any, where: str = "config") -> Any:
    """Refuse NUL characters anywhere in a JSON tree (PostgreSQL's jsonb cannot store them)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"{where}: text must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key, where)
            _no_nul(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_nul(item, f"{where}[{index}]")
    return value


ConfigTree = Annotated[
    dict[str, Any],
    AfterValidator(_no_nul),
    Field(
        title="Analysis config",
        description="A citybrain CameraConfig without its `camera.name` (the camera's name) and "
        "`camera.source` (the camera's source): zones, lines, rules, detector, motion, "
        "anonymise.",
        examples=[{"zones": {"site": {"polygon": [[0, 0], [1, 0], [1, 1]]}}}],
    ),
]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, title="Latitude")]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, title="Longitude")]
Heading = Annotated[
    float,
    Field(ge=0, le=360, allow_inf_nan=False, title="Heading", description="Degrees from north."),
]
FieldOfView = Annotated[
    float, Field(gt=0, le=360, allow_inf_nan=False, title="Field of view", description="Degrees.")
]
Range = Annotated[
    float, Field(gt=0, le=100_000, allow_inf_nan=False, title="Range", description="Metres.")
]


class Schema(BaseModel):
    """Base of every schema: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class Problem(Schema):
    """An error: what went wrong, in words."""

    detail: str | list[dict[str, Any]]


class HealthPublic(Schema):
    status: Literal["ok", "degraded"]
    store: bool = Field(description="The database answers.")
    workers: bool = Field(description="The camera workers are up.")


class LoginRequest(Schema):
    username: Username
    password: Password


class TokenPublic(Schema):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the token expires.")


class MePublic(Schema):
    username: str
    role: Role
    camera_ids: list[int] | None = Field(description="The cameras you may see; null = all.")


class ApiTokenPublic(Schema):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class ApiTokensPublic(Schema):
    items: list[ApiTokenPublic]


class CameraCreate(Schema):
    name: CameraName
    source: Source = Field(description="File path or rtsp/rtmp/http(s) URL; never shown again.")
    lat: Latitude | None = None
    lon: Longitude | None = None
    heading_deg: Heading | None = None
    fov_deg: FieldOfView | None = None
    range_m: Range | None = None
    enabled: bool = True
    config: ConfigTree = Field(default_factory=dict)


class CameraUpdate(Schema):
    """The fields to change; absent fields stay as they are, ``null`` clears a position."""

    name: CameraName | None = None
    source: Source | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    heading_deg: Heading | None = None
    fov_deg: FieldOfView | None = None
    range_m: Range | None = None
    enabled: bool | None = None
    config: ConfigTree | None = None


class CameraHealthPublic(Schema):
    camera_id: int
    online: bool
    fps_in: float
    fps_analysed: float
    lag_seconds: float | None
    frames_dropped: int
    reconnects: int
    last_error: str | None
    at: datetime


class CameraPublic(Schema):
    id: int
    name: str
    source: str = Field(description="With user name, password and secret parameters redacted.")
    lat: float | None
    lon: float | None
    heading_deg: float | None
    fov_deg: float | None
    range_m: float | None
    enabled: bool
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    health: CameraHealthPublic | None = None


class CamerasPublic(Schema):
    items: list[CameraPublic]
    count: int


class _EventFields(Schema):
    """What the engine says about an event (shared by the stored and the live view)."""

    id: str
    camera_id: int
    kind: str
    rule: str
    zone: str | None
    line: str | None
    label: str | None
    track_id: int | None
    started_at: datetime
    ended_at: datetime | None
    score: float
    bbox: tuple[float, float, float, float] | None
    details: dict[str, Any]


class EventPublic(_EventFields):
    status: EventStatus
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None
    snapshot_url: str | None = Field(description="The anonymised snapshot, if one was taken.")


class EventsPublic(Schema):
    items: list[EventPublic]
    total: int
    total_exact: bool = Field(description="False when counting stopped early: show 'total+'.")
    limit: int
    offset: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class LiveEventPublic(_EventFields):
    """An event as pushed on the live stream.

    ``phase`` is the engine's (start, update, end) or the operator's action (acknowledged,
    resolved). Engine updates carry ``status: null``: the engine does not know it.
    """

    phase: Literal["start", "update", "end", "acknowledged", "resolved"]
    status: EventStatus | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None
    note: str | None = None


class ResolveRequest(Schema):
    note: Annotated[str, StringConstraints(max_length=4000, pattern=_NO_NUL)] | None = None


class EventStatPublic(Schema):
    camera_id: int
    kind: str
    bucket_start: datetime
    count: int


class CountPublic(Schema):
    key: str
    count: int


class LineTotalPublic(Schema):
    camera_id: int
    rule: str
    line: str
    direction: str
    label: str
    count: int


class StatsPublic(Schema):
    since: datetime | None
    until: datetime | None
    bucket: Literal["hour", "day"]
    events: list[EventStatPublic] = Field(description="Events per camera, kind and bucket.")
    per_camera: list[CountPublic]
    per_kind: list[CountPublic]
    lines: list[LineTotalPublic] = Field(description="Line crossings in the time range.")


class AuditEntryPublic(Schema):
    id: int
    at: datetime
    username: str | None
    action: str
    camera_id: int | None
    target: str | None
    client: str | None
    detail: dict[str, Any]


class AuditPublic(Schema):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int
