"""An event shown live is still in the writer's batch for a moment: an operator who acts on it
at once must find it (real writer, real store, SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from apisupport import FAST_PASSWORDS, T0, RecordingCameras, World
from fastapi.testclient import TestClient

from citybrain.api.main import create_app
from citybrain.config.server import ServerSettings
from citybrain.core.events import new_event_id
from citybrain.records import EventState, Role
from citybrain.services import Services
from citybrain.store import EventRepo, Store
from citybrain.store.batching import BatchPolicy
from citybrain.store.writer import EventWriter

#: A writer that would hold a partial batch for a minute unless asked to flush.
SLOW = BatchPolicy(flush_interval_s=60.0)


@pytest.fixture
def writer(store: Store, tmp_path: Path) -> Iterator[EventWriter]:
    events = EventWriter(store, data_dir=tmp_path / "writers", policy=SLOW)
    try:
        yield events
    finally:
        events.close()


@pytest.fixture
def services(
    store: Store, cameras: RecordingCameras, tmp_path: Path, writer: EventWriter
) -> Services:
    """The API's services as the server makes them: waiting for this writer."""
    settings = ServerSettings(data_dir=tmp_path / "data", token_hours=1.0)
    return replace(Services.of(settings, store, cameras), events_written=writer.flush)


def pending_event(world: World, writer: EventWriter) -> str:
    camera = world.camera("gate")
    state = EventState(
        id=new_event_id(), camera_id=camera, kind="restricted_zone", rule="intruders",
        zone="site", line=None, label="person", track_id=1, started_at=T0, ended_at=None,
        score=0.9, bbox=[0.1, 0.2, 0.3, 0.4], details={}, snapshot=None,
    )  # fmt: skip
    writer.submit(state)
    with world.store.session() as session:
        assert EventRepo(session).get(event_id=state.id) is None, "the batch is still pending"
    return state.id


def test_an_event_still_in_the_batch_can_be_read_and_acknowledged(
    client: TestClient, world: World, writer: EventWriter
) -> None:
    operator = world.user("opa", Role.OPERATOR)
    event_id = pending_event(world, writer)
    response = client.post(f"/api/events/{event_id}/acknowledge", headers=operator)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "acknowledged"
    stored = client.get(f"/api/events/{event_id}", headers=operator).json()
    assert stored["acknowledged_by"] == "opa"


def test_an_unknown_event_is_still_not_found(
    client: TestClient, world: World, writer: EventWriter
) -> None:
    operator = world.user("opa", Role.OPERATOR)
    pending_event(world, writer)
    assert client.get(f"/api/events/{new_event_id()}", headers=operator).status_code == 404
    assert client.post(f"/api/events/{new_event_id()}/resolve", headers=operator).status_code == 404


def test_without_the_wait_the_pending_event_is_a_404(
    client: TestClient, world: World, writer: EventWriter
) -> None:
    """The check above can fail: with no writer to wait for, the same request is refused."""
    operator = world.user("opa", Role.OPERATOR)
    event_id = pending_event(world, writer)
    services = replace(world.services, events_written=nothing_to_wait_for)
    app = create_app(services, retention_interval_s=3600.0, passwords=FAST_PASSWORDS)
    with TestClient(app) as impatient:
        response = impatient.post(f"/api/events/{event_id}/acknowledge", headers=operator)
    assert response.status_code == 404


def nothing_to_wait_for(_timeout: float) -> bool:
    return True
