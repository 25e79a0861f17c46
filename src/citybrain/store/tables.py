"""Tables derived from records: each column's name, type and nullability come from the record.

A record field becomes a column of the type its annotation implies (``str`` text, ``int``,
``float``, ``bool``, aware ``datetime``, enumerations as checked strings, anything else as
JSON), nullable when the field may be ``None``. What a type alone cannot say (a length, a key,
a unique or foreign-key constraint) is given per field with :func:`column`. So a new record
field needs no change here: only its migration.

Example:
    >>> events = table_of(metadata, "events", EventRecord, id=column(String(32), primary_key=True))
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.sql.schema import SchemaItem
from sqlalchemy.types import TypeEngine

from citybrain.store.types import JSONType, UTCDateTime

__all__ = ["ColumnSpec", "column", "table_of"]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """How one field is stored where its type alone does not say (see :func:`column`)."""

    type: TypeEngine[Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def column(type_: TypeEngine[Any] | None = None, *args: Any, **kwargs: Any) -> ColumnSpec:
    """A field's storage: an explicit type (``None``: from the annotation), constraints such
    as ``ForeignKey(...)``, and ``Column`` keywords such as ``primary_key`` or ``unique``."""
    return ColumnSpec(type_, args, kwargs)


def table_of(
    metadata: MetaData,
    name: str,
    record: type[BaseModel],
    /,
    *extras: SchemaItem,
    exclude: tuple[str, ...] = (),
    **columns: ColumnSpec,
) -> Table:
    """The table of ``record``: one column per field (but ``exclude``), then ``extras``.

    Raises:
        TypeError: a field's annotation maps to no column type, or ``columns`` names a field
            the record does not have.
    """
    fields = {n: f for n, f in record.model_fields.items() if n not in exclude}
    unknown = set(columns) - set(fields)
    if unknown:
        raise TypeError(f"table {name}: {sorted(unknown)} are not fields of {record.__name__}")
    made: list[SchemaItem] = []
    for field_name, info in fields.items():
        spec = columns.get(field_name, ColumnSpec())
        base, nullable = _unwrap(info.annotation)
        made.append(
            Column(
                field_name,
                spec.type if spec.type is not None else _sql_type(base, name, field_name),
                *spec.args,
                nullable=nullable and not spec.kwargs.get("primary_key", False),
                **spec.kwargs,
            )
        )
        if isinstance(base, type) and issubclass(base, Enum):
            allowed = ", ".join(f"'{member.value}'" for member in base)
            made.append(CheckConstraint(f"{field_name} IN ({allowed})", name=field_name))
    return Table(name, metadata, *made, *extras)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``None`` and ``Annotated`` metadata, and whether ``None`` was
    allowed."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])[0], len(members) < len(get_args(annotation))
    return annotation, False


def _sql_type(base: Any, table: str, field_name: str) -> TypeEngine[Any]:
    if isinstance(base, type):
        if issubclass(base, Enum):
            return String(max(len(str(m.value)) for m in base))
        if issubclass(base, bool):  # before int: bool is an int
            return Boolean()
        if issubclass(base, int):
            return Integer()
        if issubclass(base, float):
            return Float()
        if issubclass(base, str):
            return Text()
        if issubclass(base, datetime):
            return UTCDateTime()
        if issubclass(base, BaseModel):  # a nested record (a GeoJSON polygon, say): JSON
            return JSONType
    if get_origin(base) in (dict, list, tuple, frozenset) or base in (dict, list, tuple):
        return JSONType
    raise TypeError(f"table {table}: field {field_name!r} of type {base!r} has no column type")
