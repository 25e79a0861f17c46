"""Store benchmark: event ingest through the EventWriter and operator search latency.

Creates a fresh database on a PostgreSQL server, measures how fast the EventWriter path stores
events (each event a start and an end update, as rules emit them), bulk-loads N events (COPY)
and times typical operator queries through ``EventRepo``. Prints numbers, then drops the database.

    .venv/bin/python bench/store.py                      # 1,000,000 events, 50,000 ingested
    .venv/bin/python bench/store.py --events 100000 --ingest 20000 --queries 50
    .venv/bin/python bench/store.py --server postgresql+psycopg://user:pw@db:5432/postgres

Goals: ingest >= 10,000 events/s; search p95 <= 50 ms over 1,000,000 events.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import psycopg
from psycopg import sql

from citybrain.core.events import Event, EventPhase, EventUpdate
from citybrain.records import CameraFields, event_state
from citybrain.store import (
    BatchPolicy,
    CameraRepo,
    EventQuery,
    EventRepo,
    EventWriter,
    Store,
    open_store,
)

__all__ = ["main"]

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
KINDS = ("restricted_zone", "hardhat", "dwell", "occupancy", "line_crossing")
KIND_WEIGHTS = (0.35, 0.2, 0.25, 0.1, 0.1)
ZONES = ("yard", "gate", "scaffold", "road", "entrance")
NOW = datetime(2026, 3, 31, tzinfo=UTC)
DAYS = 30
COLUMNS = ("id", "camera_id", "kind", "rule", "zone", "label", "track_id", "started_at",
           "ended_at", "score", "details", "status")  # fmt: skip


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _admin(server: str, statement: sql.Composed) -> None:
    with psycopg.connect(_libpq(server), autocommit=True) as conn:
        conn.execute(statement)


def _cameras(store: Store, n: int) -> list[int]:
    with store.session() as session:
        repo = CameraRepo(session)
        return [
            repo.create(
                CameraFields(name=f"cam-{i:04d}", source=f"rtsp://10.0.{i // 250}.{i % 250}/s")
            ).id
            for i in range(n)
        ]


def _events(n: int) -> list[Event]:
    return [
        Event(id=uuid.uuid4().hex, kind=KINDS[i % 5], rule="r", camera="c", zone="yard",
              line=None, label="person", track_id=i, start=i * 0.01, end=None, score=0.7,
              bbox=(0.1, 0.2, 0.3, 0.4), snapshot_at=i * 0.01, details={"n": i})
        for i in range(n)
    ]  # fmt: skip


def _write_all(writer: EventWriter, updates: list[EventUpdate], cameras: list[int]) -> float:
    """Submit ``updates`` and wait until they are in the database; returns seconds taken."""
    started = time.perf_counter()
    for i, update in enumerate(updates):
        camera_id = cameras[i % len(cameras)]
        writer.submit(event_state(update, camera_id=camera_id, origin=NOW.timestamp()))
    if not writer.flush(timeout=600):
        raise RuntimeError(f"ingest did not finish: {writer.stats()}")
    return time.perf_counter() - started


def bench_ingest(store: Store, cameras: list[int], n: int) -> float:
    """Events per second through EventWriter.submit -> database, start and end of each.

    Every start is written before any end arrives, so each event costs an insert and an
    update: the worst case (live, an event's updates often coalesce in memory first).
    """
    events = _events(n)
    ends = [EventUpdate(EventPhase.END, e.evolve(end=e.start + 5.0)) for e in events]
    with TemporaryDirectory() as journal_dir:
        writer = EventWriter(store, data_dir=Path(journal_dir), policy=BatchPolicy(batch_size=1000))
        inserting = _write_all(writer, [EventUpdate(EventPhase.START, e) for e in events], cameras)
        updating = _write_all(writer, ends, cameras)
        writer.close()
    stats = writer.stats()
    rates = f"starts {n / inserting:,.0f}/s, ends {n / updating:,.0f}/s"
    print(f"  {stats.written:,} row writes in {inserting + updating:.2f} s: {rates}; "
          f"failures {stats.failures}")  # fmt: skip
    return n / (inserting + updating)


def _copy_chunk(rng: np.random.Generator, start: int, size: int, cameras: np.ndarray) -> bytes:
    ages = rng.exponential(scale=DAYS * 86400 / 4, size=size).clip(0, DAYS * 86400 - 1)
    started = np.datetime64(NOW.replace(tzinfo=None), "us") - (ages * 1e6).astype("timedelta64[us]")
    durations = (rng.exponential(30.0, size=size) * 1e6).astype("timedelta64[us]")
    kinds = rng.choice(len(KINDS), size=size, p=KIND_WEIGHTS)
    zones = rng.integers(0, len(ZONES), size=size)
    cams = rng.choice(cameras, size=size)
    # Old events are mostly handled; the last day's are mostly open.
    handled = rng.random(size) < np.where(ages > 86400, 0.97, 0.3)
    statuses = np.where(handled, np.where(rng.random(size) < 0.8, "resolved", "acknowledged"),
                        "open")  # fmt: skip
    scores = rng.uniform(0.3, 1.0, size=size).round(3)
    lines = [
        f"{uuid.UUID(int=start + i).hex}\t{cams[i]}\t{KINDS[kinds[i]]}\trule-{kinds[i]}\t"
        f"{ZONES[zones[i]]}\tperson\t{i}\t{started[i]}Z\t{started[i] + durations[i]}Z\t"
        f"{scores[i]}\t{{}}\t{statuses[i]}\n"
        for i in range(size)
    ]
    return "".join(lines).encode()


def load_events(store: Store, cameras: list[int], n: int, seed: int = 1) -> float:
    """COPY ``n`` synthetic events spread over 30 days; returns seconds taken (with ANALYZE)."""
    rng = np.random.default_rng(seed)
    ids = np.array(cameras)
    started = time.perf_counter()
    raw = store.engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        with conn.cursor() as cursor:
            statement = sql.SQL("COPY events ({}) FROM STDIN").format(
                sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
            )
            with cursor.copy(statement) as copy:
                for offset in range(0, n, 100_000):
                    copy.write(_copy_chunk(rng, offset, min(100_000, n - offset), ids))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE events")
        conn.autocommit = False
    finally:
        raw.close()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Scenario:
    name: str
    query: Callable[[random.Random], dict[str, object]]


def _scenarios(cameras: list[int]) -> list[Scenario]:
    def day(rng: random.Random) -> datetime:
        return NOW - timedelta(days=rng.randrange(DAYS))

    return [
        Scenario("camera + time range + status", lambda rng: {"query": EventQuery(
            camera_ids={rng.choice(cameras)}, since=(d := day(rng)) - timedelta(days=1), until=d,
            statuses={rng.choice(("open", "acknowledged", "resolved"))})}),
        Scenario("kind filter, last 7 days", lambda rng: {"query": EventQuery(
            kinds={rng.choice(KINDS)}, since=NOW - timedelta(days=7))}),
        Scenario("newest page, all cameras", lambda rng: {"query": EventQuery()}),
        Scenario("newest page, 20 allowed cameras", lambda rng: {"query": EventQuery(
            camera_ids=set(rng.sample(cameras, 20)))}),
        Scenario("zone + open, last 24 h", lambda rng: {"query": EventQuery(
            zone=rng.choice(ZONES), statuses={"open"}, since=NOW - timedelta(days=1))}),
    ]  # fmt: skip


def bench_search(store: Store, cameras: list[int], repeats: int) -> None:
    """Print p50/p95/max of EventRepo.search (page of 50 with its capped total) per scenario."""
    rng = random.Random(3)
    for scenario in _scenarios(cameras):
        times = []
        for _ in range(repeats):
            args = scenario.query(rng)
            with store.session() as session:
                t = time.perf_counter()
                page = EventRepo(session).search(limit=50, **args)  # type: ignore[arg-type]
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        print(f"  {scenario.name:34s} p50 {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms"
              f"  max {times[-1]:6.1f} ms  (last page: {len(page.items)} of "
              f"{page.total}{'' if page.total_exact else '+'})")  # fmt: skip
    times = []
    with store.session() as session:
        repo = EventRepo(session)
        for _ in range(repeats):
            first = repo.search(query=EventQuery(), limit=50)
            t = time.perf_counter()
            repo.search(query=EventQuery(), limit=50, cursor=first.next_cursor)
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"  {'next page by cursor':34s} p50 {statistics.median(times):6.1f} ms  "
          f"p95 {times[int(0.95 * len(times)) - 1]:6.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="admin URL of a PostgreSQL server")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to search over")
    parser.add_argument("--ingest", type=int, default=50_000, help="events through EventWriter")
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200, help="repeats per query type")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    began = time.perf_counter()
    name = f"citybrain_bench_{uuid.uuid4().hex[:8]}"
    _admin(args.server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    store = open_store(args.server.rsplit("/", 1)[0] + "/" + name)
    try:
        cameras = _cameras(store, args.cameras)
        print(f"PostgreSQL database {name}, {args.cameras} cameras")
        rate = bench_ingest(store, cameras, args.ingest)
        print(f"ingest via EventWriter: {args.ingest:,} events (insert at start, update at end): "
              f"{rate:,.0f} events/s (goal >= 10,000)")  # fmt: skip
        seconds = load_events(store, cameras, args.events)
        total = args.events + args.ingest
        print(f"bulk load (COPY + VACUUM ANALYZE) of {args.events:,} events: {seconds:.1f} s "
              f"({args.events / seconds:,.0f} rows/s); table now holds {total:,}")  # fmt: skip
        print(f"search latency over {total:,} events, page of 50 + total capped at 1,000, "
              f"{args.queries} runs each (goal p95 <= 50 ms):")  # fmt: skip
        bench_search(store, cameras, args.queries)
    finally:
        store.close()
        if not args.keep:
            _admin(
                args.server, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )
    print(f"bench took {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
