"""The way up from a worker: full queues drop frames and health, never events or counts; a busy
shared detector makes the camera drop its frame instead of queueing it."""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import pytest

from citybrain.core.detections import Detections
from citybrain.core.events import Event, EventPhase, EventUpdate, LineCount
from citybrain.core.frame import Image
from citybrain.pipeline import DetectorBusyError
from citybrain.runtime.health_board import offline_health
from citybrain.runtime.messages import (
    CountMessage,
    EventMessage,
    FrameMessage,
    HealthMessage,
    WorkerMessage,
)
from citybrain.runtime.outbox import Outbox, OutboxClosedError
from citybrain.runtime.vision_pool import SharedDetector
from citybrain.vision.batching import BatchingDetector
from citybrain.vision.detector import Detector, DetectorSpec, build_detector


def event_message(camera_id: int, n: int) -> EventMessage:
    event = Event(
        id=f"e{n}", kind="restricted_zone", rule="r", camera="c", zone="z", line=None,
        label="person", track_id=n, start=float(n), end=None, score=0.9,
        bbox=(0.1, 0.1, 0.2, 0.2), snapshot_at=float(n),
    )  # fmt: skip
    return EventMessage(camera_id, EventUpdate(EventPhase.START, event), 1.7e9, b"\xff\xd8jpeg")


def count_message(camera_id: int) -> CountMessage:
    count = LineCount("c", "r", "l", 0.0, 60.0, "in", "car", 3)
    return CountMessage(camera_id, count, 1.7e9)


def drain(q: queue.Queue[WorkerMessage]) -> list[WorkerMessage]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def test_full_lossy_queue_drops_frames_and_health_not_events() -> None:
    reliable: queue.Queue[WorkerMessage] = queue.Queue(maxsize=100)
    lossy: queue.Queue[WorkerMessage] = queue.Queue(maxsize=2)
    outbox = Outbox(reliable, lossy)
    for i in range(5):
        outbox.send(FrameMessage(1, b"\xff\xd8", float(i)))
    assert outbox.send(HealthMessage(offline_health(1))) is False
    for i in range(10):
        assert outbox.send(event_message(1, i)) is True
    assert outbox.send(count_message(1)) is True

    assert outbox.dropped == 4
    assert [m.timestamp for m in drain(lossy) if isinstance(m, FrameMessage)] == [0.0, 1.0]
    delivered = drain(reliable)
    assert [m.update.event.id for m in delivered if isinstance(m, EventMessage)] == [
        f"e{i}" for i in range(10)
    ]
    assert sum(isinstance(m, CountMessage) for m in delivered) == 1


def test_full_reliable_queue_makes_the_sender_wait_not_drop() -> None:
    reliable: queue.Queue[WorkerMessage] = queue.Queue(maxsize=2)
    lossy: queue.Queue[WorkerMessage] = queue.Queue(maxsize=2)
    outbox = Outbox(reliable, lossy, retry_seconds=0.05)
    sent = threading.Event()

    def send_five() -> None:
        for i in range(5):
            outbox.send(event_message(1, i))
        sent.set()

    sender = threading.Thread(target=send_five)
    sender.start()
    time.sleep(0.3)
    assert not sent.is_set()  # waiting for room, not dropping
    received: list[str] = []
    while len(received) < 5:
        message = reliable.get(timeout=5)
        assert isinstance(message, EventMessage)
        received.append(message.update.event.id)
    sender.join(5)
    assert sent.is_set()
    assert received == [f"e{i}" for i in range(5)]
    assert outbox.dropped == 0


def test_closed_outbox_refuses_instead_of_hanging() -> None:
    reliable: queue.Queue[WorkerMessage] = queue.Queue(maxsize=1)
    outbox = Outbox(reliable, queue.Queue(maxsize=1), retry_seconds=0.05)
    outbox.send(event_message(1, 0))
    outbox.close()
    with pytest.raises(OutboxClosedError, match="EventMessage of camera 1"):
        outbox.send(event_message(1, 1))


def test_outbox_over_process_queues_keeps_events() -> None:
    ctx = multiprocessing.get_context("spawn")
    reliable: multiprocessing.Queue[WorkerMessage] = ctx.Queue(50)
    lossy: multiprocessing.Queue[WorkerMessage] = ctx.Queue(1)
    outbox = Outbox(reliable, lossy)
    frames = [outbox.send(FrameMessage(2, b"\xff\xd8", float(i))) for i in range(20)]
    for i in range(20):
        outbox.send(event_message(2, i))
    got = [reliable.get(timeout=5) for _ in range(20)]
    assert [m.update.event.id for m in got if isinstance(m, EventMessage)] == [
        f"e{i}" for i in range(20)
    ]
    assert frames.count(True) >= 1 and frames.count(False) >= 18
    for q in (reliable, lossy):
        q.close()
        q.join_thread()


class Gated:
    """The real detector, entered only once the test opens the gate (to fill the queue)."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.labels = detector.labels
        self.gate = threading.Event()
        self.entered = threading.Event()

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        self.entered.set()
        self.gate.wait(timeout=30)
        return self.detector.detect(images)


def test_busy_shared_detector_drops_the_frame(model_dir: Path, samples_dir: Path) -> None:
    with av.open(str(samples_dir / "worker-zone-detection.mp4")) as container:
        frame = next(container.decode(video=0))
        image = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
    gated = Gated(build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx", threads=1)))
    batcher = BatchingDetector(gated, max_batch=1, max_queue=1)
    camera_a, camera_b = SharedDetector(batcher), SharedDetector(batcher)
    try:
        results: list[list[Detections]] = []
        first = threading.Thread(target=lambda: results.append(camera_a.detect([image])))
        first.start()
        assert gated.entered.wait(10)  # the worker holds the first request
        assert batcher.submit(image) is not None  # fills the one queue slot
        with pytest.raises(DetectorBusyError):
            camera_b.detect([image])
        assert batcher.stats().rejected == 1
        gated.gate.set()
        first.join(30)
        (detections,) = results[0]
        (direct,) = gated.detector.detect([image])
        assert len(detections) >= 1  # a real detection came back to the camera that waited
        assert np.allclose(detections.xyxy, direct.xyxy)
    finally:
        gated.gate.set()
        batcher.close()
