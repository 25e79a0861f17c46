"""Zone occupancy: how many tracked objects of each watched label stand in each zone now.

Counts are aggregates (no identities, no boxes), computed on the worker from the tracked
detections of every analysed frame, and sent up as an :class:`OccupancyMessage` when one
changes and every ``every`` seconds regardless (the lossy queue may drop one; the next heals
it). The server publishes them as retained MQTT topics ``<prefix>/cameras/<name>/<zone>/<label>``.

Which labels: those the camera's rules watch (a zone's rules often watch only people, but a
car in a no-parking zone is as worth counting); ``person`` when no rule names any.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from citybrain.config.model import CameraConfig
from citybrain.core.detections import Detections, label_ids
from citybrain.core.geometry import PolygonZone
from citybrain.runtime.messages import OccupancyMessage

__all__ = ["OccupancyMeter", "watched_labels"]

_DEFAULT_LABELS = ("person",)


def watched_labels(config: CameraConfig) -> tuple[str, ...]:
    """The labels the camera's rules name, in first-named order (``person`` if none)."""
    labels: dict[str, None] = {}
    for rule in config.rules.values():
        for label in getattr(rule, "labels", None) or ():
            labels[label] = None
    return tuple(labels) or _DEFAULT_LABELS


class OccupancyMeter:
    """Counts tracked objects per zone and label for one camera (verb: :meth:`observe`).

    Args:
        camera_id: the camera's id in the store.
        config: its validated config (its zones and rules).
        every: seconds between messages when nothing changed.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        camera_id: int,
        config: CameraConfig,
        *,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera_id = camera_id
        self.camera = config.camera.name
        self._zones = [
            PolygonZone(name, zone.polygon, zone.anchor) for name, zone in config.zones.items()
        ]
        self.labels = watched_labels(config)
        # One set of class ids per label: a group (``vehicle``) counts all its members.
        self._class_ids = [label_ids([label]) for label in self.labels]
        self._every = every
        self._clock = clock
        self._last: tuple[tuple[str, str, int], ...] | None = None
        self._last_seen: tuple[Detections, int, int] | None = None
        self._due = 0.0

    @property
    def active(self) -> bool:
        """Whether the camera has zones to count in."""
        return bool(self._zones)

    def observe(self, detections: Detections, width: int, height: int) -> OccupancyMessage | None:
        """The message to send after a frame with ``detections``, or ``None`` (nothing new)."""
        if not self._zones:
            return None
        seen = (detections, width, height)
        last_seen, self._last_seen = self._last_seen, seen
        # Between detector runs the same Detections object comes frame after frame.
        unchanged = last_seen is not None and last_seen[0] is detections and last_seen[1:] == (
            width, height
        )  # fmt: skip
        counts = self._last if unchanged and self._last is not None else self.count(*seen)
        now = self._clock()
        if counts == self._last and now < self._due:
            return None
        self._last, self._due = counts, now + self._every
        return OccupancyMessage(self.camera_id, self.camera, counts)

    def count(
        self, detections: Detections, width: int, height: int
    ) -> tuple[tuple[str, str, int], ...]:
        """``(zone, label, count)`` for every zone and watched label (zeros included)."""
        tracked = detections[detections.tracker_id >= 0]
        counts: list[tuple[str, str, int]] = []
        for zone in self._zones:
            inside = tracked[zone.trigger(tracked, width=width, height=height)]
            for label, class_ids in zip(self.labels, self._class_ids, strict=True):
                counts.append(
                    (zone.name, label, int(np.count_nonzero(np.isin(inside.class_id, class_ids))))
                )
        return tuple(counts)
