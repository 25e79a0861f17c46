"""The engine's events and line counts into the database, batched and outage-proof.

Example:
    >>> writer = EventWriter(store, data_dir=Path("citybrain-data"))  # doctest: +SKIP
    >>> writer.submit(update, camera_id=3, origin=stream_started_at)  # doctest: +SKIP
    >>> writer.close()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from sqlalchemy.orm import Session

from citybrain.core.events import EventUpdate, LineCount
from citybrain.store.batching import BatchPolicy, BatchWriter, RowCodec, WriterStats
from citybrain.store.db import Store
from citybrain.store.journal import Journal
from citybrain.store.repositories.upserts import (
    CountMode,
    CountValues,
    EventValues,
    upsert_counts,
    upsert_events,
)
from citybrain.store.types import utc

__all__ = [
    "COUNTS_JOURNAL",
    "EVENTS_JOURNAL",
    "BatchPolicy",
    "CountWriter",
    "EventWriter",
    "WriterStats",
    "count_values",
    "event_values",
]

EVENTS_JOURNAL = Path("journal") / "events.jsonl"
COUNTS_JOURNAL = Path("journal") / "line_counts.jsonl"


def _at(origin: datetime, seconds: float) -> datetime:
    return utc(origin) + timedelta(seconds=seconds)


def event_values(
    update: EventUpdate, *, camera_id: int, origin: datetime, snapshot: str | None = None
) -> EventValues:
    """The ``events`` row for an update; ``origin`` is the wall-clock time of stream t=0."""
    event = update.event
    return EventValues(
        id=event.id,
        camera_id=camera_id,
        kind=event.kind,
        rule=event.rule,
        zone=event.zone,
        line=event.line,
        label=event.label,
        track_id=event.track_id,
        started_at=_at(origin, event.start),
        ended_at=None if event.end is None else _at(origin, event.end),
        score=float(event.score),
        bbox=None if event.bbox is None else [float(v) for v in event.bbox],
        details=dict(event.details),
        snapshot=snapshot,
    )


def count_values(count: LineCount, *, camera_id: int, origin: datetime) -> CountValues:
    """The ``line_counts`` row for a count; ``origin`` is the wall-clock time of stream t=0."""
    return CountValues(
        camera_id=camera_id,
        rule=count.rule,
        line=count.line,
        interval_start=_at(origin, count.interval_start),
        interval_seconds=float(count.interval_seconds),
        direction=count.direction,
        label=count.label,
        count=int(count.count),
    )


def _encode(row: Mapping[str, object]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _decoded_times(record: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    times = {f: datetime.fromisoformat(record[f]) for f in fields if record.get(f) is not None}
    return record | times


def _newer_event(older: EventValues, newer: EventValues) -> EventValues:
    # A later state replaces an earlier one whole, except that a snapshot, once taken, stays.
    if newer["snapshot"] is None and older["snapshot"] is not None:
        return newer | {"snapshot": older["snapshot"]}
    return newer


def _event_codec() -> RowCodec[EventValues]:
    def decode(record: dict[str, Any]) -> EventValues:
        return _decoded_times(record, ("started_at", "ended_at"))  # type: ignore[return-value]

    def key(row: EventValues) -> Hashable:
        return row["id"]

    return RowCodec(key=key, merge=_newer_event, write=upsert_events, encode=_encode, decode=decode)


def _count_codec(mode: CountMode) -> RowCodec[CountValues]:
    def decode(record: dict[str, Any]) -> CountValues:
        return _decoded_times(record, ("interval_start",))  # type: ignore[return-value]

    def key(row: CountValues) -> Hashable:
        return (row["camera_id"], row["rule"], row["line"], row["interval_start"],
                row["direction"], row["label"])  # fmt: skip

    def merge(older: CountValues, newer: CountValues) -> CountValues:
        if mode == "add":
            return newer | {"count": older["count"] + newer["count"]}
        return newer

    def write(session: Session, rows: list[CountValues]) -> None:
        upsert_counts(session, rows, mode)

    return RowCodec(key=key, merge=merge, write=write, encode=_encode, decode=decode)


class _Writer:
    """What both writers share: a background :class:`BatchWriter` and its lifecycle."""

    _batch: BatchWriter[Any]

    def stats(self) -> WriterStats:
        """Pending, written, failures, last error and journal counters."""
        return self._batch.stats()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued is written; ``False`` if ``timeout`` ran out first."""
        return self._batch.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (retrying up to ``timeout`` s), journal the rest, stop."""
        self._batch.close(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class EventWriter(_Writer):
    """Writes engine events to the store in batches from a background thread.

    Start, updates and end of one event become one row (insert or update by event id). While
    the database is away nothing is lost: rows wait in memory, then in the journal file
    ``<data_dir>/journal/events.jsonl``, and are retried until it is back. A journal left by an
    earlier run is written first.

    Args:
        store: the open store.
        data_dir: where the journal lives.
        policy: batch size, flush interval, memory bound and retry backoff.
    """

    def __init__(self, store: Store, *, data_dir: Path, policy: BatchPolicy | None = None) -> None:
        self._batch = BatchWriter(
            store.sessions,
            _event_codec(),
            Journal(data_dir / EVENTS_JOURNAL),
            policy or BatchPolicy(),
            name="citybrain-event-writer",
        )

    def submit(
        self,
        update: EventUpdate,
        *,
        camera_id: int,
        origin: datetime,
        snapshot: str | None = None,
    ) -> None:
        """Queue an event update (returns at once).

        Args:
            update: what the rule emitted.
            camera_id: the camera's id in the store.
            origin: the wall-clock time (aware) that the stream's t=0 corresponds to.
            snapshot: the anonymised snapshot's path relative to the media directory.
        """
        row = event_values(update, camera_id=camera_id, origin=origin, snapshot=snapshot)
        self._batch.submit(row)


class CountWriter(_Writer):
    """Writes line counts like :class:`EventWriter` writes events.

    Args:
        store: the open store.
        data_dir: where the journal (``journal/line_counts.jsonl``) lives.
        mode: ``"add"`` adds a count to the one stored under the same key (camera, rule, line,
            interval start, direction, label); ``"replace"`` overwrites it.
        policy: batch size, flush interval, memory bound and retry backoff.
    """

    def __init__(
        self,
        store: Store,
        *,
        data_dir: Path,
        mode: CountMode = "add",
        policy: BatchPolicy | None = None,
    ) -> None:
        self._batch = BatchWriter(
            store.sessions,
            _count_codec(mode),
            Journal(data_dir / COUNTS_JOURNAL),
            policy or BatchPolicy(),
            name="citybrain-count-writer",
        )

    def submit(self, count: LineCount, *, camera_id: int, origin: datetime) -> None:
        """Queue a line count (returns at once); ``origin`` is the wall clock at stream t=0."""
        self._batch.submit(count_values(count, camera_id=camera_id, origin=origin))
