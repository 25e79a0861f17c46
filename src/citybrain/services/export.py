"""Event exports: reading the matching events page by page and encoding them as CSV or JSONL.

CSV files are opened in spreadsheets, which run a cell that starts with ``=`` (or ``+``, ``-``,
``@``, tab, carriage return) as a formula: such text cells get a leading ``'``. JSONL is for
programs and keeps every value as stored.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from citybrain.records import EventRecord, EventView
from citybrain.store import MAX_PAGE, EventQuery, EventRepo, Store

__all__ = [
    "COLUMNS",
    "DEFAULT_EXPORT_LIMIT",
    "MAX_EXPORT_LIMIT",
    "ExportFormat",
    "encode_rows",
    "event_pages",
    "export_filename",
    "export_row",
    "neutralise",
]

#: The columns of an export, in order: the event as the API shows it, with its camera's name.
COLUMNS = (
    "id",
    "camera",
    *(f for f in EventView.model_json_schema(mode="serialization")["properties"] if f != "id"),
)
DEFAULT_EXPORT_LIMIT = 10_000
MAX_EXPORT_LIMIT = 100_000

#: What makes a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    """The file formats of an export."""

    CSV = "csv"
    JSONL = "jsonl"

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self is ExportFormat.CSV else "application/x-ndjson"


def neutralise(value: str) -> str:
    """``value`` made inert in a spreadsheet: a leading ``'`` when it would start a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def export_filename(export_format: ExportFormat, at: datetime) -> str:
    """The attachment's name, e.g. ``citybrain-events-20260302T101500Z.csv`` (``at`` in UTC)."""
    return f"citybrain-events-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.{export_format.value}"


def export_row(event: EventRecord, camera: str) -> dict[str, Any]:
    """One row of an export: the event as the API shows it, keyed by :data:`COLUMNS`."""
    view = EventView.model_validate(event.model_dump()).model_dump(mode="json")
    return {column: camera if column == "camera" else view[column] for column in COLUMNS}


def event_pages(store: Store, query: EventQuery, *, limit: int) -> Iterator[list[EventRecord]]:
    """The matching events, newest first, at most ``limit``, a page at a time.

    Each page is read in its own short transaction (a slow download holds no connection);
    keyset paging keeps the order stable while new events arrive.
    """
    cursor: str | None = None
    left = limit
    while left > 0:
        with store.session() as session:
            page = EventRepo(session).search(
                query=query, limit=min(MAX_PAGE, left), cursor=cursor, count_limit=0
            )
        if page.items:
            yield list(page.items)
        left -= len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return


def encode_rows(
    pages: Iterable[list[Mapping[str, Any]]], export_format: ExportFormat
) -> Iterator[bytes]:
    """The file's bytes, one chunk per page of rows (CSV starts with a header).

    Args:
        pages: rows keyed by :data:`COLUMNS` (JSON values: ``str``, numbers or ``None``).
        export_format: CSV or JSONL.
    """
    if export_format is ExportFormat.CSV:
        yield _csv_chunk([COLUMNS])
        for rows in pages:
            yield _csv_chunk([[_csv_cell(row[c]) for c in COLUMNS] for row in rows])
        return
    for rows in pages:
        lines = (json.dumps({c: row[c] for c in COLUMNS}, ensure_ascii=False) for row in rows)
        yield "".join(line + "\n" for line in lines).encode()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return neutralise(value) if isinstance(value, str) else value


def _csv_chunk(rows: Iterable[Iterable[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)  # RFC 4180: quoted as needed, CRLF line ends
    return buffer.getvalue().encode()
