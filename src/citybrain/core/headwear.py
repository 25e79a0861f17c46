"""Hard hat or not, per track: single looks at a head decided into one verdict per person.

The classifier judges one look at a time and abstains (:data:`UNKNOWN`) where a head is too
small or its score falls in the model's abstain band. :class:`HeadwearVotes` keeps, per track,
the recent *decided* looks and gives the majority of them, so a person is judged on the looks
that were good enough, and an event can say how many looks decided it. Pure logic, no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["HARDHAT", "NO_HARDHAT", "UNKNOWN", "HeadwearVotes", "TrackVerdict"]

#: Verdicts of a look, or of a track.
HARDHAT, NO_HARDHAT, UNKNOWN = 1, 0, -1


@dataclass(frozen=True, slots=True)
class TrackVerdict:
    """What the looks at one track's head say so far.

    Attributes:
        verdict: :data:`HARDHAT`, :data:`NO_HARDHAT`, or :data:`UNKNOWN` (no decided look yet,
            or the recent decided looks are split evenly).
        looks: looks taken at this head (decided or not).
        decided: decided looks among the recent ones the verdict is the majority of.
        agreeing: of those, how many agree with the verdict.
    """

    verdict: int
    looks: int
    decided: int
    agreeing: int


@dataclass(slots=True)
class _Track:
    looks: int = 0
    recent: deque[int] = field(default_factory=deque)
    seen: float = 0.0


class HeadwearVotes:
    """Per-track majority of the recent decided looks.

    Args:
        window: how many recent decided looks vote (older ones are dropped: a person may take a
            hard hat off).
        min_decided: decided looks needed before a track has a verdict; 1 means the first good
            look decides (then the rule's own duration still applies before an event).
        forget_after: seconds after which a track that was not seen is forgotten.

    Example:
        >>> votes = HeadwearVotes()
        >>> votes.add(7, NO_HARDHAT, timestamp=1.0).verdict == NO_HARDHAT
        True
    """

    def __init__(self, window: int = 5, min_decided: int = 1, forget_after: float = 30.0) -> None:
        if window < 1 or not 1 <= min_decided <= window:
            raise ValueError("HeadwearVotes needs window >= 1 and 1 <= min_decided <= window")
        self.window = window
        self.min_decided = min_decided
        self.forget_after = forget_after
        self._tracks: dict[int, _Track] = {}

    def add(self, track: int, verdict: int, timestamp: float) -> TrackVerdict:
        """Record one look at ``track``'s head and return the track's verdict."""
        if verdict not in (HARDHAT, NO_HARDHAT, UNKNOWN):
            raise ValueError(f"unknown verdict {verdict!r}")
        state = self._tracks.setdefault(track, _Track(recent=deque(maxlen=self.window)))
        state.looks += 1
        state.seen = timestamp
        if verdict != UNKNOWN:
            state.recent.append(verdict)
        return self._verdict(state)

    def get(self, track: int) -> TrackVerdict | None:
        """The verdict of ``track`` without a new look; ``None`` for a track never seen."""
        state = self._tracks.get(track)
        return None if state is None else self._verdict(state)

    def forget(self, timestamp: float) -> None:
        """Drop tracks not seen for :attr:`forget_after` seconds."""
        stale = [k for k, s in self._tracks.items() if timestamp - s.seen > self.forget_after]
        for track in stale:
            del self._tracks[track]

    def clear(self) -> None:
        """Forget every track (the stream ended)."""
        self._tracks.clear()

    def _verdict(self, state: _Track) -> TrackVerdict:
        decided = len(state.recent)
        hats = sum(1 for v in state.recent if v == HARDHAT)
        bare = decided - hats
        if decided < self.min_decided or hats == bare:
            return TrackVerdict(UNKNOWN, state.looks, decided, 0)
        if hats > bare:
            return TrackVerdict(HARDHAT, state.looks, decided, hats)
        return TrackVerdict(NO_HARDHAT, state.looks, decided, bare)
