"""Prometheus metrics of one server, in a private registry (never the process-global one).

The runtime updates them through the methods of :class:`ServerMetrics`; ``GET /metrics``
renders them. Cameras are labelled by id: names change and may say more than they should.

Example:
    >>> metrics = ServerMetrics()
    >>> metrics.count_event(camera_id=3, kind="restricted_zone")
    >>> b'citybrain_events_total{camera="3",kind="restricted_zone"} 1.0' in metrics.render()
    True
"""

from __future__ import annotations

import contextlib

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from citybrain.runtime.messages import CameraHealth

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
        self.detector_latency = Histogram(
            "citybrain_detector_latency_seconds", "Time of one detector call (one batch).",
            ["worker"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "citybrain_queue_depth", "Items waiting in a queue.", ["queue"], registry=r
        )
        self.events = Counter(
            "citybrain_events", "Events started, by camera and kind (rate() = events/s).",
            ["camera", "kind"], registry=r,
        )  # fmt: skip
        self.live_subscribers = Gauge(
            "citybrain_live_subscribers", "Open live event streams.", registry=r
        )

    def observe_health(self, health: CameraHealth) -> None:
        """Update a camera's gauges from its latest health report."""
        camera = str(health.camera_id)
        self.fps.labels(camera, "decoded").set(health.fps_in)
        self.fps.labels(camera, "analysed").set(health.fps_analysed)
        self.online.labels(camera).set(1 if health.online else 0)
        self.lag.labels(camera).set(health.lag_seconds if health.lag_seconds is not None else 0)
        self.dropped.labels(camera).set(health.frames_dropped)
        self.reconnects.labels(camera).set(health.reconnects)

    def observe_detector(self, *, seconds: float, worker: int = 0) -> None:
        """Record the duration of one detector call."""
        self.detector_latency.labels(str(worker)).observe(seconds)

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
        for gauge in (self.online, self.lag, self.dropped, self.reconnects):
            self._remove(gauge, camera)
        for labels in list(self._label_sets(self.events)):
            if labels[0] == camera:
                self._remove(self.events, *labels)

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
