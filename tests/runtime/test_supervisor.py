"""The camera supervisor on a real development clip: real worker processes, real models.

Every test starts one spawned worker process (a few seconds of imports and model loading).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeGuard

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from citybrain.cli import app
from citybrain.core.events import EventPhase
from citybrain.runtime.messages import EventMessage, FrameMessage, HealthMessage, WorkerMessage
from citybrain.runtime.supervisor import Supervisor, SupervisorOptions
from citybrain.runtime.worker_process import WorkerOptions
from citybrain.store import CameraRepo, Store

pytestmark = pytest.mark.slow

CLIP = "worker-zone-detection.mp4"
NICENESS = 3


def niceness_above_ours(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)


def decodes_as_jpeg(data: bytes) -> bool:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    return image is not None and image.ndim == 3


def started(camera_id: int, rule: str | None = None) -> Any:
    def match(message: WorkerMessage) -> bool:
        return (
            isinstance(message, EventMessage)
            and message.camera_id == camera_id
            and message.update.phase == EventPhase.START
            and (rule is None or message.update.event.rule == rule)
        )

    return match


def health_of(
    camera_id: int, *, online: bool
) -> Callable[[WorkerMessage], TypeGuard[HealthMessage]]:
    def match(message: WorkerMessage) -> TypeGuard[HealthMessage]:
        return (
            isinstance(message, HealthMessage)
            and message.health.camera_id == camera_id
            and message.health.online is online
        )

    return match


@pytest.fixture
def watched() -> set[int]:
    """The cameras someone watches live (what the live hub tells a server's supervisor)."""
    return set()


@pytest.fixture
def supervisor(
    models: Path, store: Store, recorder: Any, watched: set[int]
) -> Iterator[Supervisor]:
    # Workers a little nicer than the server, as `citybrain serve` starts them.
    options = SupervisorOptions(workers=1, worker=WorkerOptions(niceness=NICENESS))
    supervisor = Supervisor(store, recorder, options, watched=lambda: watched)
    yield supervisor
    supervisor.close()


def test_camera_runs_sends_typed_messages_and_stops(
    supervisor: Supervisor, recorder: Any, add_camera: Any, store: Store,
    samples_dir: Path, zone_config: dict[str, Any], watched: set[int],
) -> None:  # fmt: skip
    camera_id = add_camera("dock", str(samples_dir / CLIP), zone_config)
    supervisor.start()

    start = recorder.wait_for(started(camera_id), timeout=60)
    assert isinstance(start, EventMessage)
    assert start.update.event.camera == "dock"
    assert start.update.event.label == "person"
    assert start.snapshot_jpeg is not None and decodes_as_jpeg(start.snapshot_jpeg)
    assert abs(start.wall_origin + start.update.event.start - time.time()) < 30
    # Nobody watches: no live frame was rendered, until someone does.
    assert not [m for m in recorder.since(0) if isinstance(m, FrameMessage)]
    watched.add(camera_id)
    supervisor.demand_changed()
    frame = recorder.wait_for(lambda m: isinstance(m, FrameMessage), timeout=10)
    assert isinstance(frame, FrameMessage) and decodes_as_jpeg(frame.jpeg)

    def analysing(message: WorkerMessage) -> bool:
        # The config's rate is 5 fps; the clip plays in real time.
        online = health_of(camera_id, online=True)
        return online(message) and 4 <= message.health.fps_analysed <= 6

    recorder.wait_for(analysing, timeout=15)
    assert supervisor.ready()
    assert supervisor.health()[camera_id].online

    with store.session() as session:
        CameraRepo(session).update(camera_id=camera_id, changes={"enabled": False})
    supervisor.sync(camera_id)
    assert supervisor.settle(10)
    assert camera_id not in supervisor.running()
    assert camera_id not in supervisor.health()
    time.sleep(3.0)  # the worker has stopped the camera by now: no news of it afterwards
    mark = recorder.mark()
    time.sleep(2.0)
    assert not [m for m in recorder.since(mark) if isinstance(m, HealthMessage | FrameMessage)]


def test_config_change_restarts_the_camera(
    supervisor: Supervisor, recorder: Any, add_camera: Any, store: Store,
    samples_dir: Path, zone_config: dict[str, Any],
) -> None:  # fmt: skip
    camera_id = add_camera("dock", str(samples_dir / CLIP), zone_config)
    supervisor.start()
    recorder.wait_for(started(camera_id, "no_entry"), timeout=60)
    pid = supervisor.worker_pids()[0]

    changed = dict(zone_config)
    changed["rules"] = {"keep_out": dict(zone_config["rules"]["no_entry"])}
    with store.session() as session:
        CameraRepo(session).update(camera_id=camera_id, changes={"config": changed})
    mark = recorder.mark()
    supervisor.sync(camera_id)
    assert supervisor.settle(10)
    assert list(supervisor.running()[camera_id].config.rules) == ["keep_out"]

    # The old pipeline ends its open event; the new one starts under the new rule name.
    recorder.wait_for(started(camera_id, "keep_out"), timeout=30, after=mark)
    ends = [
        m for m in recorder.since(mark)
        if isinstance(m, EventMessage) and m.update.phase == EventPhase.END
    ]  # fmt: skip
    assert any(m.update.event.rule == "no_entry" for m in ends)
    assert supervisor.worker_pids()[0] == pid  # a restart of the camera, not of the worker

    supervisor.sync(camera_id)  # nothing changed: no restart
    assert supervisor.settle(10)
    mark = recorder.mark()
    time.sleep(2.0)
    assert not [
        m for m in recorder.since(mark)
        if isinstance(m, EventMessage) and m.update.phase == EventPhase.END
    ]  # fmt: skip


def test_crashed_worker_is_restarted_with_its_cameras(
    supervisor: Supervisor, recorder: Any, add_camera: Any,
    samples_dir: Path, zone_config: dict[str, Any],
) -> None:  # fmt: skip
    camera_id = add_camera("dock", str(samples_dir / CLIP), zone_config)
    supervisor.start()
    recorder.wait_for(started(camera_id), timeout=60)
    pid = supervisor.worker_pids()[0]
    assert pid is not None
    assert niceness_above_ours(pid) == NICENESS

    mark = recorder.mark()
    os.kill(pid, signal.SIGKILL)
    offline = recorder.wait_for(health_of(camera_id, online=False), timeout=5, after=mark)
    assert isinstance(offline, HealthMessage)
    assert "exited" in (offline.health.last_error or "")

    recorder.wait_for(health_of(camera_id, online=True), timeout=60, after=mark)
    recorder.wait_for(started(camera_id), timeout=30, after=mark)
    new_pid = supervisor.worker_pids()[0]
    assert new_pid is not None and new_pid != pid
    assert niceness_above_ours(new_pid) == NICENESS
    assert supervisor.ready()


def test_invalid_config_and_missing_file_are_reported(
    supervisor: Supervisor, recorder: Any, add_camera: Any, tmp_path: Path,
) -> None:  # fmt: skip
    bad = add_camera("bad", str(tmp_path / "x.mp4"), {"rules": {"r": {"kind": "nope"}}})
    missing = add_camera("missing", str(tmp_path / "absent.mp4"), {})
    supervisor.start()
    assert supervisor.settle(10)

    assert bad not in supervisor.running()
    error = supervisor.health()[bad].last_error or ""
    assert "camera 'bad'" in error and "rules" in error

    def missing_file(message: WorkerMessage) -> bool:
        return (
            isinstance(message, HealthMessage)
            and message.health.camera_id == missing
            and "absent.mp4" in (message.health.last_error or "")
        )

    recorder.wait_for(missing_file, timeout=60)
    assert not supervisor.health()[missing].online


def test_cameras_added_outside_the_api_are_picked_up_by_reconcile(
    models: Path, store: Store, recorder: Any, samples_dir: Path, tmp_path: Path
) -> None:
    """``citybrain camera add`` writes the store directly; a running server finds the camera."""
    supervisor = Supervisor(store, recorder, SupervisorOptions(workers=1, reconcile=1.0))
    try:
        supervisor.start()
        config = tmp_path / "dock.yaml"
        config.write_text(
            "zones: {all: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}}\n"
            "rules: {no_entry: {kind: restricted_zone, zone: all, labels: [person]}}\n"
        )
        url = store.engine.url.render_as_string(hide_password=False)
        settings = tmp_path / "server.yaml"
        settings.write_text(
            f"data_dir: {tmp_path / 'data'}\ndatabase_url: {url}\n"
            f"sources: {{file_roots: ['{samples_dir}']}}\n"
        )
        result = CliRunner().invoke(
            app,
            ["camera", "add", "dock", str(samples_dir / CLIP), "-c", str(config),
             "--settings", str(settings)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        with store.session() as session:
            camera = CameraRepo(session).by_name(name="dock")
        assert camera is not None and camera.config["rules"]["no_entry"]["zone"] == "all"
        assert recorder.wait_for(started(camera.id), timeout=60) is not None
        listing = CliRunner().invoke(app, ["camera", "list", "--settings", str(settings)])
        assert "dock\tenabled" in listing.output
        removed = CliRunner().invoke(app, ["camera", "remove", "dock", "--settings", str(settings)])
        assert removed.exit_code == 0, removed.output
        deadline = time.monotonic() + 15
        while camera.id in supervisor.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert camera.id not in supervisor.running()
    finally:
        supervisor.close()


def test_camera_cli_refuses_a_bad_config(store: Store, tmp_path: Path, samples_dir: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("rules: {x: {kind: dwell, zone: nowhere, labels: [car], seconds: 5}}\n")
    result = CliRunner().invoke(
        app, ["camera", "add", "dock", str(samples_dir / CLIP), "-c", str(config),
              "--data", str(tmp_path / "d")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "rules.x.zone: unknown zone 'nowhere'" in result.output
