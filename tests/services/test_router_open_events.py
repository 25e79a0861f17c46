"""The router ends a stopped camera's open events, once, with the reason, on a real store
(SQLite and PostgreSQL) through the real event writer and live hub."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citybrain.core.events import EndedBy, Event, EventPhase, EventUpdate, new_event_id
from citybrain.records import CameraFields, EventRecord
from citybrain.runtime.messages import CameraStopped, EventMessage
from citybrain.services.hub import LiveHub, LiveMessage
from citybrain.services.metrics import ServerMetrics
from citybrain.services.router import MessageRouter
from citybrain.store import CameraRepo, CountWriter, EventRepo, EventWriter, MediaStore, Store
from support.postgres import postgres_server, postgres_url
from support.stores import store

__all__ = ["postgres_server", "postgres_url", "store"]

ORIGIN = datetime(2026, 3, 2, 8, 0, tzinfo=UTC).timestamp()
JPEG = b"\xff\xd8\xff\xe0 a tiny stand-in for a snapshot"


class Parts:
    def __init__(self, store: Store, data: Path) -> None:
        self.events = EventWriter(store, data_dir=data)
        self.counts = CountWriter(store, data_dir=data)
        self.hub = LiveHub()
        self.router = MessageRouter(
            events=self.events, counts=self.counts, hub=self.hub,
            media=MediaStore(data / "media"), metrics=ServerMetrics(),
        )  # fmt: skip

    def close(self) -> None:
        self.events.close()
        self.counts.close()


@pytest.fixture
def parts(store: Store, tmp_path: Path) -> Iterator[Parts]:
    made = Parts(store, tmp_path / "data")
    yield made
    made.close()


def _camera(store: Store, name: str) -> int:
    with store.session() as session:
        return CameraRepo(session).create(CameraFields(name=name, source=f"/v/{name}.mp4")).id


def _message(camera_id: int, phase: EventPhase, event: Event) -> EventMessage:
    snapshot = JPEG if phase == EventPhase.START else None
    return EventMessage(camera_id, EventUpdate(phase, event), ORIGIN, snapshot)


def _event(camera: str, rule: str = "crowd") -> Event:
    return Event(
        id=new_event_id(), kind="occupancy", rule=rule, camera=camera, zone="yard",
        start=1.0, snapshot_at=1.0, score=0.7, details={"count": 4},
    )  # fmt: skip


def _stored(store: Store, event_id: str) -> EventRecord:
    with store.session() as session:
        record = EventRepo(session).get(event_id=event_id)
    assert record is not None
    return record


def _live(hub: LiveHub, send: list[object], handle: object) -> list[LiveMessage]:
    async def collect() -> list[LiveMessage]:
        subscription = hub.subscribe(camera_ids=None)
        for message in send:
            handle(message)  # type: ignore[operator]
        return await subscription.get(timeout=1.0)

    return asyncio.run(collect())


def test_a_stopped_cameras_open_events_end_once_with_the_reason(store: Store, parts: Parts) -> None:
    dock, gate = _camera(store, "dock"), _camera(store, "gate")
    crowd, leaving, elsewhere = _event("dock"), _event("dock", "exit"), _event("gate")
    for camera_id, event in ((dock, crowd), (dock, leaving), (gate, elsewhere)):
        parts.router.handle(_message(camera_id, EventPhase.START, event))
    parts.router.handle(_message(dock, EventPhase.UPDATE, crowd.evolve(score=0.9)))
    parts.router.handle(_message(dock, EventPhase.END, leaving.evolve(end=3.0)))

    before = datetime.now(UTC)
    live = _live(parts.hub, [CameraStopped(dock, EndedBy.WORKER_DIED)], parts.router.handle)
    # Again (a second notice, or one for a camera with nothing open): nothing more happens.
    live += _live(parts.hub, [CameraStopped(dock, EndedBy.WORKER_DIED)], parts.router.handle)
    assert parts.events.flush(10)

    ended = _stored(store, crowd.id)
    assert ended.ended_at is not None and ended.ended_at >= before
    assert ended.details == {"count": 4, "ended_by": "worker_died"}
    assert ended.score == 0.9 and ended.snapshot is not None  # its last state, snapshot kept
    by_rule = _stored(store, leaving.id)
    assert by_rule.details == {"count": 4}  # ended by its rule: no reason added
    assert _stored(store, elsewhere.id).ended_at is None  # another camera: still open
    pushed = [json.loads(m.data) for m in live]
    assert [(p["phase"], p["id"]) for p in pushed] == [("end", crowd.id)]
    assert pushed[0]["details"]["ended_by"] == "worker_died" and pushed[0]["ended_at"]


def test_an_event_ended_by_its_camera_is_not_ended_again(store: Store, parts: Parts) -> None:
    dock = _camera(store, "dock")
    crowd = _event("dock")
    parts.router.handle(_message(dock, EventPhase.START, crowd))
    end = crowd.evolve(end=5.0).marked_ended_by(EndedBy.CAMERA_STOPPED)
    parts.router.handle(_message(dock, EventPhase.END, end))
    parts.router.handle(CameraStopped(dock, EndedBy.WORKER_DIED))
    assert parts.events.flush(10)
    assert _stored(store, crowd.id).details == {"count": 4, "ended_by": "camera_stopped"}
