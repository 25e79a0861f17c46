"""CSV records drafted a column at a time: the fast path for a file with nothing wrong in it.

Pure. In a CSV file every field a mapping names is a column of strings, so a whole column can be
read at once: ids stripped, each distinct date parsed once, coordinates converted in one loop,
attributes zipped into dicts. :func:`draft_columns` returns the very drafts the row-by-row
:class:`~citybrain.citydata.drafting.Drafter` makes, at half its cost for 100,000 permits. At the
first value that is wrong it gives up (``None``): the caller then drafts the file row by row,
which names every problem with its line and field exactly as it always has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from citybrain.citydata.drafting import Draft, Record, format_name, parse_date
from citybrain.citydata.mapping import DateSpec, Mapping, template_fields
from citybrain.citydata.model import AttributeValue

__all__ = ["Columns", "draft_columns"]

RawGeometry: TypeAlias = BaseGeometry | tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class Columns:
    """The rows of a CSV file as columns: where each row is (``line 4``) and, for each field
    the mapping names, its values in row order."""

    where: list[str]
    fields: dict[str, list[str]]

    def records(self) -> list[Record]:
        """The same rows as one record each (for the row-by-row drafter)."""
        names = list(self.fields)
        rows = zip(*self.fields.values(), strict=True) if names else ([()] * len(self.where))
        return [
            Record(where, dict(zip(names, values, strict=True)))
            for where, values in zip(self.where, rows, strict=True)
        ]


class _WrongValueError(Exception):
    """Something is wrong in a column: the row-by-row drafter will say what and where."""


def draft_columns(columns: Columns, mapping: Mapping) -> list[Draft] | None:
    """The drafts of every row, or ``None`` when some value is wrong (see the module's note)."""
    try:
        return _drafts(columns, mapping)
    except _WrongValueError:
        return None


def _drafts(columns: Columns, mapping: Mapping) -> list[Draft]:
    fields, n = columns.fields, len(columns.where)
    ids: list[str | None] = [value.strip() or None for value in fields[mapping.id]]
    if mapping.id_missing == "error" and None in ids:
        raise _WrongValueError
    starts = _dates(fields, mapping.valid_from, end=False, n=n)
    ends = _dates(fields, mapping.valid_to, end=True, n=n)
    if any(s is not None and e is not None and e <= s for s, e in zip(starts, ends, strict=True)):
        raise _WrongValueError
    from_texts = [""] * n if mapping.valid_from is None else fields[mapping.valid_from.field]
    return [
        Draft(where, source_id, name, geometry, start, end, from_text, kept)
        for where, source_id, name, geometry, start, end, from_text, kept in zip(
            columns.where, ids, _names(fields, mapping, n), _geometries(fields, mapping, n),
            starts, ends, from_texts, _attributes(fields, mapping, n), strict=True,
        )
    ]  # fmt: skip


def _dates(
    fields: dict[str, list[str]], spec: DateSpec | None, *, end: bool, n: int
) -> list[datetime | None]:
    if spec is None:
        return [None] * n
    column = fields[spec.field]
    parsed: dict[str, datetime | None] = {}
    for value in set(column):  # a year of permits has a few hundred distinct dates
        try:
            parsed[value] = parse_date(value, spec, end=end)
        except ValueError:
            raise _WrongValueError from None
    return [parsed[value] for value in column]


def _names(fields: dict[str, list[str]], mapping: Mapping, n: int) -> list[str]:
    template = mapping.name
    if template is None:
        return [""] * n
    names = template_fields(template)
    if not names:
        return [value.strip() for value in fields[template]]
    values = [[value.strip() for value in fields[name]] for name in names]
    return [
        format_name(template, dict(zip(names, row, strict=True)))
        for row in zip(*values, strict=True)
    ]


def _attributes(
    fields: dict[str, list[str]], mapping: Mapping, n: int
) -> list[dict[str, AttributeValue]]:
    names = list(mapping.attributes)
    if not names:
        return [{} for _ in range(n)]
    values = [fields[path] for path in mapping.attributes.values()]
    limit = mapping.max_attribute_chars
    if any(max(map(len, column), default=0) > limit for column in values):
        raise _WrongValueError
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _geometries(fields: dict[str, list[str]], mapping: Mapping, n: int) -> Sequence[RawGeometry]:
    spec = mapping.geometry
    if spec.lat is not None and spec.lon is not None:
        return _pairs(fields[spec.lon], fields[spec.lat])
    if spec.wkt is not None:
        return _shapes(fields[spec.wkt])
    return [None] * n


def _pairs(lons: list[str], lats: list[str]) -> list[RawGeometry]:
    out: list[RawGeometry] = []
    isfinite = math.isfinite
    try:
        for lon, lat in zip(lons, lats, strict=True):
            if not lat.strip() and not lon.strip():
                out.append(None)  # not geocoded: the mapping says whether to skip it
                continue
            x, y = float(lon), float(lat)
            if not (isfinite(x) and isfinite(y)):
                raise _WrongValueError
            out.append((x, y))
    except ValueError:
        raise _WrongValueError from None
    return out


def _shapes(texts: list[str]) -> list[RawGeometry]:
    out: list[RawGeometry] = [None] * len(texts)
    given = [i for i, text in enumerate(texts) if text.strip()]
    if given:
        try:
            shapes = shapely.from_wkt(np.asarray([texts[i] for i in given], dtype=object))
        except GEOSException:
            raise _WrongValueError from None
        for i, shape in zip(given, shapes, strict=True):
            out[i] = shape
    return out
