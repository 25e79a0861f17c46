"""Rules about tracked objects inside a zone: ``restricted_zone`` and ``dwell``."""

from __future__ import annotations

from citybrain.core.geometry import PolygonZone
from citybrain.rules.base import Observation, Schedule, bbox_normalised
from citybrain.rules.episodes import Episodes, Key, Sighting
from citybrain.rules.sightings import SightingRule

__all__ = ["DwellRule", "RestrictedZoneRule", "ZonePresenceRule"]


class ZonePresenceRule(SightingRule):
    """An event per tracked object of the listed labels that stays in a zone ``seconds`` or more."""

    kind = "zone_presence"

    def __init__(
        self,
        name: str,
        camera: str,
        zone: PolygonZone,
        labels: list[str],
        *,
        seconds: float,
        end_after: float,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(name, camera, labels, schedule)
        self.zone = zone
        template = self.event_template(zone=zone.name)
        self._episodes = Episodes(template, min_seconds=seconds, end_after=end_after)

    def _sight(self, observation: Observation) -> dict[Key, Sighting]:
        dets = observation.detections
        dets = dets[self.label_mask(dets) & (dets.tracker_id >= 0)]
        w, h = observation.width, observation.height
        dets = dets[self.zone.trigger(dets, width=w, height=h)]
        sightings: dict[Key, Sighting] = {}
        for i in range(len(dets)):
            track = int(dets.tracker_id[i])
            sightings[track] = Sighting(
                label=self.label_of(int(dets.class_id[i])),
                track_id=track,
                score=float(dets.confidence[i]),
                bbox=bbox_normalised(dets.xyxy[i], w, h),
            )
        return sightings


class RestrictedZoneRule(ZonePresenceRule):
    """Objects of the listed labels inside a zone (by default at once)."""

    kind = "restricted_zone"


class DwellRule(ZonePresenceRule):
    """Objects of the listed labels staying in a zone longer than allowed."""

    kind = "dwell"
