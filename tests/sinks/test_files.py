"""The command line's output folder and the snapshots in it: what ``analyze`` leaves behind."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from citybrain.core.detections import Detections
from citybrain.core.events import Event, EventPhase, EventUpdate, LineCount
from citybrain.core.frame import Frame, Image
from citybrain.sinks.base import AnalysedFrame, FanOut, ProgressSink, SinkBase
from citybrain.sinks.files import FileSink, OutputError
from citybrain.sinks.snapshots import annotate, encode_jpeg

RED = (0, 0, 255)


def event(**changes: object) -> Event:
    base = Event(
        id="e1", kind="restricted_zone", rule="intruders", camera="dock", zone="site", line=None,
        label="person", track_id=7, start=1.0, end=None, score=0.9,
        bbox=(0.25, 0.25, 0.75, 0.75), snapshot_at=1.0,
    )  # fmt: skip
    return base.evolve(**changes)


def grey_image() -> Image:
    return np.full((90, 160, 3), 128, dtype=np.uint8)


def test_an_event_is_written_when_it_ends_with_the_snapshot_of_its_start(tmp_path: Path) -> None:
    started = event()
    with FileSink(tmp_path) as sink:
        sink.events([EventUpdate(EventPhase.START, started)], grey_image())
        assert (tmp_path / "events.jsonl").read_text() == ""  # nothing until it ends
        sink.events([EventUpdate(EventPhase.UPDATE, started.evolve(score=0.95))], None)
        sink.events([EventUpdate(EventPhase.END, started.evolve(end=4.5, score=0.95))], None)
        sink.counts([LineCount("dock", "gate", "gate", 0.0, 60.0, "in", "person", 3)])
        assert (sink.events_written, sink.counts_written) == (1, 1)
    (record,) = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert (record["id"], record["end"], record["score"]) == ("e1", 4.5, 0.95)
    assert record["bbox"] == [0.25, 0.25, 0.75, 0.75]
    assert record["snapshot"] == "snapshots/e1.jpg"
    snapshot = cv2.imread(str(tmp_path / record["snapshot"]))
    assert snapshot is not None and snapshot.shape == (90, 160, 3)
    (count,) = [json.loads(line) for line in (tmp_path / "counts.jsonl").read_text().splitlines()]
    assert (count["direction"], count["label"], count["count"]) == ("in", "person", 3)


def test_an_event_that_never_started_here_has_no_snapshot(tmp_path: Path) -> None:
    with FileSink(tmp_path) as sink:
        sink.events([EventUpdate(EventPhase.END, event(end=2.0))], None)
    (record,) = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert record["snapshot"] is None
    assert list((tmp_path / "snapshots").iterdir()) == []


def test_stats_replace_the_file_whole(tmp_path: Path) -> None:
    with FileSink(tmp_path) as sink:
        sink.stats({"events": 1})
        sink.stats({"events": 2, "interrupted": False})
    assert json.loads((tmp_path / "stats.json").read_text()) == {"events": 2, "interrupted": False}
    assert not (tmp_path / "stats.json.tmp").exists()


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OutputError, match=rf"cannot write to output folder {blocker}"):
        FileSink(blocker)


def test_annotate_draws_the_event_box_on_a_copy() -> None:
    image = grey_image()
    drawn = annotate(image, event())
    assert (image == 128).all(), "the anonymised frame itself is left as it was"
    h, w = image.shape[:2]
    # The box's left edge, at x = 0.25 * width, is red; the middle of the box is untouched.
    edge = drawn[h // 2, round(0.25 * w)]
    assert tuple(int(v) for v in edge) == RED
    assert (drawn[h // 2, w // 2] == 128).all()
    assert (annotate(image, event(bbox=None)) == image).all()


def test_encode_jpeg_round_trips_and_honours_quality() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    fine, coarse = encode_jpeg(image, quality=95), encode_jpeg(image, quality=30)
    assert len(coarse) < len(fine)
    decoded = cv2.imdecode(np.frombuffer(fine, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == image.shape


class Recorder(SinkBase):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def events(self, updates: Sequence[EventUpdate], safe_image: Image | None) -> None:
        self.calls.append("events")

    def idle(self) -> None:
        self.calls.append("idle")


def test_fan_out_hands_every_call_to_each_sink_in_order() -> None:
    first, second = Recorder(), Recorder()
    times: list[float] = []
    sink = FanOut(first, ProgressSink(times.append), second)
    frame = Frame(grey_image(), 2.5, 0)
    seen = AnalysedFrame(2.5, Detections.empty(), frame, lambda image, _dets: image[:1])
    sink.started(0.0)
    sink.events([], None)
    sink.counts([])
    sink.analysed(seen)
    sink.idle()
    assert first.calls == second.calls == ["events", "idle"]
    assert times == [2.5]
    assert seen.render().shape == (1, 160, 3)  # rendered only on request, by the renderer
