"""The engine's events and line counts into the database, batched and outage-proof.

Example:
    >>> writer = EventWriter(store, data_dir=Path("citybrain-data"))  # doctest: +SKIP
    >>> writer.submit(event_state(update, camera_id=3, origin=t0))  # doctest: +SKIP
    >>> writer.close()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel
from sqlalchemy.orm import Session

from citybrain.records import EventState, LineCountRecord
from citybrain.store.batching import BatchPolicy, BatchWriter, RowCodec, WriterStats
from citybrain.store.db import Store
from citybrain.store.journal import Journal
from citybrain.store.repositories.upserts import CountMode, upsert_counts, upsert_events

__all__ = [
    "COUNTS_JOURNAL",
    "EVENTS_JOURNAL",
    "BatchPolicy",
    "CountWriter",
    "EventWriter",
    "WriterStats",
]

EVENTS_JOURNAL = Path("journal") / "events.jsonl"
COUNTS_JOURNAL = Path("journal") / "line_counts.jsonl"


def _encode(row: BaseModel) -> dict[str, Any]:
    return row.model_dump(mode="json")


def _newer_event(older: EventState, newer: EventState) -> EventState:
    # A later state replaces an earlier one whole, except that a snapshot, once taken, stays.
    if newer.snapshot is None and older.snapshot is not None:
        return newer.model_copy(update={"snapshot": older.snapshot})
    return newer


def _event_codec() -> RowCodec[EventState]:
    def key(row: EventState) -> Hashable:
        return row.id

    return RowCodec(
        key=key, merge=_newer_event, write=upsert_events, encode=_encode,
        decode=EventState.model_validate,
    )  # fmt: skip


def _count_codec(mode: CountMode) -> RowCodec[LineCountRecord]:
    def key(row: LineCountRecord) -> Hashable:
        return (row.camera_id, row.rule, row.line, row.interval_start, row.direction, row.label)

    def merge(older: LineCountRecord, newer: LineCountRecord) -> LineCountRecord:
        if mode == "add":
            return newer.model_copy(update={"count": older.count + newer.count})
        return newer

    def write(session: Session, rows: list[LineCountRecord]) -> None:
        upsert_counts(session, rows, mode)

    return RowCodec(
        key=key, merge=merge, write=write, encode=_encode, decode=LineCountRecord.model_validate
    )


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

    def submit(self, state: EventState) -> None:
        """Queue an event's latest state (returns at once)."""
        self._batch.submit(state)


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

    def submit(self, count: LineCountRecord) -> None:
        """Queue a line count (returns at once)."""
        self._batch.submit(count)
