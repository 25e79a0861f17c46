"""A camera with an analysis source (issue 15): the worker decodes and analyses that stream (a
low-resolution substream); the viewing source only while someone watches, and where it cannot
be read, live frames are the analysed stream's (tests/runtime/test_viewing_stream.py shows the
viewing stream when it can)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from citybrain.records import CameraFields
from citybrain.runtime.camera_plan import plan_camera
from citybrain.runtime.messages import FrameMessage, HealthMessage, WorkerMessage
from citybrain.runtime.supervisor import Supervisor, SupervisorOptions
from citybrain.store import CameraRepo, Store

CLIP = "worker-zone-detection.mp4"  # 480x270
#: Nothing listens there: the analysis must not depend on it, and live frames fall back.
VIEWING = "rtsp://viewer:s3cret@127.0.0.1:9/main"


def test_the_plan_reads_the_analysis_source_and_paces_it_as_its_kind(samples_dir: Path) -> None:
    clip = str(samples_dir / CLIP)
    plan = plan_camera(1, "dock", VIEWING, {}, analysis_source=clip)
    command = plan.start_command()
    assert (command.source, command.read_source) == (VIEWING, clip)
    assert plan.realtime and plan.loop  # a file analysed: played like a camera
    live = plan_camera(1, "dock", clip, {}, analysis_source=VIEWING)
    assert not live.realtime and not live.loop and live.safe_source == "rtsp://***@127.0.0.1:9/main"
    assert plan_camera(1, "dock", VIEWING, {}).start_command().read_source == VIEWING


def test_the_supervisor_runs_a_stored_cameras_analysis_source(
    models: Path, store: Store, samples_dir: Path
) -> None:
    up: list[WorkerMessage] = []
    with store.session() as session:
        fields = CameraFields(name="dock", source=VIEWING, analysis_source=str(samples_dir / CLIP))
        camera_id = CameraRepo(session).create(fields).id
    supervisor = Supervisor(
        store, up.append, SupervisorOptions(workers=1), watched=lambda: {camera_id}
    )
    supervisor.start()
    try:
        deadline = time.monotonic() + 60
        while not any(isinstance(m, FrameMessage) for m in list(up)):
            assert time.monotonic() < deadline, "no live frame of the analysis source"
            time.sleep(0.2)
        frame = next(m for m in list(up) if isinstance(m, FrameMessage))
        image = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[:2] == (270, 480)  # the analysed stream's
        health = [m.health for m in list(up) if isinstance(m, HealthMessage)]
        assert health and all(h.last_error is None for h in health), health[-1]
        assert any(h.online for h in health)
    finally:
        supervisor.close()
