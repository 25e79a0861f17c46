"""Reading one record's fields through a mapping: id, validity, name, attributes, raw geometry.

Pure. A :class:`Drafter` holds what does not change between records (the name template's fields,
the attribute list) and remembers parsed dates, which repeat a great deal in city exports (a
year of permits has a few hundred distinct issuance dates), so 100,000 records parse quickly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from citybrain.citydata.errors import Problems
from citybrain.citydata.mapping import DateSpec, Mapping, template_fields
from citybrain.citydata.model import AttributeValue

__all__ = ["MISSING", "Draft", "Drafter", "Record", "format_name", "lookup", "parse_date"]

MISSING: Any = object()
_TIME_DIRECTIVES = re.compile(r"%[HIMSXcTRp]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Record:
    """One row or feature: where it is (for errors), its fields, and its own geometry if any."""

    where: str
    fields: MappingABC[str, Any]
    geometry: BaseGeometry | None = None


@dataclass(slots=True)
class Draft:
    """What one record says, checked field by field; geometry still raw (a shape in the file's
    CRS, a ``(x, y)`` pair from coordinate fields, or ``None``)."""

    where: str
    source_id: str | None
    name: str
    geometry: BaseGeometry | tuple[float, float] | None
    valid_from: datetime | None
    valid_to: datetime | None
    from_text: str
    attributes: dict[str, AttributeValue]


def lookup(fields: MappingABC[str, Any], path: str) -> Any:
    """The value at ``path``: a field name, or a dotted path into nested objects; else MISSING."""
    value = fields.get(path, MISSING)
    if value is not MISSING or "." not in path:
        return value
    value = fields
    for part in path.split("."):
        if not isinstance(value, MappingABC) or part not in value:
            return MISSING
        value = value[part]
    return value


def parse_date(value: Any, spec: DateSpec, *, end: bool = False) -> datetime | None:
    """An aware datetime from a date field; empty = open (``None``).

    A date without a time of day, as an end (``end=True``), means the end of that day.

    Raises:
        ValueError: the text matches none of the formats.
    """
    if value is None or value is MISSING or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    for fmt in spec.formats:
        try:
            if fmt == "iso":
                parsed = datetime.fromisoformat(text)
                date_only = len(text) <= 10
            else:
                parsed = datetime.strptime(text, fmt)
                date_only = _TIME_DIRECTIVES.search(fmt) is None
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(spec.timezone))
        if end and date_only:
            parsed += timedelta(days=1)
        return parsed
    raise ValueError(f"{text!r} is not a date in the format {' or '.join(spec.formats)}")


class Drafter:
    """Drafts records of one file through one mapping, adding what is wrong to ``problems``."""

    def __init__(self, mapping: Mapping, problems: Problems) -> None:
        self.mapping = mapping
        self.problems = problems
        self._name_fields = template_fields(mapping.name) if mapping.name is not None else []
        self._attributes = list(mapping.attributes.items())
        self._dates: dict[tuple[str, str, bool], datetime | ValueError | None] = {}

    def draft(self, record: Record) -> Draft:
        """What ``record`` says; problems go to ``self.problems``."""
        mapping, fields = self.mapping, record.fields
        raw_id = lookup(fields, mapping.id)
        source_id = None if raw_id is MISSING or raw_id is None else str(raw_id).strip() or None
        if source_id is None and mapping.id_missing == "error":
            self.problems.add(record.where, mapping.id, "the id is empty")
        valid_from = self._date(record, mapping.valid_from, end=False)
        valid_to = self._date(record, mapping.valid_to, end=True)
        if valid_from is not None and valid_to is not None and valid_to <= valid_from:
            assert mapping.valid_to is not None
            self.problems.add(record.where, mapping.valid_to.field, "ends before it starts")
        from_spec = mapping.valid_from
        return Draft(
            where=record.where,
            source_id=source_id,
            name=self._name(fields),
            geometry=self._raw_geometry(record),
            valid_from=valid_from,
            valid_to=valid_to,
            from_text="" if from_spec is None else str(lookup(fields, from_spec.field)),
            attributes=self._kept(record),
        )

    def _date(self, record: Record, spec: DateSpec | None, *, end: bool) -> datetime | None:
        if spec is None:
            return None
        value = lookup(record.fields, spec.field)
        key = (value if isinstance(value, str) else repr(value), spec.field, end)
        parsed = self._dates.get(key, MISSING)
        if parsed is MISSING:
            try:
                parsed = parse_date(value, spec, end=end)
            except ValueError as exc:
                parsed = exc
            self._dates[key] = parsed
        if isinstance(parsed, ValueError):
            self.problems.add(record.where, spec.field, str(parsed))
            return None
        return parsed  # type: ignore[no-any-return]

    def _name(self, fields: MappingABC[str, Any]) -> str:
        template = self.mapping.name
        if template is None:
            return ""
        if not self._name_fields:
            return _text(lookup(fields, template))
        return format_name(
            template, {name: _text(lookup(fields, name)) for name in self._name_fields}
        )

    def _kept(self, record: Record) -> dict[str, AttributeValue]:
        limit = self.mapping.max_attribute_chars
        kept: dict[str, AttributeValue] = {}
        for name, path in self._attributes:
            value = lookup(record.fields, path)
            if type(value) is not str:
                value = _scalar(value)
            if isinstance(value, str) and len(value) > limit:
                self.problems.add(record.where, path, f"longer than {limit} chars")
                continue
            kept[name] = value
        return kept

    def _raw_geometry(self, record: Record) -> BaseGeometry | tuple[float, float] | None:
        spec = self.mapping.geometry
        if spec.lat is not None and spec.lon is not None:
            lat, lon = lookup(record.fields, spec.lat), lookup(record.fields, spec.lon)
            if _blank(lat) and _blank(lon):
                return None
            x, y = self._number(record, spec.lon, lon), self._number(record, spec.lat, lat)
            return shapely.Point() if x is None or y is None else (x, y)
        if spec.wkt is not None:
            text = lookup(record.fields, spec.wkt)
            if _blank(text):
                return None
            try:
                return shapely.from_wkt(str(text))
            except GEOSException as exc:
                self.problems.add(record.where, spec.wkt, f"not valid WKT: {exc}")
                return shapely.Point()
        return record.geometry

    def _number(self, record: Record, field: str, value: Any) -> float | None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.problems.add(record.where, field, f"{value!r} is not a number")
            return None
        if not math.isfinite(number):
            self.problems.add(record.where, field, f"{value!r} is not a finite number")
            return None
        return number


def format_name(template: str, values: dict[str, str]) -> str:
    """A name from its template and the fields' stripped values; runs of spaces become one and
    the separators of fields left empty are dropped from the ends."""
    return _SPACES.sub(" ", template.format_map(values)).strip(" ,;-")


def _text(value: Any) -> str:
    return "" if value is MISSING or value is None else str(value).strip()


def _blank(value: Any) -> bool:
    return value is MISSING or value is None or (isinstance(value, str) and not value.strip())


def _scalar(value: Any) -> AttributeValue:
    """A kept value: JSON scalars as they came, objects and lists as compact JSON text."""
    if value is MISSING:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
