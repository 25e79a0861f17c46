"""Timeline: one increasing clock across loops and reconnections; Pacer: real-time pacing."""

from __future__ import annotations

import threading
import time

import pytest

from citybrain.ingest.timeline import Pacer, Timeline


def test_first_frame_is_zero_and_time_follows_the_stream() -> None:
    timeline = Timeline()
    timeline.start_segment(1 / 15, gap=0.0)
    assert [timeline.map(p) for p in (3.0, 3.5, 4.0)] == [0.0, 0.5, 1.0]


def test_loop_continues_one_frame_interval_after_the_last() -> None:
    timeline = Timeline()
    timeline.start_segment(0.1, gap=0.0)
    first = [timeline.map(i / 10) for i in range(10)]
    timeline.start_segment(0.1, gap=0.0)
    second = [timeline.map(i / 10) for i in range(10)]
    assert second[0] == pytest.approx(first[-1] + 0.1)
    assert second[-1] == pytest.approx(1.9)


def test_reconnection_adds_the_real_outage() -> None:
    timeline = Timeline()
    timeline.start_segment(0.1, gap=0.0)
    last = [timeline.map(5 + i / 10) for i in range(5)][-1]
    timeline.start_segment(0.1, gap=None)
    time.sleep(0.3)
    resumed = timeline.map(0.0)  # a new connection starts its clock at zero again
    assert 0.3 <= resumed - last < 1.0


def test_missing_and_backward_timestamps_still_increase() -> None:
    timeline = Timeline()
    timeline.start_segment(0.1, gap=0.0)
    stamps = [timeline.map(p) for p in (None, 0.1, None, 0.05, 0.4, 0.5)]
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])


def test_pacer_follows_timestamps_and_can_be_interrupted() -> None:
    stop = threading.Event()
    pacer = Pacer(stop)
    start = time.monotonic()
    for i in range(5):
        pacer.wait(10 + i * 0.1)
    assert 0.38 < time.monotonic() - start < 0.8
    stop.set()
    start = time.monotonic()
    pacer.wait(100.0)
    assert time.monotonic() - start < 0.1


def test_clock_restart_inside_a_segment_is_followed() -> None:
    timeline = Timeline()
    timeline.start_segment(0.1, gap=0.0)
    stamps = [timeline.map(p) for p in (100.0, 100.1, 100.2, 0.0, 0.1, 0.2)]
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])


def test_peek_tells_what_map_would_give_without_moving_the_clock() -> None:
    timeline = Timeline()
    timeline.start_segment(0.1, 0.0)
    assert timeline.peek(5.0) is None  # the offset is set by the first frame
    assert timeline.map(5.0) == 0.0
    assert timeline.peek(5.3) == pytest.approx(0.3)
    assert timeline.peek(4.9) is None  # behind: map would not follow the stream
    assert timeline.map(5.1) == pytest.approx(0.1)
    assert timeline.last == pytest.approx(0.1)
