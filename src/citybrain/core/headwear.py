"""Hard hat or not, per track: single looks at a head decided into one verdict per person.

The classifier judges one look at a time and abstains (:data:`UNKNOWN`) where a head is too
small or its score falls in the model's abstain band. :class:`HeadwearVotes` keeps, per track,
the recent *decided* looks and gives the majority of them (a tie goes to the latest: a person
may have put a hard hat on or taken it off), so a person is judged on the looks
that were good enough, and an event can say how many looks decided it. Pure logic, no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "HARDHAT",
    "MIN_HEAD_SIDE",
    "NO_HARDHAT",
    "UNKNOWN",
    "HeadwearVotes",
    "TrackVerdict",
    "verdicts",
]

#: Verdicts of a look, or of a track.
HARDHAT, NO_HARDHAT, UNKNOWN = 1, 0, -1
#: A head whose side (as located) is under this many pixels is not judged: its look is unknown.
MIN_HEAD_SIDE = 12.0


def verdicts(
    probability: npt.ArrayLike,
    head_side: npt.ArrayLike,
    band: tuple[float, float],
    min_side: float,
) -> npt.NDArray[np.int8]:
    """Decide looks: below the band no hard hat, above it a hard hat, in it (or a head under
    ``min_side`` pixels, or NaN) unknown.

    Args:
        probability: ``(N,)`` P(hard hat) of each look (NaN where no look was taken).
        head_side: ``(N,)`` side of each located head, in pixels.
        band: ``[low, high)``: P(hard hat) in it is too uncertain to decide.
        min_side: smaller heads are not decided.
    """
    p = np.asarray(probability, dtype=np.float32).reshape(-1)
    side = np.asarray(head_side, dtype=np.float32).reshape(-1)
    out = np.full(len(p), UNKNOWN, dtype=np.int8)
    judged = side >= min_side
    out[judged & (p < band[0])] = NO_HARDHAT
    out[judged & (p >= band[1])] = HARDHAT
    return out


@dataclass(frozen=True, slots=True)
class TrackVerdict:
    """What the looks at one track's head say so far.

    Attributes:
        verdict: :data:`HARDHAT`, :data:`NO_HARDHAT`, or :data:`UNKNOWN` (fewer decided looks
            than ``min_decided``).
        looks: looks taken at this head (decided or not).
        decided: decided looks among the recent ones the verdict is the majority of.
        agreeing: of those, how many agree with the verdict.
        probability: mean P(hard hat) of the agreeing looks (NaN where none, or where looks
            were added without one).
    """

    verdict: int
    looks: int
    decided: int
    agreeing: int
    probability: float = float("nan")


@dataclass(slots=True)
class _Track:
    looks: int = 0
    recent: deque[tuple[int, float]] = field(default_factory=deque)
    seen: float = 0.0


class HeadwearVotes:
    """Per-track majority of the recent decided looks; a tie goes to the latest of them.

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

    def add(
        self, track: int, verdict: int, timestamp: float, probability: float = float("nan")
    ) -> TrackVerdict:
        """Record one look at ``track``'s head (its verdict, and P(hard hat) where known) and
        return the track's verdict."""
        if verdict not in (HARDHAT, NO_HARDHAT, UNKNOWN):
            raise ValueError(f"unknown verdict {verdict!r}")
        state = self._tracks.setdefault(track, _Track(recent=deque(maxlen=self.window)))
        state.looks += 1
        state.seen = timestamp
        if verdict != UNKNOWN:
            state.recent.append((verdict, float(probability)))
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
        hats = sum(1 for v, _ in state.recent if v == HARDHAT)
        bare = decided - hats
        if decided < self.min_decided:
            return TrackVerdict(UNKNOWN, state.looks, decided, 0)
        # A tie goes to the latest look. Measured on the development clips: the bald man's
        # first, farthest look is taken for a hard hat, his next decided one is right.
        verdict = HARDHAT if hats > bare else NO_HARDHAT
        if hats == bare:
            verdict = state.recent[-1][0]
        agreeing = [p for v, p in state.recent if v == verdict]
        probability = float(np.mean(agreeing)) if agreeing else float("nan")
        return TrackVerdict(verdict, state.looks, decided, len(agreeing), probability)
