"""``occupancy``: more than ``max`` objects in a zone for a while. Aggregate only: no identities."""

from __future__ import annotations

import numpy as np

from citybrain.core.geometry import PolygonZone
from citybrain.rules.base import Observation, Schedule, bbox_normalised
from citybrain.rules.episodes import Episodes, Key, Sighting
from citybrain.rules.sightings import SightingRule

__all__ = ["OccupancyRule"]


class OccupancyRule(SightingRule):
    """One event while the count of listed objects in the zone stays above ``maximum``."""

    kind = "occupancy"

    def __init__(
        self,
        name: str,
        camera: str,
        zone: PolygonZone,
        labels: list[str],
        *,
        maximum: int,
        seconds: float,
        end_after: float,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(name, camera, labels, schedule)
        self.zone = zone
        self.maximum = maximum
        template = self.event_template(zone=zone.name, details={"max": maximum})
        self._episodes = Episodes(template, min_seconds=seconds, end_after=end_after)

    def _sight(self, observation: Observation) -> dict[Key, Sighting]:
        dets = observation.detections
        w, h = observation.width, observation.height
        dets = dets[self.label_mask(dets)]
        dets = dets[self.zone.trigger(dets, width=w, height=h)]
        if len(dets) <= self.maximum:
            return {}
        union = np.concatenate([dets.xyxy[:, :2].min(axis=0), dets.xyxy[:, 2:].max(axis=0)])
        sighting = Sighting(
            label=",".join(self.labels),
            track_id=None,
            score=float(dets.confidence.mean()),
            bbox=bbox_normalised(union, w, h),
            details={"count": len(dets), "max": self.maximum},
        )
        return {self.zone.name: sighting}
