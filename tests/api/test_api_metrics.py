"""``GET /metrics``: the workers' detector and queue reports, routed through the server's message
sink, as Prometheus series; counters never go down, even when a worker restarts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from apisupport import World
from fastapi.testclient import TestClient

from citybrain.config.server import ServerSettings
from citybrain.records import Role
from citybrain.runtime.messages import DetectorStats, OutboxStats, WorkerStats
from citybrain.server.app import build_server
from citybrain.services.router import MessageRouter
from citybrain.store import CountWriter, EventWriter, MediaStore

MODEL = "yolox_nano.onnx"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text (labels in any order)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match[1])) == labels:
            return float(match[2])
    raise AssertionError(f"no series {name}{labels} in:\n{text}")


def report(
    pid: int, *, batches: int, seconds: float, images: int, rejected: int, depth: int,
    dropped: int,
) -> WorkerStats:  # fmt: skip
    """A report of worker 1 with totals since its start (``seconds``: all calls together)."""
    detector = DetectorStats(
        detector=MODEL, batches=batches, images=images, rejected=rejected, queue_depth=depth,
        mean_batch_size=images / batches, mean_latency=seconds / batches, last_latency=0.03,
    )  # fmt: skip
    outbox = OutboxStats(reliable_depth=depth + 2, lossy_depth=depth + 1, dropped=dropped)
    return WorkerStats(worker=1, pid=pid, detectors=(detector,), outbox=outbox)


@pytest.fixture
def sink(world: World, tmp_path: Path) -> Iterator[MessageRouter]:
    services = world.services
    events = EventWriter(world.store, data_dir=tmp_path / "writers")
    counts = CountWriter(world.store, data_dir=tmp_path / "writers")
    try:
        yield MessageRouter(
            events=events, counts=counts, hub=services.hub, media=MediaStore(tmp_path / "media"),
            metrics=services.metrics,
        )  # fmt: skip
    finally:
        events.close()
        counts.close()


def test_worker_stats_become_detector_and_queue_series(
    client: TestClient, world: World, sink: MessageRouter
) -> None:
    admin = world.user("root", Role.ADMIN)

    def scrape() -> str:
        response = client.get("/metrics", headers=admin)
        assert response.status_code == 200
        return str(response.text)

    worker = {"worker": "1"}
    detector = {"worker": "1", "detector": MODEL}
    # 10 calls of 15 ms on average, then 4 more of 30 ms.
    sink.handle(report(100, batches=10, seconds=0.15, images=25, rejected=2, depth=3, dropped=1))
    sink.handle(report(100, batches=14, seconds=0.27, images=33, rejected=2, depth=1, dropped=1))
    text = scrape()
    assert sample(text, "citybrain_detector_latency_seconds_count", **worker) == 14
    assert sample(text, "citybrain_detector_latency_seconds_sum", **worker) == pytest.approx(0.27)
    assert sample(text, "citybrain_detector_latency_seconds_bucket", **worker, le="0.02") == 10
    assert sample(text, "citybrain_detector_latency_seconds_bucket", **worker, le="0.05") == 14
    assert sample(text, "citybrain_detector_batch_size", **detector) == 2.0  # 8 images, 4 calls
    assert sample(text, "citybrain_detector_images_total", **detector) == 33
    assert sample(text, "citybrain_detector_queue_depth", **detector) == 1
    assert sample(text, "citybrain_detector_rejected_total", **detector) == 2
    assert sample(text, "citybrain_worker_queue_depth", **worker, queue="reliable") == 3
    assert sample(text, "citybrain_worker_queue_depth", **worker, queue="lossy") == 2
    assert sample(text, "citybrain_worker_messages_dropped_total", **worker) == 1
    for name in ("detector_latency_seconds", "detector_batch_size", "detector_images_total",
                 "detector_queue_depth", "detector_rejected_total", "worker_queue_depth",
                 "worker_messages_dropped_total"):  # fmt: skip
        assert re.search(rf"^# HELP citybrain_{name} \S", text, re.MULTILINE), name

    # The worker was restarted (another pid): its totals start again from zero, the counters
    # go on from where they were.
    sink.handle(report(200, batches=3, seconds=0.3, images=3, rejected=1, depth=0, dropped=0))
    text = scrape()
    assert sample(text, "citybrain_detector_latency_seconds_count", **worker) == 17
    assert sample(text, "citybrain_detector_latency_seconds_sum", **worker) == pytest.approx(0.57)
    assert sample(text, "citybrain_detector_latency_seconds_bucket", **worker, le="0.1") == 17
    assert sample(text, "citybrain_detector_images_total", **detector) == 36
    assert sample(text, "citybrain_detector_rejected_total", **detector) == 3
    assert sample(text, "citybrain_detector_queue_depth", **detector) == 0
    assert sample(text, "citybrain_worker_messages_dropped_total", **worker) == 1

    # A late report of the process that was replaced changes nothing.
    sink.handle(report(100, batches=15, seconds=0.3, images=35, rejected=4, depth=2, dropped=2))
    later = scrape()
    for name, labels in (("citybrain_detector_latency_seconds_count", worker),
                         ("citybrain_detector_rejected_total", detector),
                         ("citybrain_detector_images_total", detector),
                         ("citybrain_detector_queue_depth", detector),
                         ("citybrain_worker_messages_dropped_total", worker)):  # fmt: skip
        assert sample(later, name, **labels) == sample(text, name, **labels), name


def test_the_server_exposes_its_own_queue_depths(tmp_path: Path) -> None:
    server = build_server(ServerSettings(data_dir=tmp_path / "data"))
    try:
        metrics = server.services.metrics
        text = metrics.render().decode()
        for queue in ("supervisor", "events", "counts"):
            assert sample(text, "citybrain_queue_depth", queue=queue) == 0, queue
        server.supervisor.sync(1)  # not started: the request waits for the control thread
        server.supervisor.sync(2)
        text = metrics.render().decode()
        assert sample(text, "citybrain_queue_depth", queue="supervisor") == 2
    finally:
        server.close()
