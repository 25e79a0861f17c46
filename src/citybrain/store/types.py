"""Column types and SQL constructs that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import shapely
from geoalchemy2 import Geometry, WKBElement
from shapely.geometry.base import BaseGeometry
from sqlalchemy import JSON, DateTime, Dialect, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "SRID",
    "Bucket",
    "GeometryType",
    "JSONType",
    "UTCDateTime",
    "ewkb_bytes",
    "ewkb_hex",
    "ewkb_hexes",
    "time_bucket",
    "utc",
    "utcnow",
]

#: JSON everywhere, stored as ``jsonb`` on PostgreSQL.
JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

Bucket = Literal["hour", "day"]
_Timestamp = ColumnElement[datetime] | QueryableAttribute[datetime]


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime.

    Raises:
        ValueError: ``value`` is naive; its time zone would be a guess.
    """
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: pass an aware (UTC) datetime")
    return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware UTC (the store is an edge: wall-clock time is its business)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so the value is stored as naive
    UTC text, which still sorts and compares in time order because every row uses the same zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class time_bucket(FunctionElement[datetime]):  # noqa: N801 - reads like the SQL function it is
    """The start of the UTC hour or day that a timestamp column falls in.

    Compiles to ``date_trunc`` on PostgreSQL and ``strftime`` on SQLite, so a GROUP BY on it is
    portable.

    Example:
        ``select(time_bucket("hour", Event.started_at), func.count()).group_by(...)``
    """

    type = UTCDateTime()
    # The unit is compiled into the SQL text, not bound: a cached statement for "hour" must not
    # serve "day", so statements with this element are not cached.
    inherit_cache = False
    name = "time_bucket"

    def __init__(
        self, unit: Bucket, column: ColumnElement[datetime] | QueryableAttribute[datetime]
    ) -> None:
        if unit not in ("hour", "day"):
            raise ValueError(f"unknown time bucket {unit!r}; use 'hour' or 'day'")
        self.unit: Bucket = unit
        super().__init__(column)


_SQLITE_FORMATS = {"hour": "%Y-%m-%d %H:00:00.000000", "day": "%Y-%m-%d 00:00:00.000000"}


@compiles(time_bucket, "postgresql")
def _bucket_postgresql(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    # AT TIME ZONE 'UTC' makes the bucket independent of the session's TimeZone setting.
    return f"date_trunc('{element.unit}', ({column}) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


@compiles(time_bucket, "sqlite")
def _bucket_sqlite(element: time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"strftime('{_SQLITE_FORMATS[element.unit]}', {column})"


# --- geometry (issue 12: sites and camera footprints) -------------------------------------------

#: Every geometry the store keeps is WGS 84 longitude/latitude.
SRID = 4326


class GeometryType(TypeDecorator[BaseGeometry]):
    """A Shapely geometry (WGS 84) on every backend.

    PostgreSQL stores PostGIS ``geometry(GEOMETRY, 4326)`` (GeoAlchemy2's type: reads come back
    as EWKB, writes go in as hex EWKB, both exact); spatial queries use its GiST index. SQLite
    stores WKB in a blob, and queries filter on the bounds columns beside it, then in Shapely.
    """

    impl = LargeBinary
    cache_ok = True
    # GeoAlchemy2's table events look for these on every column type; the GiST index is the
    # migration's (PostgreSQL only), not GeoAlchemy2's.
    spatial_index = False
    use_N_D_index = False  # noqa: N815 - the name GeoAlchemy2 reads

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # GeoAlchemy2 calls this with no dialect when it inspects a table; plain bytes then.
        if getattr(dialect, "name", None) == "postgresql":
            return dialect.type_descriptor(Geometry("GEOMETRY", srid=SRID, spatial_index=False))
        return LargeBinary() if dialect is None else dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: BaseGeometry | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return ewkb_hex(value)
        return shapely.to_wkb(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> BaseGeometry | None:
        if value is None:
            return None
        if isinstance(value, WKBElement):
            data = value.data
            value = bytes.fromhex(data) if isinstance(data, str) else bytes(data)
        geometry: BaseGeometry = shapely.from_wkb(bytes(value))
        return geometry


def ewkb_hex(geometry: BaseGeometry) -> str:
    """Hex EWKB with SRID 4326: what PostGIS reads exactly (a ``geometry`` literal, COPY)."""
    return ewkb_hexes([geometry])[0]


#: EWKB's flag on a geometry's type: an SRID follows the type.
_EWKB_SRID_FLAG = 0x20000000


def ewkb_hexes(geometries: Sequence[BaseGeometry]) -> list[str]:
    """:func:`ewkb_hex` of many geometries at once (GEOS's hex writer is slow; ``bytes.hex``
    of :func:`ewkb_bytes` is not)."""
    return [wkb.hex() for wkb in ewkb_bytes(geometries)]


def ewkb_bytes(geometries: Sequence[BaseGeometry]) -> list[bytes]:
    """Little-endian EWKB with SRID 4326 of many geometries at once (binary ``COPY`` takes it).

    GEOS writes plain WKB for the whole array (stamping an SRID on each geometry first would
    copy every one); the SRID goes into each header here: the type gains EWKB's SRID flag and
    the SRID follows it, as PostGIS writes it.
    """
    wkbs = shapely.to_wkb(np.asarray(geometries, dtype=object), byte_order=1)
    srid = SRID.to_bytes(4, "little")
    headers: dict[bytes, bytes] = {}  # a few kinds of geometry: each header made once
    out = []
    for wkb in wkbs.tolist():
        head = wkb[:5]
        header = headers.get(head)
        if header is None:
            kind = int.from_bytes(head[1:5], "little") | _EWKB_SRID_FLAG
            header = headers[head] = head[:1] + kind.to_bytes(4, "little") + srid
        out.append(header + wkb[5:])
    return out
