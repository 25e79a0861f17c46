"""Reader on live RTSP: a real GStreamer server that is killed and restarted mid-run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.frame import Frame
from citybrain.errors import SourceUnreachableError
from citybrain.ingest import Reader, ReaderOptions

# ``rtsp_server`` (tests/support/rtsp.py) builds RtspServer objects: start(), kill(), url().
ServerFactory = Callable[[Path], Any]

SECRET = "s3cr3t-pw"
CLIP = "worker-zone-detection.mp4"
LIVE = ReaderOptions(
    fps=5, reconnect_initial=0.2, reconnect_max=1.0, open_timeout=5.0, read_timeout=3.0
)


def collect(reader: Reader, frames: list[Frame], until: Callable[[], bool], within: float) -> None:
    """Reads into ``frames`` until ``until()`` holds; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not until():
        assert time.monotonic() < deadline, f"timed out; stats: {reader.stats}"
        try:
            frame = reader.read(timeout=0.2)
        except TimeoutError:
            continue
        assert frame is not None, "a live source never ends"
        frames.append(frame)


def test_unreachable_url_raises_after_max_reconnects(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"rtsp://admin:{SECRET}@127.0.0.1:{closed_port}/x"
    options = ReaderOptions(reconnect_initial=0.05, reconnect_max=0.2, max_reconnects=2)
    start = time.monotonic()
    with caplog.at_level(logging.DEBUG), Reader(url, options) as reader:
        with pytest.raises(SourceUnreachableError) as info:
            reader.read(timeout=20)
        stats = reader.stats
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert f"rtsp://***@127.0.0.1:{closed_port}/x" in message
    assert "3 connection attempts" in message and "refused" in message.lower()
    assert not stats.online and stats.reconnects == 0
    for text in (message, stats.last_error or "", caplog.text, reader.url):
        assert SECRET not in text


def test_close_interrupts_the_backoff_sleep(closed_port: int) -> None:
    options = ReaderOptions(reconnect_initial=30.0, reconnect_max=60.0)
    reader = Reader(f"rtsp://127.0.0.1:{closed_port}/x", options)
    time.sleep(0.5)  # first attempt refused: now sleeping 30 s before the next
    assert reader.running and "refused" in (reader.stats.last_error or "").lower()
    start = time.monotonic()
    reader.close()
    assert time.monotonic() - start < 1.0
    assert not reader.running


@pytest.mark.rtsp
def test_reads_a_live_stream(rtsp_server: ServerFactory, samples_dir: Path) -> None:
    server = rtsp_server(samples_dir / CLIP)
    server.start()
    with Reader(server.url(), LIVE) as reader:
        frames: list[Frame] = []
        collect(reader, frames, lambda: len(frames) >= 25, within=20)  # past the start-up burst
        stats = reader.stats
    assert stats.online and (stats.width, stats.height) == (480, 270)
    assert 10 < stats.fps_in < 20  # the server plays at 15 fps
    assert all(b.timestamp > a.timestamp for a, b in pairwise(frames))
    steps = [b.timestamp - a.timestamp for a, b in pairwise(frames)]
    assert sum(steps) / len(steps) == pytest.approx(0.2, abs=0.03)  # sampled at 5 fps


@pytest.mark.rtsp
def test_survives_server_kill_and_restart(
    rtsp_server: ServerFactory,
    samples_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = rtsp_server(samples_dir / CLIP)
    server.start()
    frames: list[Frame] = []
    with caplog.at_level(logging.INFO), Reader(server.url(f"cam:{SECRET}"), LIVE) as reader:
        collect(reader, frames, lambda: len(frames) >= 10, within=20)
        assert reader.stats.online

        server.kill()
        collect(reader, frames, lambda: not reader.stats.online, within=10)
        before = len(frames)
        killed_at = time.monotonic()
        time.sleep(1.5)  # down long enough for failed attempts and backoff
        assert not reader.stats.online and reader.running

        server.start()
        collect(reader, frames, lambda: len(frames) >= before + 10, within=30)
        outage = time.monotonic() - killed_at
        stats = reader.stats
    assert stats.reconnects >= 1 and stats.online
    assert all(b.timestamp > a.timestamp for a, b in pairwise(frames))
    assert all(b.index > a.index for a, b in pairwise(frames))
    jump = frames[before].timestamp - frames[before - 1].timestamp
    assert 1.5 <= jump <= outage + 1  # stream time kept counting through the outage
    assert "disconnected" in caplog.text
    assert SECRET not in caplog.text and SECRET not in (stats.last_error or "")


@pytest.mark.rtsp
def test_gives_up_when_the_server_stays_away(rtsp_server: ServerFactory, samples_dir: Path) -> None:
    server = rtsp_server(samples_dir / CLIP)
    server.start()
    options = ReaderOptions(fps=5, reconnect_initial=0.1, reconnect_max=0.2, max_reconnects=2)
    with Reader(server.url(), options) as reader:
        frames: list[Frame] = []
        collect(reader, frames, lambda: len(frames) >= 3, within=20)
        server.kill()
        with pytest.raises(SourceUnreachableError, match="3 connection attempts"):
            while reader.read(timeout=10) is not None:
                pass
        stats = reader.stats
    assert not stats.online and stats.frames_decoded >= 3 and stats.reconnects == 0
    assert "refused" in (stats.last_error or "").lower()


@pytest.mark.rtsp
def test_hung_server_times_out_instead_of_blocking(
    rtsp_server: ServerFactory, samples_dir: Path
) -> None:
    server = rtsp_server(samples_dir / CLIP)
    server.start()
    options = ReaderOptions(
        fps=5, reconnect_initial=0.2, reconnect_max=1.0, open_timeout=2.0, read_timeout=2.0
    )
    frames: list[Frame] = []
    with Reader(server.url(), options) as reader:
        collect(reader, frames, lambda: len(frames) >= 5, within=20)
        server.pause()
        start = time.monotonic()
        collect(reader, frames, lambda: not reader.stats.online, within=15)
        assert time.monotonic() - start < 2.0 + 4.0  # read timeout, plus frames still queued
        assert "timed out" in (reader.stats.last_error or "")
        server.resume()
        before = len(frames)
        collect(reader, frames, lambda: len(frames) >= before + 5, within=20)
        stats = reader.stats
    assert stats.reconnects >= 1
    assert all(b.timestamp > a.timestamp for a, b in pairwise(frames))
