"""Events a crashed server left open are ended, with the reason, when the next one starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from citybrain.core.events import EndedBy
from citybrain.records import EventState
from citybrain.store import EventRepo, Store
from citybrain.store.repositories.upserts import upsert_events

#: Recent: a server's retention (72 h by default) would delete older events at start-up.
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def _state(n: int, camera_id: int, ended: bool) -> EventState:
    return EventState(
        id=f"{n:032x}", camera_id=camera_id, kind="occupancy", rule="crowd", zone="yard",
        started_at=T0 + timedelta(minutes=n), ended_at=T0 + timedelta(minutes=n + 1) if ended
        else None, score=0.8, details={"count": 3},
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _left_open(store: Store, camera_id: int) -> list[EventState]:
    """Two open events (one acknowledged by an operator) and one that ended."""
    states = [_state(1, camera_id, False), _state(2, camera_id, False), _state(3, camera_id, True)]
    with store.session() as session:
        upsert_events(session, states)
        EventRepo(session).acknowledge(event_id=states[1].id, username="ann")
    return states


def test_end_open_ends_every_open_event_and_nothing_else(
    store: Store, add_camera: Callable[..., int]
) -> None:
    states = _left_open(store, add_camera())
    at = T0 + timedelta(hours=2)
    with store.session() as session:
        ended = EventRepo(session).end_open(reason=EndedBy.SERVER_RESTART, at=at)
    assert sorted(ended) == [states[0].id, states[1].id]
    with store.session() as session:
        repo = EventRepo(session)
        rows = [repo.get(event_id=s.id) for s in states]
        assert repo.end_open(reason=EndedBy.SERVER_RESTART) == []  # nothing is ended twice
    first, acknowledged, done = rows
    assert first is not None and acknowledged is not None and done is not None
    assert (first.ended_at, first.details) == (at, {"count": 3, "ended_by": "server_restart"})
    assert acknowledged.ended_at == at and acknowledged.status == "acknowledged"
    assert acknowledged.acknowledged_by == "ann"
    assert (done.ended_at, done.details) == (states[2].ended_at, {"count": 3})


def test_a_server_starting_after_a_crash_ends_what_the_last_run_left_open(
    store: Store, add_camera: Callable[..., int], tmp_path: Path
) -> None:
    """A real ``citybrain serve`` on this store (SQLite or PostgreSQL)."""
    states = _left_open(store, add_camera())
    settings = tmp_path / "server.yaml"
    url = store.engine.url.render_as_string(hide_password=False)
    settings.write_text(f"data_dir: {tmp_path / 'data'}\ndatabase_url: {url}\nworkers: 1\n")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CITYBRAIN_SAMPLES", "CITYBRAIN_DATA")}
    citybrain = Path(sys.executable).with_name("citybrain")
    started = datetime.now(UTC)
    with subprocess.Popen(
        [str(citybrain), "serve", "--config", str(settings), "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            assert "serving on" in process.stdout.readline()
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=30)
            process.send_signal(signal.SIGTERM)
            _, log = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 0, log
    assert "2 event(s) the last run left open ended (server_restart)" in log
    with store.session() as session:
        rows = [EventRepo(session).get(event_id=s.id) for s in states]
    for row in rows[:2]:
        assert row is not None and row.ended_at is not None and row.ended_at >= started
        assert row.details["ended_by"] == "server_restart"
    assert rows[2] is not None and json.dumps(rows[2].details) == '{"count": 3}'
