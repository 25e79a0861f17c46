"""Reader on HTTP: a clip of known length ends; forced live, its end is a disconnect."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from citybrain.core.frame import Frame
from citybrain.ingest import Reader, ReaderOptions

CLIP = "worker-zone-detection.mp4"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_clip(samples_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The URL of a copy of the worker clip, served over HTTP from a temporary folder."""
    shutil.copy(samples_dir / CLIP, tmp_path / CLIP)
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{CLIP}"
    server.shutdown()
    server.server_close()


def read_n(reader: Reader, count: int) -> list[Frame]:
    frames: list[Frame] = []
    while len(frames) < count and (frame := reader.read(timeout=20)) is not None:
        frames.append(frame)
    return frames


def test_http_clip_of_known_length_ends(http_clip: str) -> None:
    with Reader(http_clip, ReaderOptions(fps=5)) as reader:
        frames = read_n(reader, 1000)
        stats = reader.stats
    assert len(frames) == 24 and stats.frames_decoded + stats.frames_skipped == 71
    assert stats.reconnects == 0 and stats.last_error is None


def test_http_loop_replays(http_clip: str) -> None:
    with Reader(http_clip, ReaderOptions(fps=5, loop=True)) as reader:
        frames = read_n(reader, 60)
    assert len(frames) == 60
    assert all(b.timestamp > a.timestamp for a, b in pairwise(frames))


def test_http_forced_live_reconnects_at_the_end(http_clip: str) -> None:
    options = ReaderOptions(fps=5, live=True, reconnect_initial=0.05, reconnect_max=0.1)
    with Reader(http_clip, options) as reader:
        frames = read_n(reader, 60)  # two and a half plays of the clip
        stats = reader.stats
    assert len(frames) == 60 and stats.reconnects >= 2
    assert all(b.timestamp > a.timestamp for a, b in pairwise(frames))
    assert "end of stream" in (stats.last_error or "")
