"""Per-track hard-hat verdicts from single looks."""

from __future__ import annotations

import pytest

from citybrain.core.headwear import HARDHAT, NO_HARDHAT, UNKNOWN, HeadwearVotes


def test_unknown_looks_wait_for_a_decided_one() -> None:
    votes = HeadwearVotes()
    assert votes.add(1, UNKNOWN, 0.0).verdict == UNKNOWN
    assert votes.add(1, UNKNOWN, 0.2).verdict == UNKNOWN
    verdict = votes.add(1, NO_HARDHAT, 0.4)
    assert (verdict.verdict, verdict.looks, verdict.decided, verdict.agreeing) == (
        NO_HARDHAT, 3, 1, 1,
    )  # fmt: skip


def test_majority_of_the_recent_decided_looks() -> None:
    votes = HeadwearVotes(window=3)
    for verdict in (HARDHAT, HARDHAT, NO_HARDHAT):
        result = votes.add(4, verdict, 1.0)
    assert result.verdict == HARDHAT and result.agreeing == 2
    votes.add(4, NO_HARDHAT, 2.0)  # the window drops the oldest hard-hat look
    assert votes.get(4) is not None and votes.get(4).verdict == NO_HARDHAT  # type: ignore[union-attr]


def test_a_tie_goes_to_the_latest_look_and_min_decided_holds_back() -> None:
    votes = HeadwearVotes(window=4, min_decided=2)
    assert votes.add(1, NO_HARDHAT, 0.0).verdict == UNKNOWN  # one decided look is not enough
    assert votes.add(1, HARDHAT, 0.1).verdict == HARDHAT  # one each: the latest
    assert votes.add(1, NO_HARDHAT, 0.2).verdict == NO_HARDHAT  # two to one
    tie = votes.add(1, HARDHAT, 0.3)  # two each again
    assert (tie.verdict, tie.decided, tie.agreeing) == (HARDHAT, 4, 2)


def test_the_verdict_carries_the_mean_probability_of_the_agreeing_looks() -> None:
    votes = HeadwearVotes()
    votes.add(3, NO_HARDHAT, 0.0, probability=0.1)
    votes.add(3, UNKNOWN, 0.2, probability=0.5)  # undecided looks do not count
    votes.add(3, HARDHAT, 0.4, probability=0.9)
    result = votes.add(3, NO_HARDHAT, 0.6, probability=0.3)
    assert result.verdict == NO_HARDHAT and result.looks == 4
    assert result.probability == pytest.approx(0.2)


def test_tracks_are_forgotten_and_independent() -> None:
    votes = HeadwearVotes(forget_after=5.0)
    votes.add(1, HARDHAT, 0.0)
    votes.add(2, NO_HARDHAT, 4.0)
    votes.forget(6.0)
    assert votes.get(1) is None
    assert votes.get(2) is not None
    votes.clear()
    assert votes.get(2) is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="window"):
        HeadwearVotes(window=2, min_decided=3)
    with pytest.raises(ValueError, match="verdict"):
        HeadwearVotes().add(1, 5, 0.0)
