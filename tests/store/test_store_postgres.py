"""PostgreSQL only: a server we start ourselves, and writes that survive it going away."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from citybrain.core.events import EventUpdate
from citybrain.records import CameraFields, EventState, event_state
from citybrain.store import BatchPolicy, CameraRepo, EventWriter, open_store
from citybrain.store.migrate import current_revision, head_revision
from citybrain.store.writer import EVENTS_JOURNAL
from support.postgres import (
    OwnPostgres,
    PostgresUnavailableError,
    create_database,
    drop_database,
    server_from_env,
)

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


def _state(update: EventUpdate, camera_id: int, snapshot: str | None = None) -> EventState:
    """The update as the server's router hands it to the writer (stream t=0 at ``T0``)."""
    return event_state(update, camera_id=camera_id, origin=T0.timestamp(), snapshot=snapshot)


pytestmark = pytest.mark.postgres


def test_forced_own_server_serves_a_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_TEST_PG", "own")  # even when a server runs on port 5432
    try:
        server = server_from_env()
    except PostgresUnavailableError as exc:
        pytest.skip(f"cannot start an own PostgreSQL server: {exc}")
    assert server.own is not None
    own = server.own
    try:
        assert f":{own.port}/" in server.admin_url
        url = create_database(server.admin_url, "citybrain_own")
        store = open_store(url)
        assert current_revision(store.engine) == head_revision()
        with store.session() as session:
            CameraRepo(session).create(CameraFields(name="gate", source="rtsp://u:p@h/s"))
        with store.session() as session:
            assert [c.source for c in CameraRepo(session).list()] == ["rtsp://u:p@h/s"]
        store.close()
        drop_database(server.admin_url, "citybrain_own")
    finally:
        own.remove()
    assert not own.root.exists()


def test_every_event_arrives_once_across_a_server_outage(
    own_postgres: OwnPostgres,
    tmp_path: Path,
    lifecycles: Callable[[int], list[list[EventUpdate]]],
    final_states: Callable[..., None],
) -> None:
    store = open_store(create_database(own_postgres.admin_url, "citybrain"))
    with store.session() as session:
        camera_id = CameraRepo(session).create(CameraFields(name="gate", source="x.mp4")).id
    lives = lifecycles(1500)
    policy = BatchPolicy(batch_size=50, flush_interval_s=0.05, max_buffer=200,
                         retry_initial_s=0.05, retry_max_s=0.5)  # fmt: skip
    writer = EventWriter(store, data_dir=tmp_path, policy=policy)

    lag = 25  # steps between an event's start, update and end

    def produce() -> None:  # ~6 s of interleaved lifecycles
        for step in range(len(lives) + 2 * lag):
            for phase in range(3):
                if 0 <= step - phase * lag < len(lives):
                    writer.submit(_state(lives[step - phase * lag][phase], camera_id))
            time.sleep(0.004)

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(1.5)
    own_postgres.stop()
    time.sleep(3.0)
    during = writer.stats()
    own_postgres.start()
    producer.join()
    assert writer.flush(timeout=120), writer.stats()
    writer.close()
    stats = writer.stats()
    assert during.failures > 0 and during.pending > 0 and during.spilled > 0, during
    assert (stats.pending, stats.rejected, stats.journal_rows) == (0, 0, 0)
    assert not (tmp_path / EVENTS_JOURNAL).exists()
    store.close()
    fresh = open_store(store.engine.url.render_as_string(hide_password=False))
    final_states(fresh, lives, camera_id, origin=T0)
    fresh.close()
