"""EventWriter and CountWriter: batching, merging, bad rows, outages, the journal."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citybrain.core.events import EventUpdate, LineCount
from citybrain.records import EventState, LineCountRecord, count_record, event_state
from citybrain.store import (
    BatchPolicy,
    CountRepo,
    CountWriter,
    EventQuery,
    EventRepo,
    EventWriter,
    Store,
    open_store,
    sqlite_url,
)
from citybrain.store.journal import Journal
from citybrain.store.writer import EVENTS_JOURNAL

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def _state(update: EventUpdate, camera_id: int, snapshot: str | None = None) -> EventState:
    """The update as the server's router hands it to the writer (stream t=0 at ``T0``)."""
    return event_state(update, camera_id=camera_id, origin=T0.timestamp(), snapshot=snapshot)


def _count(count: LineCount, camera_id: int) -> LineCountRecord:
    return count_record(count, camera_id=camera_id, origin=T0.timestamp())


FAST = BatchPolicy(batch_size=7, flush_interval_s=0.02, retry_initial_s=0.02, retry_max_s=0.1)


def test_start_update_end_become_one_row(
    store: Store,
    add_camera: Callable[..., int],
    tmp_path: Path,
    lifecycles: Callable[[int], list[list[EventUpdate]]],
    final_states: Callable[..., None],
) -> None:
    camera_id = add_camera()
    lives = lifecycles(40)
    with EventWriter(store, data_dir=tmp_path, policy=FAST) as writer:
        for phase in range(3):  # interleaved, as many cameras' rules would emit them
            for life in lives:
                writer.submit(_state(life[phase], camera_id))
        assert writer.flush(timeout=20)
        stats = writer.stats()
    assert (stats.pending, stats.failures, stats.rejected, stats.last_error) == (0, 0, 0, None)
    assert 40 <= stats.written <= 120
    final_states(store, lives, camera_id, origin=T0)
    assert not (tmp_path / EVENTS_JOURNAL).exists()


def test_snapshot_taken_once_is_kept(
    store: Store,
    add_camera: Callable[..., int],
    tmp_path: Path,
    lifecycles: Callable[[int], list[list[EventUpdate]]],
) -> None:
    camera_id = add_camera()
    [life] = lifecycles(1)
    with EventWriter(store, data_dir=tmp_path, policy=FAST) as writer:
        writer.submit(_state(life[0], camera_id, "gate/a.jpg"))
        assert writer.flush()
        writer.submit(_state(life[1], camera_id))
        writer.submit(_state(life[2], camera_id))  # merged in memory with [1]
        assert writer.flush()
    with store.session() as session:
        record = EventRepo(session).get(event_id=life[0].event.id)
    assert record is not None and record.snapshot == "gate/a.jpg"
    assert record.ended_at is not None


def test_a_refused_row_does_not_block_the_rest(
    store: Store,
    add_camera: Callable[..., int],
    tmp_path: Path,
    lifecycles: Callable[[int], list[list[EventUpdate]]],
) -> None:
    camera_id = add_camera()
    lives = lifecycles(5)
    with EventWriter(store, data_dir=tmp_path, policy=FAST) as writer:
        writer.submit(_state(lives[0][2], camera_id + 100))  # no such camera
        for life in lives[1:]:
            writer.submit(_state(life[2], camera_id))
        assert writer.flush()
        stats = writer.stats()
    assert (stats.written, stats.rejected, stats.failures) == (4, 1, 0)
    assert stats.last_error is not None and "foreign key" in stats.last_error.lower()
    with store.session() as session:
        assert EventRepo(session).search(query=EventQuery()).total == 4


def test_count_writer_adds_counts_of_one_interval(
    store: Store, add_camera: Callable[..., int], tmp_path: Path
) -> None:
    camera_id = add_camera()

    def count(n: int, interval: float, direction: str = "in") -> LineCount:
        return LineCount(
            camera="gate", rule="door", line="door", interval_start=interval,
            interval_seconds=60.0, direction=direction, label="person", count=n,
        )  # fmt: skip

    with CountWriter(store, data_dir=tmp_path, policy=FAST) as writer:
        writer.submit(_count(count(2, 0.0), camera_id))
        writer.submit(_count(count(3, 0.0), camera_id))  # merged in memory
        writer.submit(_count(count(1, 0.0, "out"), camera_id))
        assert writer.flush()
        writer.submit(_count(count(4, 0.0), camera_id))  # added in the database
        writer.submit(_count(count(7, 60.0), camera_id))
        assert writer.flush()
    with store.session() as session:
        totals = CountRepo(session).totals(bucket="hour")
        minute = CountRepo(session).totals(until=T0 + timedelta(minutes=1))
    assert [(t.direction, t.count) for t in totals] == [("in", 16), ("out", 1)]
    assert [(t.direction, t.count) for t in minute] == [("in", 9), ("out", 1)]


# --- outages on SQLite: another process holds the write lock -----------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(sqlite_url(tmp_path / "data"), busy_timeout_ms=20)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO cameras (id, name, source, enabled, config, "
                                   "created_at, updated_at) VALUES (1, 'gate', 'x', 1, '{}', "
                                   "'2026-01-01 00:00:00', '2026-01-01 00:00:00')")  # fmt: skip
    yield store
    store.close()


def _lock(tmp_path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(tmp_path / "data" / "citybrain.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def _wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_locked_database_spills_to_journal_and_recovers(
    sqlite_store: Store,
    tmp_path: Path,
    lifecycles: Callable[[int], list[list[EventUpdate]]],
    final_states: Callable[..., None],
) -> None:
    lives = lifecycles(60)
    policy = BatchPolicy(batch_size=10, flush_interval_s=0.02, max_buffer=25,
                         retry_initial_s=0.02, retry_max_s=0.1)  # fmt: skip
    holder = _lock(tmp_path)
    with EventWriter(sqlite_store, data_dir=tmp_path, policy=policy) as writer:
        for phase in range(3):
            for life in lives:
                writer.submit(_state(life[phase], 1))
        _wait_for(lambda: writer.stats().failures >= 2)
        stats = writer.stats()
        assert stats.journal_rows > 0 and stats.spilled > 0 and stats.pending >= 60
        assert stats.last_error is not None and "locked" in stats.last_error
        holder.rollback()
        holder.close()
        assert writer.flush(timeout=20)
        assert writer.stats().journal_rows == 0
    final_states(sqlite_store, lives, 1, origin=T0)
    assert not (tmp_path / EVENTS_JOURNAL).exists()


def test_journal_is_replayed_on_start(
    sqlite_store: Store,
    tmp_path: Path,
    lifecycles: Callable[[int], list[list[EventUpdate]]],
    final_states: Callable[..., None],
) -> None:
    lives = lifecycles(30)
    holder = _lock(tmp_path)
    writer = EventWriter(sqlite_store, data_dir=tmp_path, policy=FAST)
    for phase in range(3):
        for life in lives:
            writer.submit(_state(life[phase], 1))
    writer.close(timeout=0.3)  # the database stays locked: everything goes to the journal
    assert writer.stats().journal_rows == writer.stats().pending > 0
    journal = (tmp_path / EVENTS_JOURNAL).read_text().splitlines()
    assert {json.loads(line)["id"] for line in journal} == {life[0].event.id for life in lives}
    holder.rollback()
    holder.close()
    with EventWriter(sqlite_store, data_dir=tmp_path, policy=FAST) as again:
        assert again.flush(timeout=20)
    final_states(sqlite_store, lives, 1, origin=T0)
    assert not (tmp_path / EVENTS_JOURNAL).exists()


def test_closed_writer_refuses_more(
    sqlite_store: Store, tmp_path: Path, lifecycles: Callable[[int], list[list[EventUpdate]]]
) -> None:
    writer = EventWriter(sqlite_store, data_dir=tmp_path, policy=FAST)
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(_state(lifecycles(1)[0][0], 1))


# --- the journal file itself -------------------------------------------------------------------


def test_journal_is_a_fifo_that_survives_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append([{"n": 1}, {"n": 2}, {"n": 3}])
    with path.open("a") as file:
        file.write('{"n": 4, "trunc')  # the process died in the middle of an append
    journal = Journal(path)
    assert len(journal) == 3
    records, token = journal.peek(2)
    assert records == [{"n": 1}, {"n": 2}]
    journal.consume(token, 2)
    journal.prepend([{"n": 0}])
    journal.append([{"n": 5}])
    records, token = journal.peek(10)
    assert [r["n"] for r in records] == [0, 3, 5]
    journal.consume(token, 3)
    assert len(journal) == 0 and not path.exists()


def test_journal_remembers_what_was_consumed(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append([{"n": n} for n in range(5)])
    records, token = journal.peek(2)
    journal.consume(token, len(records))
    again = Journal(path)  # a restart after two records reached the database
    assert len(again) == 3
    assert [r["n"] for r in again.peek(10)[0]] == [2, 3, 4]
    path.with_name("j.jsonl.offset").write_text("7")  # not at a record boundary: replay all
    assert len(Journal(path)) == 5
