"""``hardhat_required``: a person in a zone whose head shows no hard hat for a while."""

from __future__ import annotations

import numpy as np

from citybrain.core.geometry import PolygonZone
from citybrain.rules.base import Observation, Rule, RuleResult, Schedule, bbox_normalised
from citybrain.rules.episodes import Episodes, Key, Sighting

__all__ = ["HARDHAT_KEY", "HardhatRule"]

#: Detections.data key holding P(hard hat) per detection (NaN where the head could not be judged).
HARDHAT_KEY = "hardhat"


class HardhatRule(Rule):
    """An event per tracked person in the zone whose smoothed P(hard hat) stays below a threshold.

    Per-frame classifier outputs are smoothed per track (exponential moving average), so one
    blurred frame neither starts nor ends an event.
    """

    kind = "hardhat_required"

    def __init__(
        self,
        name: str,
        camera: str,
        zone: PolygonZone,
        *,
        seconds: float,
        end_after: float,
        threshold: float | None = None,
        smoothing: float = 0.4,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(name, camera, ["person"], schedule)
        self.zone = zone
        self.threshold = threshold
        self._alpha = smoothing
        self._smoothed: dict[int, tuple[float, float]] = {}  # track -> (P(hard hat), last time)
        template = self.event_template(zone=zone.name, label="person")
        self._episodes = Episodes(template, min_seconds=seconds, end_after=end_after)

    def evaluate(self, observation: Observation) -> RuleResult:
        t = observation.timestamp
        sightings: dict[Key, Sighting] = {}
        dets = observation.detections
        if self.active(observation) and HARDHAT_KEY in dets.data:
            dets = dets[self.label_mask(dets) & (dets.tracker_id >= 0)]
            w, h = observation.width, observation.height
            dets = dets[self.zone.trigger(dets, width=w, height=h)]
            probabilities = np.asarray(dets.data[HARDHAT_KEY], dtype=np.float64)
            for i in range(len(dets)):
                track = int(dets.tracker_id[i])
                p_hat = self._smooth(track, float(probabilities[i]), t)
                if p_hat is None or p_hat >= (self.threshold or 0.5):
                    continue
                sightings[track] = Sighting(
                    label="person",
                    track_id=track,
                    score=round(1.0 - p_hat, 4),
                    bbox=bbox_normalised(dets.xyxy[i], w, h),
                    details={"hardhat_probability": round(p_hat, 3)},
                )
        self._forget_stale(t)
        return RuleResult(updates=self._episodes.step(t, sightings))

    def close(self, timestamp: float) -> RuleResult:
        self._smoothed.clear()
        return RuleResult(updates=self._episodes.close(timestamp))

    def _smooth(self, track: int, p: float, t: float) -> float | None:
        previous = self._smoothed.get(track)
        if np.isnan(p):
            return previous[0] if previous else None
        value = p if previous is None else self._alpha * p + (1 - self._alpha) * previous[0]
        self._smoothed[track] = (value, t)
        return value

    def _forget_stale(self, t: float, horizon: float = 30.0) -> None:
        for track in [k for k, (_, seen) in self._smoothed.items() if t - seen > horizon]:
            del self._smoothed[track]
