"""What the HTTP API takes and returns: one schema family per entity.

Input strings are constrained so that nothing the database cannot store (NUL bytes, numbers
past its integer range) reaches it: such input is a 422, never a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from citybrain.errors import SourceError
from citybrain.ingest.urls import source_kind
from citybrain.records import (
    ApiTokenRecord,
    AuditEntry,
    CameraFields,
    CameraHealth,
    CameraRecord,
    CountTotal,
    EventStat,
    EventView,
    LiveEvent,
    Role,
    partial_model,
)
from citybrain.records.camera import AnalysisSource, Source
from citybrain.records.site import geojson_geometry
from citybrain.records.user import USERNAME_PATTERN, Username
from citybrain.services.sites import footprint_of
from citybrain.store import redacted_source

__all__ = [
    "MAX_ID",
    "USERNAME_PATTERN",
    "ApiTokensPublic",
    "AuditPublic",
    "CameraCreate",
    "CameraPublic",
    "CameraUpdate",
    "CamerasPublic",
    "CountPublic",
    "EventsPublic",
    "HealthPublic",
    "LoginRequest",
    "MePublic",
    "NoteRequest",
    "Password",
    "Problem",
    "StatsPublic",
    "TokenPublic",
]

# The records are the views of their entities; these names say so where routes declare them.
EventPublic = EventView
LiveEventPublic = LiveEvent
CameraHealthPublic = CameraHealth
AuditEntryPublic = AuditEntry
ApiTokenPublic = ApiTokenRecord

#: Largest id a path or query may name (PostgreSQL ``integer``).
MAX_ID = 2**31 - 1

_NO_NUL = r"^[^\x00]*$"

Password = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=_NO_NUL)]


def _supported_source(source: str) -> str:
    try:
        source_kind(source)
    except SourceError as exc:
        raise ValueError(str(exc)) from None  # the message has the credentials redacted
    return source


SupportedSource = Annotated[Source, AfterValidator(_supported_source)]
SupportedAnalysisSource = Annotated[AnalysisSource, AfterValidator(_supported_source)]


class Schema(BaseModel):
    """Base of the API's own schemas (requests, pages): unknown fields are errors."""

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


class ApiTokensPublic(Schema):
    items: list[ApiTokenPublic]


class CameraCreate(CameraFields):
    """A new camera (its sources must be of a kind citybrain reads)."""

    source: SupportedSource
    analysis_source: SupportedAnalysisSource | None = Field(
        default=None,
        description=CameraFields.model_fields["analysis_source"].description,
        repr=False,
    )


if TYPE_CHECKING:  # type checkers see the full model; the route reads only what was sent
    CameraUpdate = CameraCreate
else:
    CameraUpdate = partial_model(
        CameraCreate,
        "CameraUpdate",
        "The fields to change; absent fields stay as they are, `null` clears a position.",
    )


class CameraPublic(CameraRecord):
    """A camera as its viewers see it: the sources with credentials redacted, and its health."""

    health: CameraHealth | None = None
    footprint: dict[str, Any] | None = Field(
        default=None,
        description="The ground it sees (GeoJSON Polygon, WGS 84): the drawn footprint, else "
        "the sector of its position, heading, field of view and range; null without them.",
    )

    @classmethod
    def of(cls, camera: CameraRecord, health: CameraHealth | None) -> CameraPublic:
        """The public view of a stored camera (the one mapper for it)."""
        config = dict(camera.config)
        section = config.get("camera")
        if isinstance(section, dict) and isinstance(section.get("source"), str):
            config["camera"] = {**section, "source": redacted_source(section["source"])}
        fields = camera.model_dump() | {"source": redacted_source(camera.source), "config": config}
        if camera.analysis_source is not None:
            fields["analysis_source"] = redacted_source(camera.analysis_source)
        ground = footprint_of(camera)
        footprint = None if ground is None else geojson_geometry(ground)
        return cls.model_validate(fields | {"health": health, "footprint": footprint})


class CamerasPublic(Schema):
    items: list[CameraPublic]
    count: int


class EventsPublic(Schema):
    items: list[EventPublic]
    total: int
    total_exact: bool = Field(description="False when counting stopped early: show 'total+'.")
    limit: int
    offset: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class NoteRequest(Schema):
    """An operator's note on acknowledging or resolving an event (kept with the event)."""

    note: Annotated[str, StringConstraints(max_length=4000, pattern=_NO_NUL)] | None = None


class CountPublic(Schema):
    key: str
    count: int


class StatsPublic(Schema):
    since: datetime | None
    until: datetime | None
    bucket: Literal["hour", "day"]
    events: list[EventStat] = Field(description="Events per camera, kind and bucket.")
    per_camera: list[CountPublic]
    per_kind: list[CountPublic]
    lines: list[CountTotal] = Field(description="Line crossings in the time range.")


class AuditPublic(Schema):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int
