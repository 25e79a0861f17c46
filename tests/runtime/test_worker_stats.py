"""Workers report their shared detectors and queues (:class:`WorkerStats`) about once a second,
and those reports become the server's detector and queue metrics."""

from __future__ import annotations

import os
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from citybrain.config.model import CameraConfig
from citybrain.core.frame import Image
from citybrain.runtime.messages import WorkerMessage, WorkerStats
from citybrain.runtime.outbox import Outbox
from citybrain.runtime.supervisor import Supervisor, SupervisorOptions
from citybrain.runtime.vision_pool import VisionPool
from citybrain.runtime.worker_handle import LOSSY_QUEUE_SIZE, RELIABLE_QUEUE_SIZE
from citybrain.runtime.worker_process import Worker, WorkerOptions
from citybrain.services.metrics import ServerMetrics
from citybrain.store import Store

CLIP = "worker-zone-detection.mp4"


def first_frame(path: Path) -> Image:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
    raise AssertionError(f"{path} has no video frame")


def camera_config(name: str, confidence: float) -> CameraConfig:
    return CameraConfig.model_validate(
        {"camera": {"name": name}, "detector": {"confidence": confidence},
         "anonymise": {"enabled": False}}
    )  # fmt: skip


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text (labels in any order)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match[1])) == labels:
            return float(match[2])
    raise AssertionError(f"no series {name}{labels} in the metrics")


def test_outbox_stats_count_waiting_and_dropped_messages() -> None:
    reliable: queue.Queue[WorkerMessage] = queue.Queue(maxsize=10)
    lossy: queue.Queue[WorkerMessage] = queue.Queue(maxsize=1)
    outbox = Outbox(reliable, lossy)
    worker = Worker(outbox, WorkerOptions(index=2), pool=VisionPool())
    try:
        assert worker.report() is True
        assert worker.report() is False  # the lossy queue holds one message
        stats = worker.stats()
    finally:
        worker.close()
    assert (stats.worker, stats.pid, stats.detectors) == (2, os.getpid(), ())
    assert (stats.outbox.reliable_depth, stats.outbox.lossy_depth) == (0, 1)
    assert stats.outbox.dropped == 1
    first = lossy.get_nowait()
    assert isinstance(first, WorkerStats) and first.outbox.dropped == 0


def test_pool_names_each_shared_detector_and_counts_its_calls(
    models: Path, samples_dir: Path
) -> None:
    pool = VisionPool()
    worker = Worker(Outbox(queue.Queue(), queue.Queue()), WorkerOptions(), pool=pool)
    try:
        pool.vision(camera_config("a", 0.3))
        strict = pool.vision(camera_config("b", 0.5))  # same model file, another detector
        assert len(strict.detector.detect([first_frame(samples_dir / CLIP)])) == 1
        stats = worker.stats()
    finally:
        worker.close()
    by_name = {d.detector: d for d in stats.detectors}
    assert list(by_name) == ["yolox_nano.onnx", "yolox_nano.onnx#2"]
    assert by_name["yolox_nano.onnx"].batches == 0
    second = by_name["yolox_nano.onnx#2"]
    assert (second.batches, second.images, second.rejected, second.queue_depth) == (1, 1, 0, 0)
    assert second.mean_latency == second.last_latency > 0
    assert second.total_latency == pytest.approx(second.last_latency)


@pytest.fixture
def supervisor(models: Path, store: Store, recorder: Any) -> Iterator[Supervisor]:
    supervisor = Supervisor(store, recorder, SupervisorOptions(workers=1))
    yield supervisor
    supervisor.close()


@pytest.mark.slow
def test_a_real_worker_reports_detector_latency_and_queues_every_second(
    supervisor: Supervisor, recorder: Any, add_camera: Any,
    samples_dir: Path, zone_config: dict[str, Any],
) -> None:  # fmt: skip
    camera_id = add_camera("dock", str(samples_dir / CLIP), zone_config)
    supervisor.start()

    def detecting(message: WorkerMessage) -> bool:
        return isinstance(message, WorkerStats) and any(d.batches > 0 for d in message.detectors)

    mark = recorder.mark()
    latest = recorder.wait_for(detecting, timeout=60, after=mark)
    assert isinstance(latest, WorkerStats)
    assert (latest.worker, latest.pid) == (0, supervisor.worker_pids()[0])
    (detector,) = latest.detectors
    assert detector.detector == "yolox_nano.onnx"
    assert detector.batches > 0 and detector.images >= detector.batches
    assert detector.mean_latency > 0 and detector.last_latency > 0
    assert detector.mean_batch_size >= 1.0
    assert 0 <= detector.queue_depth <= 8  # BatchSettings.max_queue
    depths = (latest.outbox.reliable_depth, latest.outbox.lossy_depth)
    assert depths[0] is not None and 0 <= depths[0] <= RELIABLE_QUEUE_SIZE
    assert depths[1] is not None and 0 <= depths[1] <= LOSSY_QUEUE_SIZE

    # About once a second, totals never going down while the camera runs.
    after = recorder.mark()
    time.sleep(3.0)
    reports = [m for m in recorder.since(mark) if isinstance(m, WorkerStats)]
    later = [m for m in recorder.since(after) if isinstance(m, WorkerStats)]
    assert 2 <= len(later) <= 5, len(later)
    assert {r.pid for r in reports} == {latest.pid}
    batches = [r.detectors[0].batches for r in reports[reports.index(latest) :]]
    assert batches == sorted(batches) and batches[-1] > batches[0]

    metrics = ServerMetrics()
    for report in reports:
        metrics.observe_worker(report)
    text = metrics.render().decode()
    last = reports[-1].detectors[0]
    assert sample(text, "citybrain_detector_latency_seconds_count", worker="0") == last.batches
    assert sample(text, "citybrain_detector_latency_seconds_sum", worker="0") == pytest.approx(
        last.total_latency
    )
    assert sample(text, "citybrain_detector_images_total", worker="0",
                  detector="yolox_nano.onnx") == last.images  # fmt: skip
    assert sample(text, "citybrain_detector_queue_depth", worker="0",
                  detector="yolox_nano.onnx") == last.queue_depth  # fmt: skip
    assert sample(text, "citybrain_worker_queue_depth", worker="0", queue="lossy") >= 0
    assert supervisor.queue_depth() == 0
    assert camera_id in supervisor.running()
