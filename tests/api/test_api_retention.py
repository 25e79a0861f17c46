"""Retention: old events, their snapshot files and old audit entries go; recent ones stay."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from apisupport import World
from fastapi.testclient import TestClient

from citybrain.api.main import create_app
from citybrain.services.retention import RetentionJob
from citybrain.store import AuditRepo, EventQuery, EventRepo

JPEG = b"\xff\xd8 snapshot \xff\xd9"


def _events(world: World) -> set[str]:
    with world.store.session() as session:
        page = EventRepo(session).search(query=EventQuery(), limit=500)
    return {e.id for e in page.items}


def test_retention_deletes_old_events_files_and_audit(client: TestClient, world: World) -> None:
    now = datetime.now(UTC)
    old_at, new_at = now - timedelta(hours=80), now - timedelta(hours=1)
    media = world.services.media
    gate = world.camera("gate")
    old, new = world.event(gate, started_at=old_at), world.event(gate, started_at=new_at)
    old_path = media.save_snapshot(camera_id=gate, event_id=old, jpeg=JPEG, at=old_at)
    new_path = media.save_snapshot(camera_id=gate, event_id=new, jpeg=JPEG, at=new_at)
    world.event(gate, id=old, started_at=old_at, snapshot=old_path)
    world.event(gate, id=new, started_at=new_at, snapshot=new_path)
    stray = media.root / "snapshots" / "9" / "stray.jpg"  # a file whose event is long gone
    stray.parent.mkdir(parents=True)
    stray.write_bytes(JPEG)
    past = (now - timedelta(hours=100)).timestamp()
    os.utime(stray, (past, past))
    with world.store.session() as session:
        AuditRepo(session).record(action="frame.read", username="ann", at=old_at)
        AuditRepo(session).record(action="frame.read", username="bob", at=new_at)
    job = RetentionJob(
        store=world.store, media=media, retention_hours=72, interval_s=3600
    )  # the settings' default retention
    report = job.run_once(now)
    assert (report.events, report.snapshots, report.audit, report.orphans) == (1, 1, 1, 1)
    assert _events(world) == {new}
    assert not (media.root / old_path).exists() and not stray.exists()
    assert (media.root / new_path).read_bytes() == JPEG
    assert not stray.parent.exists()  # emptied folders go too
    with world.store.session() as session:
        left = AuditRepo(session).search(action="frame.read")
    assert [e.username for e in left.items] == ["bob"]
    assert job.run_once(now).events == 0


def test_the_app_runs_retention_in_the_background(world: World) -> None:
    gate = world.camera("gate")
    old = world.event(gate, started_at=datetime.now(UTC) - timedelta(hours=73))
    kept = world.event(gate, started_at=datetime.now(UTC) - timedelta(hours=71))
    app = create_app(world.services, retention_interval_s=0.05)
    with TestClient(app):
        deadline = time.monotonic() + 10
        while old in _events(world):
            assert time.monotonic() < deadline, "the retention thread did not run"
            time.sleep(0.05)
        thread = app.state.retention._thread
        assert thread is not None and thread.is_alive()
    assert _events(world) == {kept}
    assert not thread.is_alive()  # stopped with the app
