"""The camera configuration tree: one Pydantic model per section, every field titled and described.

A camera's YAML file (or the ``config`` of a camera in the store) validates into
:class:`CameraConfig`. Coordinates of zones and lines are normalised to ``0..1`` of the image, so a
config survives a change of stream resolution.
"""

from __future__ import annotations

from datetime import time
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from citybrain.core.decoding import HwaccelSetting
from citybrain.core.detections import expand_labels

__all__ = [
    "RULE_KINDS",
    "AnonymiseSection",
    "CameraConfig",
    "CameraSection",
    "DetectorSection",
    "DwellRuleConfig",
    "HardhatRuleConfig",
    "LineConfig",
    "LineCrossingRuleConfig",
    "MotionSection",
    "OccupancyRuleConfig",
    "RestrictedZoneRuleConfig",
    "RuleConfig",
    "RuleConfigBase",
    "ScheduleWindow",
    "ZoneConfig",
    "rule_kind",
]

Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Anchor = Literal["bottom_center", "center"]
#: Names of zones, lines and rules: they appear in paths, URLs and file names.
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_labels(labels: list[str]) -> list[str]:
    """COCO names (person, car, truck) or group names (vehicle), kept as written: events
    report a group's name as their label."""
    expand_labels(labels)  # raises ValueError naming the unknown labels and the groups
    return labels


Labels = Annotated[list[str], AfterValidator(_check_labels)]


class CameraSection(Section):
    name: str = Field(
        title="Camera name", description="Unique name of the camera.", min_length=1, max_length=100
    )
    fps: float = Field(
        default=5.0,
        gt=0,
        le=60,
        title="Analysis rate",
        description="Frames per second analysed, sampled by frame timestamps.",
    )
    source: str | None = Field(
        default=None,
        title="Source",
        description="File path or rtsp/http URL; the command line's SOURCE overrides it.",
    )
    analysis_width: int | None = Field(
        default=None,
        ge=160,
        le=7680,
        title="Analysis width",
        description=(
            "Frames wider than this many pixels are scaled down to it (their shape kept) as "
            "they are converted, so a camera with a single high-resolution stream is analysed, "
            "snapshotted and shown at this width; none: as decoded."
        ),
    )
    hwaccel: HwaccelSetting = Field(
        default="auto",
        title="Hardware decoding",
        description=(
            "auto: decode on a GPU where this machine has one that FFmpeg can use (NVIDIA NVDEC "
            "as cuda, VA-API as vaapi), in software otherwise; none: always in software; or a "
            "device type to use (cuda, vaapi, vulkan). A device that cannot be used is logged "
            "and the camera is decoded in software."
        ),
    )


class DetectorSection(Section):
    family: Literal["yolox", "yolov8", "picodet"] = Field(
        default="yolox", title="Model family", description="Decoder for the model's outputs."
    )
    model: str = Field(
        default="yolox_nano",
        title="Model",
        description="A known model name (looked up in CITYBRAIN_MODEL_DIR) or an .onnx path.",
    )
    input_size: int = Field(
        default=416,
        ge=128,
        le=1280,
        multiple_of=32,
        title="Input size",
        description="Square model input in pixels, a multiple of 32 (the models' largest stride).",
    )
    confidence: float = Field(
        default=0.3, ge=0.01, le=1.0, title="Confidence", description="Minimum detection score."
    )
    nms_iou: float = Field(
        default=0.45, gt=0, le=1, title="NMS IoU", description="IoU above which boxes are merged."
    )


class MotionSection(Section):
    enabled: bool = Field(
        default=True,
        title="Motion gate",
        description="Run the detector only when something moves (or objects are tracked).",
    )
    refresh_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        title="Refresh interval",
        description="While objects are tracked, run the detector at least this often (with "
        "regions on, over the area of the tracked objects), so that still ones stay tracked.",
    )
    min_interval_seconds: float = Field(
        default=0.4,
        ge=0,
        le=10,
        title="Minimum detector interval",
        description="While things move, run the detector at most this often (seconds of "
        "stream time); 0 = on every analysed frame that moves.",
    )
    regions: bool = Field(
        default=True,
        title="Detect in motion regions",
        description="Between whole-frame looks, run the detector only on the crop around "
        "motion that tracked objects do not explain (at the whole frame's scale, so objects "
        "look the same to it); needs a detector with free input sizes, such as YOLOX.",
    )
    threshold: int = Field(
        default=25,
        ge=1,
        le=254,
        title="Pixel threshold",
        description="Grey-level difference that counts as change (above 254 nothing could).",
    )
    min_area: float = Field(
        default=0.002,
        ge=0,
        lt=1,
        title="Minimum area",
        description="Smallest moving region, as a share of the frame.",
    )


class AnonymiseSection(Section):
    enabled: bool = Field(
        default=True,
        title="Anonymise",
        description="Blur faces, licence plates and heads in every frame that leaves the engine. "
        "Turning it off logs a warning.",
    )
    face_threshold: float = Field(
        default=0.25,
        gt=0,
        lt=1,
        title="Face threshold",
        description="CenterFace score above which a face is blurred.",
    )
    face_search: Literal["crops", "frame"] = Field(
        default="crops",
        title="Face search",
        description="Where faces are looked for: `crops` around detected people and vehicles "
        "(with a coarse look at the whole frame; the whole frame when nobody was detected), "
        "or always the whole `frame`.",
    )


class ZoneConfig(Section):
    polygon: list[Point] = Field(
        min_length=3, title="Polygon", description="Corners as [x, y], normalised 0..1."
    )
    anchor: Anchor = Field(
        default="bottom_center",
        title="Anchor",
        description="The point of a box that must lie inside: feet (bottom_center) or centre.",
    )


class LineConfig(Section):
    points: tuple[Point, Point] = Field(
        title="Points", description="Two end points [x, y], normalised 0..1."
    )
    anchor: Anchor = Field(
        default="bottom_center", title="Anchor", description="The point of a box that crosses."
    )

    @field_validator("points")
    @classmethod
    def _distinct(cls, points: tuple[Point, Point]) -> tuple[Point, Point]:
        if points[0] == points[1]:
            raise ValueError("the two points of a line must differ")
        return points


class ScheduleWindow(Section):
    days: list[Weekday] = Field(
        default=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        title="Days",
        description="Weekdays this window applies to.",
    )
    start: time = Field(default=time(0, 0), title="Start", description="Local time, HH:MM.")
    end: time = Field(
        default=time(23, 59, 59),
        title="End",
        description="Local time, HH:MM; before start = overnight.",
    )


class RuleConfigBase(Section):
    end_after: float = Field(
        default=2.0,
        ge=0,
        le=600,
        title="End after",
        description="Seconds a condition must be absent before its event ends.",
    )
    schedule: list[ScheduleWindow] | None = Field(
        default=None,
        title="Schedule",
        description="Weekly windows when the rule is active; absent = always.",
    )
    timezone: str = Field(
        default="UTC", title="Time zone", description="IANA zone the schedule is written in."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)  # the system's (or tzdata's) zone files: local, no network
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {timezone!r}; use an IANA name such as "
                             "Europe/Berlin") from None  # fmt: skip
        return timezone


class RestrictedZoneRuleConfig(RuleConfigBase):
    kind: Literal["restricted_zone"] = Field(title="Kind", description="Objects inside a zone.")
    zone: str = Field(title="Zone", description="Name of the zone watched.")
    labels: Labels = Field(
        default=["person"], min_length=1, title="Labels", description="Object classes not allowed."
    )
    seconds: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        title="Seconds",
        description="How long an object must be inside before the event starts.",
    )


class HardhatRuleConfig(RuleConfigBase):
    kind: Literal["hardhat_required"] = Field(title="Kind", description="People without hard hats.")
    zone: str = Field(title="Zone", description="Name of the zone where hard hats are required.")
    seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        title="Seconds",
        description="How long a head must show no hard hat before the event starts.",
    )
    threshold: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        title="Threshold",
        description="Hard-hat probability below which a head counts as bare; "
        "absent = the threshold chosen for the classifier on its validation split.",
    )


class DwellRuleConfig(RuleConfigBase):
    kind: Literal["dwell"] = Field(title="Kind", description="Objects staying too long in a zone.")
    zone: str = Field(title="Zone", description="Name of the zone watched.")
    labels: Labels = Field(min_length=1, title="Labels", description="Object classes watched.")
    seconds: float = Field(gt=0, le=86400, title="Seconds", description="Longest allowed stay.")


class OccupancyRuleConfig(RuleConfigBase):
    kind: Literal["occupancy"] = Field(title="Kind", description="Too many objects in a zone.")
    zone: str = Field(title="Zone", description="Name of the zone watched.")
    labels: Labels = Field(
        default=["person"], min_length=1, title="Labels", description="Object classes counted."
    )
    max: int = Field(ge=0, le=10000, title="Maximum", description="Most objects allowed at once.")
    seconds: float = Field(
        default=0.0,
        ge=0,
        le=3600,
        title="Seconds",
        description="How long the count must stay above max before the event starts.",
    )


class LineCrossingRuleConfig(RuleConfigBase):
    kind: Literal["line_crossing"] = Field(
        title="Kind", description="Tracked objects crossing a line."
    )
    line: str = Field(title="Line", description="Name of the line watched.")
    labels: Labels = Field(
        default=["person", "vehicle"],
        min_length=1,
        title="Labels",
        description="Object classes counted (COCO names, or vehicle: every road vehicle).",
    )
    interval: float = Field(
        default=60.0, gt=0, le=86400, title="Interval", description="Seconds per count bucket."
    )
    events: bool = Field(
        default=False, title="Events", description="Also emit one event per crossing."
    )
    directions: list[Literal["in", "out"]] = Field(
        default=["in", "out"],
        min_length=1,
        title="Directions",
        description="'in' is crossing from the left of the line (looking from its first point to "
        "its second) to the right.",
    )


#: A rule of any kind, told apart by its ``kind``. A new kind is a class above, added here: its
#: ``kind`` literal is the one declaration of the kind's name (see :func:`rule_kind`).
RuleConfig = Annotated[
    RestrictedZoneRuleConfig
    | HardhatRuleConfig
    | DwellRuleConfig
    | OccupancyRuleConfig
    | LineCrossingRuleConfig,
    Field(discriminator="kind"),
]


def rule_kind(config_type: type[RuleConfigBase]) -> str:
    """The ``kind`` a rule config class declares (the value of its ``kind`` literal)."""
    (kind,) = get_args(config_type.model_fields["kind"].annotation)
    return str(kind)


#: Each rule kind's config class, in the order of :data:`RuleConfig`.
RULE_KINDS: dict[str, type[RuleConfigBase]] = {
    rule_kind(config_type): config_type for config_type in get_args(get_args(RuleConfig)[0])
}


class CameraConfig(Section):
    """Everything the engine needs to analyse one camera."""

    camera: CameraSection = Field(title="Camera", description="The camera's identity and rate.")
    detector: DetectorSection = Field(
        default_factory=DetectorSection, title="Detector", description="Object detector."
    )
    motion: MotionSection = Field(
        default_factory=MotionSection, title="Motion", description="Motion gate."
    )
    anonymise: AnonymiseSection = Field(
        default_factory=AnonymiseSection, title="Anonymise", description="Privacy filter."
    )
    zones: dict[Name, ZoneConfig] = Field(
        default_factory=dict, title="Zones", description="Named polygons."
    )
    lines: dict[Name, LineConfig] = Field(
        default_factory=dict, title="Lines", description="Named lines for counting."
    )
    rules: dict[Name, RuleConfig] = Field(
        default_factory=dict, title="Rules", description="Named rules over zones and lines."
    )

    @model_validator(mode="after")
    def _references_exist(self) -> CameraConfig:
        for name, rule in self.rules.items():
            for field, defined in (("zone", self.zones), ("line", self.lines)):
                reference = getattr(rule, field, None)  # the kinds that watch a zone or a line
                if reference is not None and reference not in defined:
                    raise ValueError(
                        f"rules.{name}.{field}: unknown {field} {reference!r} "
                        f"(defined: {sorted(defined) or 'none'})"
                    )
        return self
