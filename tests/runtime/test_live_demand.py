"""Live frames only for someone: a worker renders (anonymises, encodes) a camera's live frames
only while the server says someone watches it, and never on the analysis thread."""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from citybrain.config.model import CameraConfig
from citybrain.core.detections import Detections
from citybrain.core.frame import Frame, Image
from citybrain.runtime.live import DemandLease, LiveRenderer
from citybrain.runtime.messages import (
    FrameMessage,
    HealthMessage,
    LiveDemand,
    StartCamera,
    WorkerMessage,
)
from citybrain.runtime.outbox import Outbox
from citybrain.runtime.worker_process import Worker, WorkerOptions
from citybrain.sinks.base import AnalysedFrame

CLIP = "worker-zone-detection.mp4"


class Up:
    """The worker's two queues up, read into lists as a server's drain threads would."""

    def __init__(self) -> None:
        self.reliable: queue.Queue[WorkerMessage] = queue.Queue()
        self.lossy: queue.Queue[WorkerMessage] = queue.Queue()
        self.frames: list[FrameMessage] = []
        self.health: list[HealthMessage] = []

    def drain(self) -> None:
        while True:
            try:
                message = self.lossy.get_nowait()
            except queue.Empty:
                return
            if isinstance(message, FrameMessage):
                self.frames.append(message)
            elif isinstance(message, HealthMessage):
                self.health.append(message)

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.drain()
            time.sleep(0.05)


@pytest.fixture
def up() -> Up:
    return Up()


@pytest.fixture
def worker(models: Path, up: Up) -> Iterator[Worker]:
    worker = Worker(Outbox(up.reliable, up.lossy), WorkerOptions())
    yield worker
    worker.close()


def analysing_reports(up: Up) -> int:
    """Health reports (about one a second) saying the camera analyses at its rate."""
    return sum(1 for h in up.health if h.health.online and h.health.fps_analysed >= 3)


def test_a_camera_nobody_watches_renders_no_live_frame_until_someone_does(
    worker: Worker, up: Up, samples_dir: Path
) -> None:
    config = CameraConfig.model_validate({"camera": {"name": "dock", "fps": 5}})
    assert config.anonymise.enabled  # the live frames cost a face detection each
    worker.handle(StartCamera(7, str(samples_dir / CLIP), config, realtime=True, loop=True))
    deadline = time.monotonic() + 30
    while analysing_reports(up) < 3:  # the camera analyses...
        assert time.monotonic() < deadline, "the camera analysed nothing"
        up.wait(0.2)
    assert up.frames == [] and worker.live.rendered == 0  # ...and renders nothing for nobody
    assert worker.stats().live_frames == 0

    worker.handle(LiveDemand((7,), until=time.time() + 30))  # a viewer comes
    deadline = time.monotonic() + 10
    while len(up.frames) < 2:
        assert time.monotonic() < deadline, "no live frame for the viewer"
        up.wait(0.1)
    image = cv2.imdecode(np.frombuffer(up.frames[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.ndim == 3
    assert {f.camera_id for f in up.frames} == {7}
    assert worker.stats().live_frames >= 2

    worker.handle(LiveDemand((), until=time.time() + 30))  # the viewer leaves
    up.wait(0.5)  # a frame being rendered as it left may still come
    seen, rendered = len(up.frames), worker.live.rendered
    up.wait(1.5)
    assert len(up.frames) == seen and worker.live.rendered == rendered

    worker.handle(LiveDemand((7,), until=time.time() + 1.0))  # a lease nobody renews
    up.wait(2.0)
    assert len(up.frames) > seen, "the viewer's lease brought no frame"
    seen = len(up.frames)
    up.wait(1.5)
    assert len(up.frames) == seen, "frames went on after the lease ran out"


def first_frame(path: Path) -> Frame:
    with av.open(str(path)) as container:
        for decoded in container.decode(video=0):
            image = np.asarray(decoded.to_ndarray(format="bgr24"), dtype=np.uint8)
            return Frame(image=image, timestamp=0.0, index=0)
    raise AssertionError(f"{path} has no video frame")


def test_a_busy_renderer_keeps_only_each_cameras_newest_frame(samples_dir: Path) -> None:
    lossy: queue.Queue[WorkerMessage] = queue.Queue()
    renderer = LiveRenderer(Outbox(queue.Queue(), lossy))
    frame = first_frame(samples_dir / CLIP)
    busy, release = threading.Event(), threading.Event()

    def slow(image: Image, _detections: Detections) -> Image:
        busy.set()
        release.wait(10)
        return image.copy()

    def quick(image: Image, _detections: Detections) -> Image:
        return image.copy()

    try:
        renderer.offer(1, AnalysedFrame(0.0, Detections.empty(), frame, slow))
        assert busy.wait(10)  # the render thread is held up on camera 1's frame
        for stamp in (1.0, 2.0, 3.0):  # camera 2 offers three frames meanwhile
            renderer.offer(2, AnalysedFrame(stamp, Detections.empty(), frame, quick))
        assert renderer.superseded == 2
        release.set()
        deadline = time.monotonic() + 10
        while renderer.rendered < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        release.set()
        renderer.close()
    sent = [lossy.get_nowait() for _ in range(lossy.qsize())]
    assert [(m.camera_id, m.timestamp) for m in sent if isinstance(m, FrameMessage)] == [
        (1, 0.0),
        (2, 3.0),
    ]


def test_the_demand_goes_out_when_it_changes_and_is_renewed_while_it_holds() -> None:
    watched: set[int] = set()
    lease = DemandLease(lambda: watched, lease=3.0, renew=0.2)
    first = lease.due()
    assert first is not None and first.camera_ids == ()  # workers start knowing nothing
    assert lease.due() is None  # nobody watches: nothing more to say
    watched.add(4)
    now = time.time()
    demand = lease.due()
    assert demand is not None and demand.camera_ids == (4,) and now + 2.5 < demand.until
    assert lease.due() is None
    time.sleep(0.25)
    renewed = lease.due()
    assert renewed is not None and renewed.camera_ids == (4,) and renewed.until > demand.until
    lease.reset()  # a worker restarted
    assert lease.due() is not None
    watched.clear()
    gone = lease.due()
    assert gone is not None and gone.camera_ids == ()
    with pytest.raises(ValueError, match="renew"):
        DemandLease(lambda: watched, lease=1.0, renew=1.0)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="threads have nice values on Linux"
)
def test_the_render_thread_yields_to_the_analysis_threads() -> None:
    renderer = LiveRenderer(Outbox(queue.Queue(), queue.Queue()), niceness=7)
    try:
        tid = renderer._thread.native_id
        assert tid is not None
        deadline = time.monotonic() + 5
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        while os.getpriority(os.PRIO_PROCESS, tid) != min(mine + 7, 19):
            assert time.monotonic() < deadline, "the render thread kept its priority"
            time.sleep(0.01)
    finally:
        renderer.close()
