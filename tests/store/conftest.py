"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from citybrain.core.events import Event, EventPhase, EventUpdate, new_event_id
from citybrain.records import CameraFields
from citybrain.store import CameraRepo, EventQuery, EventRepo, Store
from support.postgres import own_postgres, postgres_server, postgres_url
from support.stores import store

__all__ = [
    "assert_final_states",
    "lifecycle",
    "own_postgres",
    "postgres_server",
    "postgres_url",
    "store",
]

#: The default wall-clock time of stream t=0 in :func:`assert_final_states`.
T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def add_camera(store: Store) -> Callable[..., int]:
    """Adds a camera and returns its id."""

    def add(name: str = "gate", source: str = "rtsp://u:p@10.0.0.1/s", **fields: object) -> int:
        with store.session() as session:
            return CameraRepo(session).create(CameraFields(name=name, source=source, **fields)).id

    return add


def lifecycle(n: int, camera: str = "gate") -> list[list[EventUpdate]]:
    """Start, update and end of ``n`` events, as a rule would emit them."""
    lives = []
    for i in range(n):
        start = Event(
            id=new_event_id(), kind="dwell", rule="loiter", camera=camera, zone="yard",
            line=None, label="person", track_id=i, start=i * 0.5, end=None, score=0.5,
            bbox=(0.1, 0.1, 0.2, 0.3), snapshot_at=i * 0.5, details={"dwell_s": 0},
        )  # fmt: skip
        update = start.evolve(score=0.8, details={"dwell_s": 5})
        end = update.evolve(end=i * 0.5 + 9.25, details={"dwell_s": 9})
        lives.append([EventUpdate(EventPhase.START, start), EventUpdate(EventPhase.UPDATE, update),
                      EventUpdate(EventPhase.END, end)])  # fmt: skip
    return lives


def assert_final_states(
    store: Store, lives: list[list[EventUpdate]], camera_id: int, origin: datetime = T0
) -> None:
    """Every event is stored once, in its final state."""
    with store.session() as session:
        page = EventRepo(session).search(query=EventQuery(), limit=500, count_limit=None)
        rows = {r.id: r for r in page.items}
        while page.next_cursor:
            page = EventRepo(session).search(query=EventQuery(), limit=500, cursor=page.next_cursor)
            rows |= {r.id: r for r in page.items}
    assert len(rows) == len(lives)
    for life in lives:
        final = life[-1].event
        row = rows[final.id]
        assert row.camera_id == camera_id
        assert row.started_at == origin + timedelta(seconds=final.start)
        assert row.ended_at == origin + timedelta(seconds=final.end or 0)
        assert (row.score, row.details, row.status) == (0.8, {"dwell_s": 9}, "open")


@pytest.fixture
def lifecycles() -> Callable[[int], list[list[EventUpdate]]]:
    """:func:`lifecycle`, for tests (they cannot import this module)."""
    return lifecycle


@pytest.fixture
def final_states() -> Callable[..., None]:
    """:func:`assert_final_states`, for tests (they cannot import this module)."""
    return assert_final_states
