"""A camera: where it is, what it sees, how it is read, and how it is doing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from citybrain.records.base import Record

__all__ = [
    "NO_CONTROL",
    "AnalysisSource",
    "CalibrationPair",
    "CameraFields",
    "CameraHealth",
    "CameraName",
    "CameraRecord",
    "ConfigTree",
    "GroundPolygon",
    "Source",
]

#: No control characters (C0, DEL, C1): names and sources appear in logs, paths and the audit
#: trail, where a terminal would act on them.
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"

CameraName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_CONTROL),
    Field(title="Name", description="Unique name of the camera."),
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
Source = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048, pattern=NO_CONTROL),
    # repr=False: a record in a log line or traceback must not show the credentials.
    Field(
        title="Source",
        description="File path or rtsp/rtmp/http(s) URL; never shown again.",
        repr=False,
    ),
]
AnalysisSource = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048, pattern=NO_CONTROL),
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


# --- city data (issue 12): a drawn footprint and an image-to-ground calibration ---------------

ImagePoint = tuple[
    Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)],
    Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)],
]
GroundPoint = tuple[Longitude, Latitude]


class GroundPolygon(Record):
    """A polygon on the ground: GeoJSON, WGS 84, one outer ring (``[[lon, lat], ...]``, closed)."""

    type: Literal["Polygon"] = "Polygon"
    coordinates: Annotated[
        list[Annotated[list[GroundPoint], Field(min_length=4, max_length=1000)]],
        Field(min_length=1, max_length=1, description="One ring: holes are not taken."),
    ]


class CalibrationPair(Record):
    """An image point (normalised ``0..1``, origin top left) and the ground point it shows."""

    image: ImagePoint
    ground: GroundPoint


DrawnFootprint = Annotated[
    GroundPolygon | None,
    Field(
        title="Drawn footprint",
        description="The ground the camera sees, drawn by an admin (GeoJSON Polygon); "
        "absent = the sector from its position, heading, field of view and range.",
    ),
]
Calibration = Annotated[
    Annotated[list[CalibrationPair], Field(min_length=4, max_length=64)] | None,
    Field(
        title="Calibration",
        description="Four or more image-to-ground point pairs (a homography), so that sites "
        "can be drawn into the camera's image.",
    ),
]


class CameraFields(Record):
    """What an admin says about a camera: the one declaration of its settable fields.

    ``source`` and ``analysis_source`` are secrets (stream URLs carry credentials): views shown to
    people redact them.
    ``config`` is the camera's analysis config, as validated JSON.
    """

    name: CameraName
    source: Source
    lat: Latitude | None = None
    lon: Longitude | None = None
    heading_deg: Heading | None = None
    fov_deg: FieldOfView | None = None
    range_m: Range | None = None
    enabled: bool = True
    config: ConfigTree = Field(default_factory=dict)
    drawn_footprint: DrawnFootprint = None
    calibration: Calibration = None
    # The field, not the type, carries repr=False: inside ``X | None`` a type's Field is lost.
    analysis_source: AnalysisSource | None = Field(
        default=None,
        title="Analysis source",
        description="A second stream of the same camera for the engine to analyse, usually a "
        "low-resolution substream (decoding it costs a fraction of the main stream); absent = "
        "`source` is analysed. Live views then show the analysed stream. Never shown again.",
        repr=False,
    )


class CameraRecord(CameraFields):
    """A stored camera."""

    id: int
    created_at: datetime
    updated_at: datetime


class CameraHealth(Record):
    """How one camera is doing, measured by its worker about once a second.

    Attributes:
        camera_id: the camera's id.
        online: frames are arriving.
        fps_in: decode rate.
        fps_analysed: analysed frames per second.
        lag_seconds: wall-clock seconds since the last analysed frame.
        frames_dropped: frames dropped so far (queue full or detector busy).
        reconnects: reconnections so far.
        last_error: latest error (credentials redacted), if any.
        at: when the health was measured.
        decoder: what decodes the camera's stream: ``software`` or a device (``cuda``).
    """

    camera_id: int
    online: bool
    fps_in: float
    fps_analysed: float
    lag_seconds: float | None
    frames_dropped: int
    reconnects: int
    last_error: str | None
    at: datetime
    decoder: str = "software"
