"""``hardhat_required``: a person in a zone whose looks, over their track, say no hard hat."""

from __future__ import annotations

import math

import numpy as np

from citybrain.core.detections import Detections
from citybrain.core.geometry import PolygonZone
from citybrain.core.headwear import MIN_HEAD_SIDE, NO_HARDHAT, HeadwearVotes, verdicts
from citybrain.rules.base import Observation, Rule, RuleResult, Schedule, bbox_normalised
from citybrain.rules.episodes import Episodes, Key, Sighting

__all__ = ["HARDHAT_KEY", "HEAD_SIDE_KEY", "HardhatRule"]

#: Detections.data key holding P(hard hat) per detection (NaN where no look was taken).
HARDHAT_KEY = "hardhat"
#: Detections.data key holding the side, in pixels, of the head the classifier located.
HEAD_SIDE_KEY = "hardhat_head"


class HardhatRule(Rule):
    """An event per tracked person in the zone whose track says "no hard hat".

    Each new set of detections (a detector run) is one *look* at each tracked person's head.
    A look is decided where the head is at least ``min_head`` pixels and P(hard hat) lies
    outside the classifier's abstain ``band``; otherwise it is unknown. A track's verdict is the
    majority of its recent decided looks (:class:`~citybrain.core.headwear.HeadwearVotes`), so a
    head too small or too uncertain waits for a better look within the track instead of counting
    as bare, and one odd look neither starts nor ends an event. Events say how many looks there
    were (``looks``), how many of the recent ones were decided (``decided``) and how many of
    those agreed (``agreeing``).

    Args:
        threshold: a configured decision threshold: looks below it are bare, the rest hard hats
            (no abstain band). ``None``: the classifier's band, set by :meth:`use_band`.
        min_head: the smallest head side decided, in pixels.
        window: how many recent decided looks vote.
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
        min_head: float = MIN_HEAD_SIDE,
        window: int = 5,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(name, camera, ["person"], schedule)
        self.zone = zone
        self.threshold = threshold
        #: P(hard hat) in ``[low, high)`` is undecided.
        self.band = (threshold, threshold) if threshold is not None else (0.5, 0.5)
        self.min_head = min_head
        self._votes = HeadwearVotes(window=window)
        template = self.event_template(zone=zone.name, label="person")
        self._episodes = Episodes(template, min_seconds=seconds, end_after=end_after)

    def use_band(self, band: tuple[float, float]) -> None:
        """Decide looks with the classifier's abstain band, unless a threshold was configured."""
        if self.threshold is None:
            self.band = band

    def evaluate(self, observation: Observation) -> RuleResult:
        t = observation.timestamp
        new_look = not self.unchanged(observation)
        sightings: dict[Key, Sighting] = {}
        dets = observation.detections
        if HARDHAT_KEY in dets.data:
            people = dets[self.label_mask(dets) & (dets.tracker_id >= 0)]
            if new_look:
                self._look(people, t)
            if self.active(observation):
                sightings = self._sight(observation, people)
        self._votes.forget(t)
        return RuleResult(updates=self._episodes.step(t, sightings))

    def close(self, timestamp: float) -> RuleResult:
        self._votes.clear()
        return RuleResult(updates=self._episodes.close(timestamp))

    def _look(self, people: Detections, t: float) -> None:
        """One look at each tracked person's head, added to their track's votes."""
        probability = np.asarray(people.data[HARDHAT_KEY], dtype=np.float32)
        side = people.data.get(HEAD_SIDE_KEY)
        if side is None:  # a classifier that does not locate heads: the look counts as large
            side = np.full(len(people), np.inf, dtype=np.float32)
        looks = verdicts(probability, side, self.band, self.min_head)
        for track, look, p in zip(people.tracker_id.tolist(), looks.tolist(), probability.tolist(),
                                  strict=True):  # fmt: skip
            self._votes.add(track, look, t, p)

    def _sight(self, observation: Observation, people: Detections) -> dict[Key, Sighting]:
        """The people in the zone whose track's verdict is "no hard hat"."""
        w, h = observation.width, observation.height
        inside = people[self.zone.trigger(people, width=w, height=h)]
        sightings: dict[Key, Sighting] = {}
        for i, track in enumerate(inside.tracker_id.tolist()):
            verdict = self._votes.get(track)
            if verdict is None or verdict.verdict != NO_HARDHAT:
                continue
            p_hat = verdict.probability
            details: dict[str, str | int | float] = {
                "looks": verdict.looks,
                "decided": verdict.decided,
                "agreeing": verdict.agreeing,
            }
            if not math.isnan(p_hat):
                details["hardhat_probability"] = round(p_hat, 3)
            sightings[track] = Sighting(
                label="person",
                track_id=track,
                score=round(1.0 - p_hat, 4) if not math.isnan(p_hat) else 0.5,
                bbox=bbox_normalised(inside.xyxy[i], w, h),
                details=details,
            )
        return sightings
