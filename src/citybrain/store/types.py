"""Column types and SQL constructs that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["Bucket", "JSONType", "UTCDateTime", "time_bucket", "utc", "utcnow"]

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
