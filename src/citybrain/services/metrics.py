"""Prometheus metrics of one server, in a private registry (never the process-global one).

The runtime updates them through the methods of :class:`ServerMetrics`; ``GET /metrics``
renders them. Cameras are labelled by id: names change and may say more than they should.
Worker processes are labelled by slot (``worker="0"``), their shared detectors by model file
name (``detector="yolox_s.onnx"``).

Workers report totals that count from their own start (:class:`WorkerStats`); counters here only
ever increase, so each report is turned into increments against the previous one of the same
process, and a restarted worker (another pid) counts from zero again.

Example:
    >>> metrics = ServerMetrics()
    >>> metrics.count_event(camera_id=3, kind="restricted_zone")
    >>> b'citybrain_events_total{camera="3",kind="restricted_zone"} 1.0' in metrics.render()
    True
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from citybrain.records import CameraHealth
from citybrain.runtime.messages import DetectorStats, OutboxStats, WorkerStats

__all__ = ["CONTENT_TYPE", "ServerMetrics"]

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class ServerMetrics:
    """The server's metric objects and the calls that update them (thread-safe)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.fps = Gauge(
            "citybrain_camera_fps", "Frames per second of a camera, by stage (decoded, analysed).",
            ["camera", "stage"], registry=r,
        )  # fmt: skip
        self.online = Gauge(
            "citybrain_camera_online", "1 while frames arrive from the camera.", ["camera"],
            registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            "citybrain_camera_lag_seconds", "Seconds since the camera's last analysed frame.",
            ["camera"], registry=r,
        )  # fmt: skip
        self.dropped = Gauge(
            "citybrain_camera_frames_dropped", "Frames dropped so far by the camera's pipeline.",
            ["camera"], registry=r,
        )  # fmt: skip
        self.reconnects = Gauge(
            "citybrain_camera_reconnects", "Reconnections to the camera so far.", ["camera"],
            registry=r,
        )  # fmt: skip
        self.hw_decoding = Gauge(
            "citybrain_camera_hw_decoding",
            "1 while a device (a GPU) decodes the camera's stream, 0 in software (its health "
            "names the device).",
            ["camera"], registry=r,
        )  # fmt: skip
        self.detector_latency = Histogram(
            "citybrain_detector_latency_seconds",
            "Seconds per detector call (one batch) in a worker: the mean of each worker report "
            "(about 1 s) is observed once per call made in it (sum and count are exact).",
            ["worker"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "citybrain_queue_depth",
            "Items waiting in a server queue (supervisor: camera syncs; events, counts: rows "
            "not in the database yet).",
            ["queue"], registry=r,
        )  # fmt: skip
        self._worker_metrics(r)
        self.events = Counter(
            "citybrain_events", "Events started, by camera and kind (rate() = events/s).",
            ["camera", "kind"], registry=r,
        )  # fmt: skip
        self.live_subscribers = Gauge(
            "citybrain_live_subscribers", "Open live event streams.", registry=r
        )

    def _worker_metrics(self, r: CollectorRegistry) -> None:
        by_detector = ["worker", "detector"]
        self.detector_images = Counter(
            "citybrain_detector_images", "Images detected by a worker's shared detector.",
            by_detector, registry=r,
        )  # fmt: skip
        self.detector_batch_size = Gauge(
            "citybrain_detector_batch_size",
            "Mean images per call of a shared detector since the worker's previous report "
            "(0 when it made no call).",
            by_detector, registry=r,
        )  # fmt: skip
        self.detector_queue_depth = Gauge(
            "citybrain_detector_queue_depth", "Frames waiting for a worker's shared detector.",
            by_detector, registry=r,
        )  # fmt: skip
        self.detector_rejected = Counter(
            "citybrain_detector_rejected",
            "Frames a shared detector refused because its queue was full (the camera dropped "
            "them).",
            by_detector, registry=r,
        )  # fmt: skip
        self.worker_queue_depth = Gauge(
            "citybrain_worker_queue_depth",
            "Messages waiting in a worker's queue up to the server (reliable: events and counts; "
            "lossy: health, frames, stats).",
            ["worker", "queue"], registry=r,
        )  # fmt: skip
        self.worker_dropped = Counter(
            "citybrain_worker_messages_dropped",
            "Health, frame and stats messages a worker dropped because its lossy queue was full.",
            ["worker"], registry=r,
        )  # fmt: skip
        self.live_frames = Counter(
            "citybrain_live_frames",
            "Anonymised live frames a worker rendered and encoded (only while someone watches).",
            ["worker"], registry=r,
        )  # fmt: skip
        self._totals = _Totals()
        self._worker_lock = threading.Lock()

    def observe_health(self, health: CameraHealth) -> None:
        """Update a camera's gauges from its latest health report."""
        camera = str(health.camera_id)
        self.fps.labels(camera, "decoded").set(health.fps_in)
        self.fps.labels(camera, "analysed").set(health.fps_analysed)
        self.online.labels(camera).set(1 if health.online else 0)
        self.lag.labels(camera).set(health.lag_seconds if health.lag_seconds is not None else 0)
        self.dropped.labels(camera).set(health.frames_dropped)
        self.reconnects.labels(camera).set(health.reconnects)
        self.hw_decoding.labels(camera).set(0 if health.decoder == "software" else 1)

    def observe_detector(self, *, seconds: float, worker: int = 0, calls: int = 1) -> None:
        """Record ``calls`` detector calls of ``seconds`` each."""
        child = self.detector_latency.labels(str(worker))
        for _ in range(calls):  # the client has no weighted observe
            child.observe(seconds)

    def observe_worker(self, stats: WorkerStats) -> None:
        """Update the detector and queue metrics of a worker from its latest report."""
        with self._worker_lock:  # each worker's reports arrive on its own drain thread
            if not self._totals.begin(stats.worker, stats.pid):
                return  # a late report of a process that was since replaced
            for detector in stats.detectors:
                self._observe_shared_detector(stats.worker, detector)
            self._observe_outbox(str(stats.worker), stats.outbox)
            slot = str(stats.worker)
            self.live_frames.labels(slot).inc(self._totals.step((slot, "live"), stats.live_frames))

    def watch_queue(self, queue: str, depth: Callable[[], int]) -> None:
        """Read ``queue``'s depth from ``depth()`` at every scrape."""
        self.queue_depth.labels(queue).set_function(lambda: float(depth()))

    def set_queue_depth(self, *, queue: str, depth: int) -> None:
        """Record how many items wait in ``queue`` (e.g. ``"events"``, ``"worker-0"``)."""
        self.queue_depth.labels(queue).set(depth)

    def count_event(self, *, camera_id: int, kind: str, n: int = 1) -> None:
        """Count ``n`` started events."""
        self.events.labels(str(camera_id), kind).inc(n)

    def forget_camera(self, camera_id: int) -> None:
        """Drop a deleted camera's series."""
        camera = str(camera_id)
        for stage in ("decoded", "analysed"):
            self._remove(self.fps, camera, stage)
        for gauge in (self.online, self.lag, self.dropped, self.reconnects, self.hw_decoding):
            self._remove(gauge, camera)
        for labels in list(self._label_sets(self.events)):
            if labels[0] == camera:
                self._remove(self.events, *labels)

    def _observe_shared_detector(self, worker: int, stats: DetectorStats) -> None:
        labels = (str(worker), stats.detector)
        step = self._totals.step
        calls = int(step((*labels, "batches"), stats.batches))
        seconds = step((*labels, "latency"), stats.total_latency)
        images = step((*labels, "images"), stats.images)
        if calls:
            self.observe_detector(seconds=seconds / calls, worker=worker, calls=calls)
        self.detector_images.labels(*labels).inc(images)
        self.detector_batch_size.labels(*labels).set(images / calls if calls else 0.0)
        self.detector_queue_depth.labels(*labels).set(stats.queue_depth)
        self.detector_rejected.labels(*labels).inc(step((*labels, "rejected"), stats.rejected))

    def _observe_outbox(self, worker: str, outbox: OutboxStats) -> None:
        for queue, depth in (("reliable", outbox.reliable_depth), ("lossy", outbox.lossy_depth)):
            if depth is not None:
                self.worker_queue_depth.labels(worker, queue).set(depth)
        self.worker_dropped.labels(worker).inc(
            self._totals.step((worker, "dropped"), outbox.dropped)
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

    @staticmethod
    def _label_sets(metric: Counter) -> list[tuple[str, ...]]:
        seen: set[tuple[str, ...]] = set()
        for family in metric.collect():
            for sample in family.samples:
                seen.add(tuple(sample.labels[name] for name in ("camera", "kind")))
        return sorted(seen)

    @staticmethod
    def _remove(metric: Gauge | Counter, *labels: str) -> None:
        with contextlib.suppress(KeyError):  # never set for this camera
            metric.remove(*labels)


class _Totals:
    """Turns totals counted from a worker process's start into increments (never negative).

    A worker slot's totals start from zero again when another process reports for it (the
    worker was restarted); reports of the process it replaced, arriving late, no longer count.
    """

    def __init__(self) -> None:
        self._pids: dict[int, int] = {}  # worker slot -> its current process
        self._retired: set[tuple[int, int]] = set()
        self._last: dict[tuple[str, ...], float] = {}

    def begin(self, worker: int, pid: int) -> bool:
        """Start a report of ``worker`` by process ``pid``; ``False`` when it must be ignored."""
        if (worker, pid) in self._retired:
            return False
        current = self._pids.get(worker)
        if current != pid:
            if current is not None:
                self._retired.add((worker, current))
            self._pids[worker] = pid
            slot = str(worker)
            self._last = {key: v for key, v in self._last.items() if key[0] != slot}
        return True

    def step(self, key: tuple[str, ...], total: float) -> float:
        """How much ``total`` grew since the previous report; ``key[0]`` is the worker slot."""
        last = self._last.get(key, 0.0)
        # A total of one process never shrinks; a float total may wobble by a rounding error.
        self._last[key] = max(total, last)
        return max(total - last, 0.0)
