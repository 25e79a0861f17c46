"""A field mapping: which fields of a city's file make a site, and the only fields kept.

A mapping is a small YAML file (or one of the presets in :mod:`citybrain.citydata.presets`)::

    source: city-facilities          # re-importing this source updates its sites by id
    kind: facility                   # the kind of every site (the command line may override it)
    id: facility_id                  # the field holding the source's own id
    name: "{house_number} {street}"  # a field, or a template of fields in braces
    geometry: {lat: latitude, lon: longitude, crs: "EPSG:4326", radius_m: 25}   # or wkt: geom
    valid_from: {field: opened, formats: ["%d/%m/%Y"], timezone: Europe/London}
    valid_to: {field: closes, formats: ["%d/%m/%Y"], timezone: Europe/London}
    attributes: {facility_type: type, operator: operator_name}   # kept name: source field
    context: [facility_type]        # attributes events near the site carry

Fields of a GeoJSON feature are its ``properties``; a dotted path reaches into an object
(``validity.from``) and ``@id`` is the feature's own ``id``. Anything the mapping does not name is
dropped at import. Fields that hold personal data (a person's first or last name, a phone number,
an e-mail address, an owner's home address) cannot be named at all.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from citybrain.citydata.geo import parse_crs
from citybrain.citydata.model import KIND_PATTERN, SOURCE_PATTERN
from citybrain.errors import ConfigError

__all__ = [
    "DateSpec",
    "GeometrySpec",
    "Mapping",
    "is_personal_field",
    "load_mapping",
    "normalise_field",
    "parse_mapping",
    "template_fields",
]

Kind = Annotated[str, StringConstraints(pattern=KIND_PATTERN)]
SourceName = Annotated[str, StringConstraints(pattern=SOURCE_PATTERN)]
FieldPath = Annotated[str, StringConstraints(min_length=1, max_length=200)]
AttributeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]

#: Field names that hold data about a person; normalised names (see :func:`normalise_field`) are
#: matched. A guard, not the rule: the rule is that only mapped fields are kept.
_PERSONAL = re.compile(
    r"(first|last|given|family|middle|maiden|full|sur|person|contact)_*name"
    r"|first_+last|phone|mobile|fax|e_*mail|birth|ssn|social_security|passport"
    r"|owner_s_house|owner_s_zip|home_address|residence"
)


#: Whole-model checks start their message with the field they are about.
_PATH_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): (.*)$", re.DOTALL)


def normalise_field(name: str) -> str:
    """Lower case, every run of other characters an underscore: ``Permittee's Phone #`` ->
    ``permittee_s_phone_``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower())


def is_personal_field(name: str) -> bool:
    """Whether a field's name says it holds personal data (a person's name, phone, e-mail...)."""
    return _PERSONAL.search(normalise_field(name)) is not None


def template_fields(template: str) -> list[str]:
    """The fields a name template refers to: ``"{house__} {street_name}"`` -> both.

    Raises:
        ValueError: a placeholder with a conversion, a format spec or an empty name.
    """
    fields = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name or spec or conversion:
            raise ValueError(f"template {template!r}: use plain {{field}} placeholders")
        fields.append(name)
    return fields


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DateSpec(Section):
    """Where a date is and how it is written."""

    field: FieldPath = Field(title="Field", description="The field holding the date.")
    formats: list[str] = Field(
        default=["iso"],
        min_length=1,
        title="Formats",
        description="strptime formats tried in order ('%m/%d/%Y'); 'iso' = ISO 8601.",
    )
    timezone: str = Field(
        default="UTC",
        title="Time zone",
        description="IANA zone of dates written without an offset.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class GeometrySpec(Section):
    """Where the geometry is: a GeoJSON feature's own, lat/lon fields or a WKT field."""

    lat: FieldPath | None = Field(default=None, title="Latitude field")
    lon: FieldPath | None = Field(default=None, title="Longitude field")
    wkt: FieldPath | None = Field(default=None, title="WKT field")
    crs: str | None = Field(
        default=None,
        title="CRS",
        description="The coordinates' CRS when the file names none ('EPSG:27700'); "
        "absent = WGS 84. For lat/lon fields: latitude is y, longitude x.",
    )
    radius_m: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        title="Radius",
        description="Metres a point or line is grown by to make the site's area.",
    )

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: str | None) -> str | None:
        if value is not None:
            parse_crs(value)
        return value

    @model_validator(mode="after")
    def _one_way(self) -> GeometrySpec:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("geometry: give both lat and lon, or neither")
        if self.lat is not None and self.wkt is not None:
            raise ValueError("geometry: give lat/lon or wkt, not both")
        return self


class Mapping(Section):
    """How the records of one source become sites."""

    source: SourceName = Field(
        title="Source", description="Name re-imports are matched by (lower case, digits, - _)."
    )
    format: Literal["csv", "geojson"] | None = Field(
        default=None, title="Format", description="absent = from the file's name or content."
    )
    encoding: str = Field(default="utf-8", title="Encoding", description="Text encoding.")
    kind: Kind | None = Field(
        default=None, title="Kind", description="Kind of every site; the import may override it."
    )
    id: FieldPath = Field(title="Id field", description="The field holding the source's id.")
    id_missing: Literal["error", "derive"] = Field(
        default="error",
        title="Missing ids",
        description="'derive': a record without an id gets one from its first coordinate and "
        "its valid_from text (for feeds that carry no ids).",
    )
    name: str | None = Field(
        default=None,
        max_length=200,
        title="Name",
        description="A field, or a template of {field} placeholders; absent = the source id.",
    )
    geometry: GeometrySpec = Field(default_factory=GeometrySpec, title="Geometry")
    valid_from: DateSpec | None = Field(default=None, title="Valid from")
    valid_to: DateSpec | None = Field(
        default=None,
        title="Valid to",
        description="A date without a time of day means: until the end of that day.",
    )
    attributes: dict[AttributeName, FieldPath] = Field(
        default_factory=dict,
        title="Attributes",
        description="Kept name: source field. A list keeps fields under their own names.",
    )
    context: list[AttributeName] | None = Field(
        default=None,
        title="Context",
        description="Attributes events near a site carry; absent = all attributes.",
    )
    aliases: dict[str, FieldPath] = Field(
        default_factory=dict,
        title="Aliases",
        description="Other names of a CSV column: header as written -> field name used here.",
    )
    missing_geometry: Literal["error", "skip"] = Field(
        default="error",
        title="Missing geometry",
        description="'skip': records without coordinates are left out (and listed); "
        "'error': they refuse the file.",
    )
    duplicates: Literal["error", "merge"] = Field(
        default="error",
        title="Duplicate ids",
        description="'merge': records sharing an id make one site spanning all their "
        "validities, with the attributes of the one that starts last.",
    )
    max_attribute_chars: int = Field(default=2000, ge=1, le=100_000, title="Longest value")

    @field_validator("attributes", mode="before")
    @classmethod
    def _list_keeps_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {str(item): item for item in value}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Mapping:
        if self.name is not None:
            template_fields(self.name)
        if self.context is not None:
            unknown = [key for key in self.context if key not in self.attributes]
            if unknown:
                raise ValueError(f"context: {unknown} are not attributes of this mapping")
        for header in self.aliases:
            if is_personal_field(header):
                raise ValueError(
                    f"aliases: {header!r} holds personal data; it cannot stand for another field"
                )
        for field, role in self.field_roles().items():
            if is_personal_field(field):
                raise ValueError(
                    f"{role}: {field!r} holds personal data and cannot be imported; map only "
                    "fields about the place (permit, contractor business, the site's address)"
                )
        return self

    def name_fields(self) -> list[str]:
        """The fields the name is made of."""
        if self.name is None:
            return []
        fields = template_fields(self.name)
        return fields or [self.name]

    def field_roles(self) -> dict[str, str]:
        """Every field of the source this mapping reads, with the role it is read for."""
        roles: dict[str, str] = {self.id: "id"}
        for name in self.name_fields():
            roles.setdefault(name, "name")
        for role in ("lat", "lon", "wkt"):
            if (path := getattr(self.geometry, role)) is not None:
                roles.setdefault(path, f"geometry.{role}")
        for role, spec in (("valid_from", self.valid_from), ("valid_to", self.valid_to)):
            if spec is not None:
                roles.setdefault(spec.field, role)
        for name, path in self.attributes.items():
            roles.setdefault(path, f"attributes.{name}")
        return roles

    def source_fields(self) -> list[str]:
        """Every field of the source this mapping reads, each once."""
        return list(self.field_roles())


def parse_mapping(text: str, *, source: str = "<mapping>") -> Mapping:
    """Validate a mapping given as YAML text.

    Raises:
        ConfigError: not YAML, or invalid; one line per problem, ``SOURCE:LINE: FIELD: what``.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(
            f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{source}:1: a mapping file is a YAML mapping (source, id, ...)")
    lines: dict[tuple[Any, ...], int] = {}
    data = _to_python(node, (), lines, yaml.SafeLoader(""))
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            if not loc and (match := _PATH_PREFIX.match(message)):
                loc, message = tuple(match.group(1).split(".")), match.group(2)
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
            field = ".".join(str(part) for part in loc) or "(top level)"
            problems.append(f"{source}:{line}: {field}: {message}")
        raise ConfigError("\n".join(problems)) from None


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file (errors name the file, the line and the field)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the mapping: {exc}") from None
    return parse_mapping(text, source=str(path))


def _to_python(
    node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], loader: Any
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            result[key] = _to_python(value_node, (*path, key), lines, loader)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node)
