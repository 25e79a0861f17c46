"""Rules whose condition, frame by frame, is a set of sightings derived from the detections."""

from __future__ import annotations

import abc

from citybrain.rules.base import Observation, Rule, RuleResult, Schedule
from citybrain.rules.episodes import Episodes, Key, Sighting

__all__ = ["SightingRule"]


class SightingRule(Rule):
    """A rule that turns each observation into sightings (:meth:`_sight`) and feeds them to
    :class:`Episodes`, which starts, updates and ends the events.

    Sightings depend on the detections and the frame size alone, so they are kept while a camera
    passes the same detections again (the detector did not run); only time moves on.
    Subclasses set ``_episodes`` in their constructor.
    """

    _episodes: Episodes

    def __init__(
        self, name: str, camera: str, labels: list[str], schedule: Schedule | None = None
    ) -> None:
        super().__init__(name, camera, labels, schedule)
        self._sightings: dict[Key, Sighting] | None = None

    def evaluate(self, observation: Observation) -> RuleResult:
        changed = not self.unchanged(observation)
        sightings: dict[Key, Sighting] = {}
        if self.active(observation):
            if changed or self._sightings is None:
                self._sightings = self._sight(observation)
            sightings = self._sightings
        return RuleResult(updates=self._episodes.step(observation.timestamp, sightings))

    def close(self, timestamp: float) -> RuleResult:
        return RuleResult(updates=self._episodes.close(timestamp))

    @abc.abstractmethod
    def _sight(self, observation: Observation) -> dict[Key, Sighting]:
        """What satisfies the rule's condition in ``observation``, by episode key."""
