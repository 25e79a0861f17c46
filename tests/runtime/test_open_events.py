"""No event stays open forever and none is open twice: a real worker process is killed (twice),
its camera reconfigured and disabled, with the server's router and event writer on a real store
(SQLite and PostgreSQL) behind the supervisor."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.events import EventPhase
from citybrain.records import CameraFields, EventRecord
from citybrain.runtime.messages import CameraStopped, EventMessage, WorkerMessage
from citybrain.runtime.supervisor import Supervisor, SupervisorOptions
from citybrain.services.hub import LiveHub
from citybrain.services.metrics import ServerMetrics
from citybrain.services.router import MessageRouter
from citybrain.store import (
    CameraRepo,
    CountWriter,
    EventQuery,
    EventRepo,
    EventWriter,
    MediaStore,
    Store,
    open_store,
    sqlite_url,
)
from support.postgres import postgres_server, postgres_url
from support.stores import BACKENDS, truncate

__all__ = ["postgres_server", "postgres_url"]

pytestmark = pytest.mark.slow

CLIP = "worker-zone-detection.mp4"
#: One aggregate event while anyone is in view: the "ongoing occupancy" that was tripled.
CROWD = {
    "zones": {"all": {"polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}},
    "rules": {"crowd": {"kind": "occupancy", "zone": "all", "labels": ["person"], "max": 0}},
}


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        opened = open_store(sqlite_url(tmp_path / "db"))
    else:
        opened = open_store(request.getfixturevalue("postgres_url"))
        truncate(opened)
    try:
        yield opened
    finally:
        opened.close()


class Server:
    """The server's side of the messages: a recorder in front of the real router."""

    def __init__(self, store: Store, data: Path, recorder: Any) -> None:
        self.events = EventWriter(store, data_dir=data)
        self.counts = CountWriter(store, data_dir=data)
        self.router = MessageRouter(
            events=self.events, counts=self.counts, hub=LiveHub(),
            media=MediaStore(data / "media"), metrics=ServerMetrics(),
        )  # fmt: skip
        self.recorder = recorder

    def receive(self, message: WorkerMessage) -> None:
        self.router.handle(message)
        self.recorder(message)

    def close(self) -> None:
        self.events.close()
        self.counts.close()


def _stored(store: Store, camera_id: int) -> list[EventRecord]:
    with store.session() as session:
        page = EventRepo(session).search(query=EventQuery(camera_ids={camera_id}), limit=100)
    return sorted(page.items, key=lambda e: e.started_at)


def _started(camera_id: int) -> Any:
    def match(message: WorkerMessage) -> bool:
        return (
            isinstance(message, EventMessage)
            and message.camera_id == camera_id
            and message.update.phase == EventPhase.START
        )

    return match


def _open_ids(server: Server, store: Store, camera_id: int) -> set[str]:
    assert server.events.flush(10)
    return {e.id for e in _stored(store, camera_id) if e.ended_at is None}


def test_killed_workers_and_stopped_cameras_leave_no_event_open(
    models: Path, db: Store, recorder: Any, samples_dir: Path, tmp_path: Path
) -> None:
    with db.session() as session:
        camera_id = (
            CameraRepo(session)
            .create(CameraFields(name="dock", source=str(samples_dir / CLIP), config=CROWD))
            .id
        )
    server = Server(db, tmp_path / "data", recorder)
    supervisor = Supervisor(db, server.receive, SupervisorOptions(workers=1, restart_initial=0.2))
    expected: dict[str, str] = {}  # event id -> why it must have ended
    try:
        supervisor.start()
        recorder.wait_for(_started(camera_id), timeout=90)
        for _kill in range(2):  # each restart used to leave one more "ongoing" event
            expected |= dict.fromkeys(_open_ids(server, db, camera_id), "worker_died")
            mark = recorder.mark()
            pid = supervisor.worker_pids()[0]
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            recorder.wait_for(_started(camera_id), timeout=90, after=mark)
            since = recorder.since(mark)
            stopped = next(i for i, m in enumerate(since) if isinstance(m, CameraStopped))
            restarted = next(i for i, m in enumerate(since) if _started(camera_id)(m))
            assert stopped < restarted, "the old event ends before the new pipeline starts"
            assert len(_open_ids(server, db, camera_id)) == 1

        # Reconfigured, then disabled: the worker ends the event itself and says why.
        expected |= dict.fromkeys(_open_ids(server, db, camera_id), "camera_stopped")
        mark = recorder.mark()
        renamed = {**CROWD, "rules": {"crowded": CROWD["rules"]["crowd"]}}
        with db.session() as session:
            CameraRepo(session).update(camera_id=camera_id, changes={"config": renamed})
        supervisor.sync(camera_id)
        recorder.wait_for(_started(camera_id), timeout=60, after=mark)
        expected |= dict.fromkeys(_open_ids(server, db, camera_id), "camera_stopped")
        with db.session() as session:
            CameraRepo(session).update(camera_id=camera_id, changes={"enabled": False})
        supervisor.sync(camera_id)
        assert supervisor.settle(10)
    finally:
        supervisor.close()
        server.close()

    events = {e.id: e for e in _stored(db, camera_id)}
    assert [e for e in events.values() if e.ended_at is None] == []
    assert len(expected) == 4, "one event open at each kill, reconfiguration and stop"
    assert {i: events[i].details.get("ended_by") for i in expected} == expected
    ordered = sorted(events.values(), key=lambda e: e.started_at)
    for earlier, later in itertools.pairwise(ordered):  # never two open at once
        assert earlier.ended_at is not None
        assert earlier.ended_at <= later.started_at + timedelta(seconds=1), (earlier, later)
