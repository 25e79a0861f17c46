"""Batched, outage-proof writes: a background thread flushes buffered rows to the database.

Rows queue in order as ``journal (oldest) -> memory (newest)``. New rows go to memory, merged by
key with a pending row of the same key. When memory is full it is appended to the journal file
in one piece, so memory stays bounded however long the database is away. The thread writes the
journal's rows first, then memory's, in batches; a failed batch stays where it was and is retried
with exponential backoff. Rows the database refuses outright (constraint violations) are written
one by one so that one bad row cannot block the rest; those it still refuses are counted and
dropped. Only errors that waiting can cure (server away, restarting, locked) are retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from itertools import islice
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from citybrain.store.db import describe_error
from citybrain.store.journal import Journal

__all__ = ["BatchPolicy", "BatchWriter", "RowCodec", "WriterStats"]

log = logging.getLogger(__name__)

R = TypeVar("R")
Source = Literal["journal", "memory"]


@dataclass(frozen=True, slots=True)
class WriterStats:
    """A writer's counters.

    Attributes:
        pending: rows not in the database yet (memory, in flight and journal).
        written: rows written (a row updated in memory before its flush counts once).
        failures: batches that failed and will be retried.
        rejected: rows the database refused outright and that were dropped.
        spilled: rows appended to the journal because memory was full or the writer closed.
        journal_rows: rows waiting in the journal file now.
        last_error: the most recent database error, one line.
    """

    pending: int
    written: int
    failures: int
    rejected: int
    spilled: int
    journal_rows: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    """When to flush and how to back off.

    Attributes:
        batch_size: rows per transaction; a full batch is flushed at once.
        flush_interval_s: a partial batch waits at most this long.
        max_buffer: rows held in memory before they are moved to the journal file.
        retry_initial_s: first wait after a failure, doubled per failure up to ``retry_max_s``.
        retry_max_s: longest wait between retries.
    """

    batch_size: int = 500
    flush_interval_s: float = 0.2
    max_buffer: int = 20_000
    retry_initial_s: float = 0.1
    retry_max_s: float = 5.0


@dataclass(frozen=True, slots=True)
class RowCodec(Generic[R]):
    """How a writer identifies, merges, stores and journals its rows.

    Attributes:
        key: identity of a row; two rows with one key become one write.
        merge: ``merge(older, newer)`` is the row to write instead of both.
        write: writes distinct-key rows in the given session (no commit).
        encode: the row as a JSON object; ``decode`` is its inverse.
    """

    key: Callable[[R], Hashable]
    merge: Callable[[R, R], R]
    write: Callable[[Session, list[R]], None]
    encode: Callable[[R], dict[str, Any]]
    decode: Callable[[dict[str, Any]], R]


def _transient(exc: Exception) -> bool:
    """Whether retrying later can help: the server is away, restarting, busy or locked."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError)


class BatchWriter(Generic[R]):
    """Buffers rows and writes them from a background thread; see the module docstring."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        codec: RowCodec[R],
        journal: Journal,
        policy: BatchPolicy,
        name: str,
    ) -> None:
        self._sessions = sessions
        self._codec = codec
        self._journal = journal
        self._policy = policy
        self._cond = threading.Condition()
        self._memory: dict[Hashable, R] = {}
        self._in_flight = 0
        self._flush_wanted = False
        self._stop_at: float | None = None  # monotonic deadline once close() is called
        self._counts = {"written": 0, "failures": 0, "rejected": 0, "spilled": 0}
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, row: R) -> None:
        """Queue ``row``; returns at once (the database write happens later)."""
        key = self._codec.key(row)
        with self._cond:
            if self._stop_at is not None:
                raise RuntimeError("writer is closed")
            old = self._memory.get(key)
            self._memory[key] = row if old is None else self._codec.merge(old, row)
            if len(self._memory) >= self._policy.max_buffer:
                self._spill()
            if len(self._memory) >= self._policy.batch_size:
                self._cond.notify_all()

    def stats(self) -> WriterStats:
        """The counters now."""
        with self._cond:
            return WriterStats(
                pending=self._pending(),
                written=self._counts["written"],
                failures=self._counts["failures"],
                rejected=self._counts["rejected"],
                spilled=self._counts["spilled"],
                journal_rows=len(self._journal),
                last_error=self._last_error,
            )

    def flush(self, timeout: float) -> bool:
        """Wait until every row queued so far is written; ``False`` if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flush_wanted = True
            self._cond.notify_all()
            while self._pending() and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            self._flush_wanted = False
            return not self._pending()

    def close(self, timeout: float) -> None:
        """Write what is queued, retrying for up to ``timeout`` seconds; journal the rest."""
        with self._cond:
            if self._stop_at is None:
                self._stop_at = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join()

    # --- the background thread ---------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.0
        while True:
            with self._cond:
                self._wait_for_work(backoff)
                if self._stop_at is not None and (
                    not self._pending() or time.monotonic() >= self._stop_at
                ):
                    self._spill()
                    self._cond.notify_all()
                    return
                rows, source, token = self._take()
            left = self._write(rows)
            with self._cond:
                self._settle(rows, left, source, token)
                self._cond.notify_all()
            backoff = (
                0.0
                if not left
                else min(max(backoff * 2, self._policy.retry_initial_s), self._policy.retry_max_s)
            )

    def _wait_for_work(self, backoff: float) -> None:
        if backoff:  # after a failure: sleep it out (but not past close()'s deadline)
            end = time.monotonic() + backoff
            while (left := min(end, self._stop_at or end) - time.monotonic()) > 0:
                self._cond.wait(left)
        elif not self._ready():
            self._cond.wait(self._policy.flush_interval_s)

    def _ready(self) -> bool:
        return bool(
            len(self._memory) >= self._policy.batch_size
            or len(self._journal)
            or self._flush_wanted
            or self._stop_at is not None
        )

    def _take(self) -> tuple[list[R], Source, tuple[int, int]]:
        if len(self._journal):
            records, token = self._journal.peek(self._policy.batch_size)
            merged: dict[Hashable, R] = {}
            for record in records:
                self._merge_into(merged, self._codec.decode(record))
            return list(merged.values()), "journal", (token, len(records))
        keys = list(islice(self._memory, self._policy.batch_size))
        rows = [self._memory.pop(key) for key in keys]
        self._in_flight = len(rows)
        return rows, "memory", (0, 0)

    def _settle(self, rows: list[R], left: list[R], source: Source, token: tuple[int, int]) -> None:
        """Put back the rows of a batch that were not written, keeping the queue's order."""
        self._in_flight = 0
        if source == "journal":
            if len(left) < len(rows):  # some or all written: the rest goes back to the front
                self._journal.consume(*token)
                self._journal.prepend([self._codec.encode(row) for row in left])
            return
        if not left:
            return
        if len(self._journal):
            # Memory was spilled while this batch was out: it is older than the journal now.
            self._journal.prepend([self._codec.encode(row) for row in left])
            return
        back: dict[Hashable, R] = {}
        for row in left:
            self._merge_into(back, row)
        for key, row in self._memory.items():
            self._merge_into(back, row, key)
        self._memory = back

    def _merge_into(self, rows: dict[Hashable, R], row: R, key: Hashable = None) -> None:
        key = self._codec.key(row) if key is None else key
        old = rows.get(key)
        rows[key] = row if old is None else self._codec.merge(old, row)

    def _write(self, rows: list[R]) -> list[R]:
        """Write ``rows``; returns those that must be retried (empty when all are done)."""
        if not rows:
            return []
        try:
            self._transaction(rows)
        except Exception as exc:
            if _transient(exc):
                self._note_error(exc, failed=True)
                return rows
            self._note_error(exc)
            return self._write_one_by_one(rows)
        self._count("written", len(rows))
        return []

    def _write_one_by_one(self, rows: list[R]) -> list[R]:
        for index, row in enumerate(rows):
            try:
                self._transaction([row])
            except Exception as exc:
                if _transient(exc):
                    self._note_error(exc, failed=True)
                    return rows[index:]
                log.error("dropping a row the database refuses: %s", describe_error(exc))
                self._count("rejected", 1)
            else:
                self._count("written", 1)
        return []

    def _transaction(self, rows: list[R]) -> None:
        with self._sessions.begin() as session:
            self._codec.write(session, rows)

    def _count(self, counter: str, n: int) -> None:
        with self._cond:
            self._counts[counter] += n

    def _note_error(self, exc: Exception, *, failed: bool = False) -> None:
        message = describe_error(exc)
        with self._cond:
            self._last_error = message
            if failed:
                self._counts["failures"] += 1
        if failed:
            log.warning("%s: write failed, will retry: %s", self._thread.name, message)

    # --- under the lock ----------------------------------------------------------------------

    def _pending(self) -> int:
        return len(self._memory) + self._in_flight + len(self._journal)

    def _spill(self) -> None:
        if not self._memory:
            return
        self._journal.append([self._codec.encode(row) for row in self._memory.values()])
        self._counts["spilled"] += len(self._memory)
        self._memory.clear()
