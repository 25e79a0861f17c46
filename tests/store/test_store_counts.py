"""Line counts: re-writes of one key add up (or replace); sums per line and per hour."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.records import LineCountRecord
from citybrain.store import CountRepo, Store

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def _count(
    camera_id: int, minute: int, n: int, *, direction: str = "in", label: str = "person",
    line: str = "door",
) -> LineCountRecord:  # fmt: skip
    return LineCountRecord(camera_id=camera_id, rule="door-count", line=line,
                           interval_start=T0 + timedelta(minutes=minute), interval_seconds=60.0,
                           direction=direction, label=label, count=n)  # fmt: skip


@pytest.mark.parametrize(("mode", "expected"), [("add", 7), ("replace", 4)])
def test_rewriting_a_key(
    store: Store, add_camera: Callable[..., int], mode: str, expected: int
) -> None:
    camera_id = add_camera()
    with store.session() as session:
        CountRepo(session).add(rows=[_count(camera_id, 0, 3)], mode=mode)  # type: ignore[arg-type]
    with store.session() as session:
        CountRepo(session).add(rows=[_count(camera_id, 0, 4)], mode=mode)  # type: ignore[arg-type]
        totals = CountRepo(session).totals()
    assert [(t.direction, t.count) for t in totals] == [("in", expected)]


def test_totals_and_hourly_series(store: Store, add_camera: Callable[..., int]) -> None:
    a, b = add_camera("a"), add_camera("b")
    rows = [
        _count(a, 0, 2), _count(a, 30, 3), _count(a, 90, 5), _count(a, 90, 1, direction="out"),
        _count(a, 10, 4, label="car", line="road"), _count(b, 0, 9),
    ]  # fmt: skip
    with store.session() as session:
        CountRepo(session).add(rows=rows)
    with store.session() as session:
        repo = CountRepo(session)
        totals = repo.totals(camera_ids={a}, line="door")
        hourly = repo.totals(camera_ids={a}, line="door", bucket="hour")
        late = repo.totals(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2))
        assert repo.totals(camera_ids=()) == []
    assert [(t.direction, t.count) for t in totals] == [("in", 10), ("out", 1)]
    assert [(t.bucket_start, t.direction, t.count) for t in hourly] == [
        (T0, "in", 5), (T0 + timedelta(hours=1), "in", 5), (T0 + timedelta(hours=1), "out", 1),
    ]  # fmt: skip
    assert sorted((t.camera_id, t.direction, t.count) for t in late) == [
        (a, "in", 8),
        (a, "out", 1),
    ]
    with store.session() as session:
        assert CountRepo(session).delete_before(cutoff=T0 + timedelta(minutes=15)) == 3
        assert sum(t.count for t in CountRepo(session).totals()) == 24 - (2 + 4 + 9)
