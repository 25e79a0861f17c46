"""Sampler: frames at a target rate by timestamp, steady under jitter, no bursts after gaps."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.ingest import Sampler


def accepted(sampler: Sampler, stamps: list[float]) -> list[float]:
    return [t for t in stamps if sampler.accept(t)]


@pytest.mark.parametrize(
    ("input_fps", "target_fps", "seconds", "expected"),
    [
        (15, 5, 1, 5),  # every third frame
        (15, 5, 71 / 15, 24),  # worker-zone clip: 71 frames at 15 fps
        (12.5, 5, 10, 50),  # car-detection rate: not a whole multiple
        (10, 10, 3, 30),  # same rate: every frame
        (4, 5, 5, 20),  # slower input than target: every frame, never more
        (30, 1, 10, 10),
    ],
)
def test_rate_on_regular_timestamps(
    input_fps: float, target_fps: float, seconds: float, expected: int
) -> None:
    stamps = [i / input_fps for i in range(round(seconds * input_fps))]
    assert len(accepted(Sampler(target_fps), stamps)) == expected


def test_none_accepts_every_frame() -> None:
    sampler = Sampler(None)
    assert all(sampler.accept(t) for t in [0.0, 0.0, 0.001, 5.0, 1.0])


@pytest.mark.parametrize("fps", [0, -1.0])
def test_rejects_non_positive_rate(fps: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Sampler(fps)


@pytest.mark.parametrize("jitter", [0.2, 0.45])
def test_jitter_keeps_the_mean_rate(jitter: float) -> None:
    # 10 fps camera whose timestamps wobble by up to +-45 % of a frame interval.
    rng = random.Random(7)
    stamps = [i / 10 + rng.uniform(-jitter, jitter) / 10 for i in range(600)]
    stamps.sort()
    picked = accepted(Sampler(5), stamps)
    assert 295 <= len(picked) <= 305  # 60 s at 5 fps
    gaps = [b - a for a, b in pairwise(picked)]
    # Never neighbouring frames: a frame taken up to half a period late, the next up to half an
    # input interval early, leaves at least a quarter period between them here.
    assert min(gaps) > 0.05


def test_gap_restarts_the_grid_without_a_burst() -> None:
    before = [i / 15 for i in range(30)]  # 2 s
    after = [10 + i / 15 for i in range(30)]  # the stream comes back 8 s later
    picked = accepted(Sampler(5), before + after)
    resumed = [t for t in picked if t >= 10]
    assert resumed[0] == 10  # the first frame after the gap is taken...
    gaps = [b - a for a, b in pairwise(resumed)]
    assert all(abs(g - 0.2) < 1e-9 for g in gaps)  # ...then 5 fps, not a catch-up burst
    assert len(resumed) == 10


def test_backwards_timestamps_restart_the_grid() -> None:
    sampler = Sampler(5)
    first = accepted(sampler, [i / 15 for i in range(30)])
    second = accepted(sampler, [i / 15 for i in range(30)])  # e.g. a stream restarted at 0
    assert first == second
    assert len(second) == 10


@settings(max_examples=200, deadline=None)
@given(
    fps=st.floats(min_value=0.5, max_value=30),
    steps=st.lists(st.floats(min_value=0.001, max_value=3.0), min_size=2, max_size=300),
)
def test_never_more_than_the_rate_in_any_window(fps: float, steps: list[float]) -> None:
    stamps = [sum(steps[: i + 1]) for i in range(len(steps))]
    picked = accepted(Sampler(fps), stamps)
    window = 2.0
    for i, start in enumerate(picked):
        inside = [t for t in picked[i:] if t - start <= window]
        assert len(inside) <= window * fps + 2


def test_rejects_only_frames_the_sampler_would_not_take() -> None:
    stamps = [i / 30 for i in range(300)]
    sampler = Sampler(5)
    for t in stamps:
        surely_not = sampler.rejects(t)
        assert not (surely_not and sampler.accept(t)), t
        if not surely_not:
            sampler.accept(t)
    # Before the first frame nothing is known; a timestamp going back may restart the grid.
    fresh = Sampler(5)
    assert not fresh.rejects(0.0)
    fresh.accept(1.0)
    assert fresh.rejects(1.05) and not fresh.rejects(0.5) and not fresh.rejects(1.15)
    assert not Sampler(None).rejects(3.0)
