"""The life of an incident: a condition that holds long enough starts an event; absence ends it.

Rules describe *what* holds at a moment (a set of sightings keyed by track, or one aggregate key);
:class:`Episodes` turns that into one event per physical incident, with start, updates and end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from citybrain.core.events import Event, EventPhase, EventUpdate, new_event_id

__all__ = ["Episodes", "Key", "Sighting"]

#: A track id, or a zone name for aggregate rules.
Key = int | str


@dataclass(frozen=True, slots=True)
class Sighting:
    """The condition holds for one key at one moment."""

    label: str | None
    track_id: int | None
    score: float
    bbox: tuple[float, float, float, float] | None
    details: dict[str, str | int | float] = field(default_factory=dict)


@dataclass(slots=True)
class _Episode:
    first_seen: float
    last_seen: float
    best_score: float = 0.0
    last_update: float = 0.0
    event: Event | None = None
    details: dict[str, str | int | float] = field(default_factory=dict)


class Episodes:
    """Tracks condition episodes per key and emits event updates.

    Args:
        template: fields shared by every event of this rule (id, times and score are filled in).
        min_seconds: how long the condition must hold before an event starts.
        end_after: how long it must be absent before the event ends (inertia against flicker).
        update_every: at most one UPDATE per this many seconds while an event lasts.
    """

    def __init__(
        self, template: Event, *, min_seconds: float, end_after: float, update_every: float = 5.0
    ) -> None:
        self._template = template
        self._min_seconds = min_seconds
        self._end_after = end_after
        self._update_every = update_every
        self._episodes: dict[Key, _Episode] = {}

    def step(self, t: float, sightings: Mapping[Key, Sighting]) -> list[EventUpdate]:
        """Advance to time ``t`` with the keys for which the condition holds now."""
        updates: list[EventUpdate] = []
        for key, sighting in sightings.items():
            episode = self._episodes.get(key)
            if episode is None:
                episode = self._episodes[key] = _Episode(first_seen=t, last_seen=t)
            update = self._observe(episode, t, sighting)
            if update is not None:
                updates.append(update)
        for key in [k for k in self._episodes if k not in sightings]:
            episode = self._episodes[key]
            if t - episode.last_seen >= self._end_after:
                del self._episodes[key]
                if episode.event is not None:
                    updates.append(self._end(episode, episode.last_seen))
        return updates

    def close(self, t: float) -> list[EventUpdate]:
        """End every open event at its last sighting (or ``t`` if later sightings are unknown)."""
        updates = [
            self._end(episode, min(episode.last_seen, t))
            for episode in self._episodes.values()
            if episode.event is not None
        ]
        self._episodes.clear()
        return updates

    @property
    def open_count(self) -> int:
        """Number of events started and not yet ended."""
        return sum(1 for e in self._episodes.values() if e.event is not None)

    def _observe(self, episode: _Episode, t: float, sighting: Sighting) -> EventUpdate | None:
        episode.last_seen = t
        episode.best_score = max(episode.best_score, sighting.score)
        episode.details = _merge_details(episode.details, sighting.details)
        if episode.event is None:
            if t - episode.first_seen < self._min_seconds:
                return None
            episode.event = self._template.evolve(
                id=new_event_id(),
                label=sighting.label,
                track_id=sighting.track_id,
                start=round(episode.first_seen, 3),
                score=round(episode.best_score, 4),
                bbox=sighting.bbox,
                snapshot_at=t,
                details=dict(episode.details),
            )
            episode.last_update = t
            return EventUpdate(EventPhase.START, episode.event)
        if t - episode.last_update < self._update_every:
            return None
        episode.last_update = t
        episode.event = episode.event.evolve(
            score=round(episode.best_score, 4), details=dict(episode.details)
        )
        return EventUpdate(EventPhase.UPDATE, episode.event)

    def _end(self, episode: _Episode, end: float) -> EventUpdate:
        assert episode.event is not None
        event = episode.event.evolve(
            end=round(end, 3), score=round(episode.best_score, 4), details=dict(episode.details)
        )
        return EventUpdate(EventPhase.END, event)


def _merge_details(
    old: dict[str, str | int | float], new: dict[str, str | int | float]
) -> dict[str, str | int | float]:
    """Keep the maximum of numeric details (e.g. the peak count) and the latest of the rest."""
    merged = dict(old)
    for key, value in new.items():
        previous = merged.get(key)
        if isinstance(value, int | float) and isinstance(previous, int | float):
            merged[key] = max(previous, value)
        else:
            merged[key] = value
    return merged
