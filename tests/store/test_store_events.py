"""Event search, paging, stats, operator actions and retention, checked against plain Python."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from citybrain.errors import StoreError
from citybrain.records import EventRecord, EventState, EventStatus
from citybrain.store import EventQuery, EventRepo, Store
from citybrain.store.repositories.upserts import upsert_events

EventValues = dict[str, Any]

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
KINDS = ("restricted_zone", "hardhat", "dwell")
ZONES = ("yard", "gate", None)


def _row(event_id: int, camera_id: int, started_at: datetime, **fields: object) -> EventValues:
    row = dict(
        id=f"{event_id:032x}", camera_id=camera_id, kind="dwell", rule="r1", zone="yard",
        line=None, label="person", track_id=event_id, started_at=started_at, ended_at=None,
        score=0.9, bbox=[0.1, 0.2, 0.3, 0.4], details={"n": event_id}, snapshot=None,
    )  # fmt: skip
    return row | fields


@pytest.fixture
def sample(store: Store, add_camera: Callable[..., int]) -> list[EventValues]:
    """120 events on 3 cameras over 5 hours, with mixed kinds, zones and statuses."""
    cameras = [add_camera(f"cam{i}") for i in range(3)]
    rng = random.Random(7)
    rows = [
        _row(
            i,
            rng.choice(cameras),
            T0 + timedelta(seconds=rng.randrange(5 * 3600)),
            kind=rng.choice(KINDS),
            zone=rng.choice(ZONES),
        )
        for i in range(120)
    ]
    rows[5]["started_at"] = rows[6]["started_at"]  # a tie, ordered by id
    with store.session() as session:
        upsert_events(session, [EventState(**r) for r in rows])
        repo = EventRepo(session)
        for row in rows[::4]:
            repo.acknowledge(event_id=row["id"], username="ann")
        for row in rows[::6]:
            repo.resolve(event_id=row["id"], username="bob", note="done")
    return rows


def _expected(
    store: Store, rows: list[EventValues], keep: Callable[[EventRecord], bool]
) -> list[str]:
    with store.session() as session:
        repo = EventRepo(session)
        records = [repo.get(event_id=r["id"]) for r in rows]
    kept = [r for r in records if r is not None and keep(r)]
    kept.sort(key=lambda r: (r.started_at, r.id), reverse=True)
    return [r.id for r in kept]


FILTERS: list[tuple[str, dict[str, object], Callable[[EventRecord], bool]]] = [
    ("all", {}, lambda r: True),
    ("time range", {"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=2)},
     lambda r: T0 + timedelta(hours=1) <= r.started_at < T0 + timedelta(hours=2)),
    ("kind", {"kinds": {"hardhat"}}, lambda r: r.kind == "hardhat"),
    ("status", {"statuses": {EventStatus.OPEN}}, lambda r: r.status == "open"),
    ("zone", {"zone": "gate"}, lambda r: r.zone == "gate"),
    ("camera + time + status",
     {"camera_ids": {1, 3}, "since": T0 + timedelta(hours=2), "statuses": {"open", "acknowledged"}},
     lambda r: r.camera_id in {1, 3} and r.started_at >= T0 + timedelta(hours=2)
     and r.status in {"open", "acknowledged"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "filters", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_search_filters_newest_first(
    store: Store,
    sample: list[EventValues],
    name: str,
    filters: dict[str, object],
    keep: Callable[[EventRecord], bool],
) -> None:
    expected = _expected(store, sample, keep)
    assert expected, f"filter {name} should match something in the sample"
    with store.session() as session:
        page = EventRepo(session).search(query=EventQuery(**filters), limit=500)  # type: ignore[arg-type]
    assert [e.id for e in page.items] == expected
    assert (page.total, page.total_exact, page.next_cursor) == (len(expected), True, None)


def test_keyset_and_offset_pages_cover_everything_once(
    store: Store, sample: list[EventValues]
) -> None:
    expected = _expected(store, sample, lambda r: True)
    by_cursor: list[str] = []
    cursor: str | None = None
    with store.session() as session:
        repo = EventRepo(session)
        while True:
            page = repo.search(query=EventQuery(), limit=7, cursor=cursor)
            by_cursor += [e.id for e in page.items]
            assert page.total == len(expected)
            if (cursor := page.next_cursor) is None:
                break
        by_offset = [
            e.id
            for offset in range(0, len(expected), 7)
            for e in repo.search(query=EventQuery(), limit=7, offset=offset).items
        ]
    assert by_cursor == expected
    assert by_offset == expected


def test_total_is_capped(store: Store, sample: list[EventValues]) -> None:
    with store.session() as session:
        page = EventRepo(session).search(query=EventQuery(), limit=5, count_limit=10)
        exact = EventRepo(session).search(query=EventQuery(), limit=5, count_limit=None)
    assert (page.total, page.total_exact, len(page.items)) == (10, False, 5)
    assert (exact.total, exact.total_exact) == (len(sample), True)


def test_empty_allowed_set_matches_nothing(store: Store, sample: list[EventValues]) -> None:
    with store.session() as session:
        page = EventRepo(session).search(query=EventQuery(camera_ids=set()))
        assert EventRepo(session).stats(query=EventQuery(camera_ids=[])) == []
    assert (page.items, page.total) == ([], 0)


def test_bad_search_arguments(store: Store) -> None:
    with store.session() as session:
        repo = EventRepo(session)
        with pytest.raises(StoreError, match="either a cursor or an offset"):
            repo.search(query=EventQuery(), cursor="x", offset=5)
        with pytest.raises(StoreError, match="invalid page cursor"):
            repo.search(query=EventQuery(), cursor="not-a-cursor")
        with pytest.raises(StoreError, match="page size 0"):
            repo.search(query=EventQuery(), limit=0)
    with pytest.raises(StoreError, match="unknown event status 'closed'"):
        EventQuery(statuses={"closed"})
    with pytest.raises(ValueError, match="naive datetime"):
        EventQuery(since=datetime(2026, 1, 1))


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_stats_per_camera_kind_and_bucket(
    store: Store, sample: list[EventValues], bucket: str
) -> None:
    def start(t: datetime) -> datetime:
        t = t.replace(minute=0, second=0, microsecond=0)
        return t.replace(hour=0) if bucket == "day" else t

    expected = Counter((r["camera_id"], r["kind"], start(r["started_at"])) for r in sample)
    with store.session() as session:
        stats = EventRepo(session).stats(query=EventQuery(), bucket=bucket)  # type: ignore[arg-type]
    got = {(s.camera_id, s.kind, s.bucket_start): s.count for s in stats}
    assert got == dict(expected)
    assert all(s.bucket_start.tzinfo == UTC for s in stats)
    assert [s.bucket_start for s in stats] == sorted(s.bucket_start for s in stats)


def test_timestamps_come_back_as_the_same_instant_in_utc(
    store: Store, add_camera: Callable[..., int]
) -> None:
    camera_id = add_camera()
    local = datetime(2026, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=-5)))  # 06:30 UTC
    with store.session() as session:
        end = local + timedelta(seconds=5.25)
        bare = {"bbox": None, "zone": None, "label": None, "track_id": None}
        row = _row(1, camera_id, local, ended_at=end, details={"note": "naïve ☃"}, **bare)
        upsert_events(session, [EventState(**row)])
    with store.session() as session:
        record = EventRepo(session).get(event_id=f"{1:032x}")
        stats = EventRepo(session).stats(query=EventQuery())
    assert record is not None and record.ended_at is not None
    assert record.started_at == local and record.started_at.tzinfo == UTC
    assert (record.bbox, record.zone, record.label, record.track_id) == (None, None, None, None)
    assert record.details == {"note": "naïve ☃"}
    assert record.started_at.hour == 6
    assert record.ended_at - record.started_at == timedelta(seconds=5.25)
    assert stats[0].bucket_start == datetime(2026, 3, 2, 6, tzinfo=UTC)


def test_acknowledge_and_resolve(store: Store, add_camera: Callable[..., int]) -> None:
    camera_id = add_camera()
    when = datetime(2026, 3, 2, 9, tzinfo=UTC)
    with store.session() as session:
        upsert_events(
            session, [EventState(**r) for r in [_row(1, camera_id, T0), _row(2, camera_id, T0)]]
        )
    with store.session() as session:
        repo = EventRepo(session)
        acked = repo.acknowledge(event_id=f"{1:032x}", username="ann", at=when)
        assert repo.acknowledge(event_id="f" * 32, username="ann") is None
        resolved = repo.resolve(event_id=f"{1:032x}", username="bob", note="false alarm")
        direct = repo.resolve(event_id=f"{2:032x}", username="bob")
    assert acked is not None and resolved is not None and direct is not None
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at) == (
        "acknowledged",
        "ann",
        when,
    )
    assert (resolved.status, resolved.resolved_by, resolved.note) == (
        "resolved",
        "bob",
        "false alarm",
    )
    assert resolved.acknowledged_by == "ann" and direct.acknowledged_by is None
    with store.session() as session:
        with pytest.raises(StoreError, match="already resolved"):
            EventRepo(session).resolve(event_id=f"{1:032x}", username="bob")
        with pytest.raises(StoreError, match="only an open event can be acknowledged"):
            EventRepo(session).acknowledge(event_id=f"{2:032x}", username="ann")


def test_engine_updates_keep_operator_fields_and_snapshot(
    store: Store, add_camera: Callable[..., int]
) -> None:
    camera_id = add_camera()
    with store.session() as session:
        upsert_events(
            session, [EventState(**r) for r in [_row(1, camera_id, T0, snapshot="cam/1.jpg")]]
        )
        EventRepo(session).acknowledge(event_id=f"{1:032x}", username="ann")
    end = T0 + timedelta(seconds=30)
    with store.session() as session:
        upsert_events(
            session,
            [
                EventState(**r)
                for r in [_row(1, camera_id, T0, ended_at=end, score=0.97, snapshot=None)]
            ],
        )
    with store.session() as session:
        record = EventRepo(session).get(event_id=f"{1:032x}")
    assert record is not None
    assert (record.ended_at, record.score, record.snapshot) == (end, 0.97, "cam/1.jpg")
    assert (record.status, record.acknowledged_by) == ("acknowledged", "ann")
    assert record.bbox == (0.1, 0.2, 0.3, 0.4) and record.details == {"n": 1}


def test_retention_deletes_old_events_and_returns_their_snapshots(
    store: Store, add_camera: Callable[..., int]
) -> None:
    camera_id = add_camera()
    rows = [
        _row(i, camera_id, T0 + timedelta(hours=i), snapshot=f"cam/{i}.jpg" if i % 2 else None)
        for i in range(6)
    ]
    with store.session() as session:
        upsert_events(session, [EventState(**r) for r in rows])
    with store.session() as session:
        paths = EventRepo(session).delete_events_before(cutoff=T0 + timedelta(hours=3))
    assert sorted(paths) == ["cam/1.jpg"]
    with store.session() as session:
        left = EventRepo(session).search(query=EventQuery())
    assert [e.id for e in left.items] == [r["id"] for r in reversed(rows[3:])]
