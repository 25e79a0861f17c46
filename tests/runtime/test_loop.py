"""The frame loop ``analyze`` and every server camera run, on a real clip with real models."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

from citybrain.config import parse_config
from citybrain.core.events import EventPhase, EventUpdate, LineCount
from citybrain.core.frame import Image
from citybrain.ingest import Reader, ReaderOptions
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, Vision
from citybrain.runtime.camera_sink import OutboxSink
from citybrain.runtime.health import HealthMeter, SourceTotals
from citybrain.runtime.live import LiveRenderer
from citybrain.runtime.loop import FrameLoop, LoopEnd
from citybrain.runtime.messages import CountMessage, EventMessage, FrameMessage, WorkerMessage
from citybrain.runtime.outbox import Outbox
from citybrain.sinks.base import AnalysedFrame, ResultSink

CLIP = "worker-zone-detection.mp4"  # one worker walks through for 4.7 s
CONFIG = parse_config("""
camera: {name: dock, fps: 5}
zones:
  site: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
lines:
  middle: {points: [[0.5, 0], [0.5, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: site, labels: [person]}
  counts: {kind: line_crossing, line: middle, labels: [person], interval: 1}
""")


class Recorder:
    """Records every call in order; optionally sets ``stop`` or fails after some frames."""

    def __init__(self, stop: threading.Event | None = None, after: int | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.updates: list[tuple[EventUpdate, Image | None]] = []
        self.frames: list[AnalysedFrame] = []
        self._stop = stop
        self._after = after

    def started(self, wall_origin: float) -> None:
        self.calls.append(("started", wall_origin))

    def events(self, updates: Sequence[EventUpdate], safe_image: Image | None) -> None:
        self.calls.append(("events", len(updates)))
        self.updates += [(update, safe_image) for update in updates]

    def counts(self, counts: Sequence[LineCount]) -> None:
        self.calls.append(("counts", len(counts)))

    def analysed(self, frame: AnalysedFrame) -> None:
        self.calls.append(("analysed", frame.timestamp))
        self.frames.append(frame)
        if self._after is not None and len(self.frames) == self._after:
            if self._stop is None:
                raise RuntimeError("the sink failed")
            self._stop.set()

    def idle(self) -> None:
        self.calls.append(("idle", None))


@pytest.fixture(scope="module")
def vision(model_dir: Path) -> Vision:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
        return Vision.load(CONFIG, threads=1)


def loop(
    samples_dir: Path,
    vision: Vision,
    sink: ResultSink,
    *,
    until: float | None = None,
    stop: threading.Event | None = None,
) -> FrameLoop:
    reader = Reader(str(samples_dir / CLIP), ReaderOptions(fps=5, thumbnail_width=MOTION_WIDTH))
    return FrameLoop(
        reader,
        lambda origin: CameraPipeline(CONFIG, vision, wall_origin=origin),
        sink,
        until=until,
        stop=stop,
    )


def test_each_frame_is_handed_on_in_order_and_the_stream_closed(
    samples_dir: Path, vision: Vision
) -> None:
    sink = Recorder()
    before = time.time()
    frames = loop(samples_dir, vision, sink)
    assert frames.run() is LoopEnd.ENDED
    assert sink.calls[0][0] == "started"
    origin = sink.calls[0][1]
    assert isinstance(origin, float) and before - 1 <= origin <= time.time()
    per_frame = [name for name, _ in sink.calls[1:-2] if name != "idle"]
    assert per_frame == ["events", "counts", "analysed"] * frames.frames
    assert [name for name, _ in sink.calls[-2:]] == ["events", "counts"]  # the close
    assert frames.frames == len(sink.frames) == 24
    # A START comes with the anonymised frame it happened on; the close's END with none.
    (start, safe), *_ = [(u, s) for u, s in sink.updates if u.phase == EventPhase.START]
    assert safe is not None and safe.shape == (270, 480, 3)
    seen = next(f for f in sink.frames if f.timestamp == start.event.start)
    assert np.array_equal(safe, seen.render()), "the snapshot is the frame, rendered"
    end, closing = sink.updates[-1]
    assert end.phase == EventPhase.END and closing is None
    assert end.event.end == pytest.approx(sink.frames[-1].timestamp)


def test_a_time_limit_and_a_stop_end_the_loop_and_close_open_events(
    samples_dir: Path, vision: Vision
) -> None:
    limited = Recorder()
    assert loop(samples_dir, vision, limited, until=2.0).run() is LoopEnd.LIMIT
    assert 2.0 <= limited.frames[-1].timestamp < 2.3

    stop = threading.Event()
    stopped = Recorder(stop, after=15)
    frames = loop(samples_dir, vision, stopped, stop=stop)
    assert frames.run() is LoopEnd.STOPPED
    assert frames.frames == 15
    phases = [u.phase for u, _ in stopped.updates if u.event.rule == "intruders"]
    assert phases[0] == EventPhase.START and phases[-1] == EventPhase.END


def test_a_failing_sink_still_gets_the_open_events_ended(samples_dir: Path, vision: Vision) -> None:
    failing = Recorder(after=15)
    frames = loop(samples_dir, vision, failing)
    with pytest.raises(RuntimeError, match="the sink failed"):
        frames.run()
    assert failing.updates[-1][0].phase == EventPhase.END
    assert frames.pipeline is not None and frames.pipeline.stats.events_ended == 1


def test_the_outbox_sink_sends_events_snapshots_counts_and_live_frames(
    samples_dir: Path, vision: Vision
) -> None:
    reliable: queue.Queue[WorkerMessage] = queue.Queue()
    lossy: queue.Queue[WorkerMessage] = queue.Queue()
    ticks: list[float] = []
    meter = HealthMeter(3)
    outbox = Outbox(reliable, lossy)
    live = LiveRenderer(outbox)
    live.demand((3,), until=time.time() + 600)  # someone watches camera 3
    sink = OutboxSink(
        3, outbox, meter, lambda: ticks.append(time.monotonic()), live_fps=2.0, live=live
    )
    started = time.monotonic()
    frames = loop(samples_dir, vision, sink)
    frames.run()
    seconds = time.monotonic() - started
    live.close()  # the frame it was rendering is sent first
    up = [reliable.get_nowait() for _ in range(reliable.qsize())]
    frames_up = [lossy.get_nowait() for _ in range(lossy.qsize())]
    sent = [m for m in up if isinstance(m, EventMessage | CountMessage)]
    assert len(sent) == len(up), "only events and counts go the reliable way"
    assert {m.camera_id for m in sent} == {3}
    assert {m.wall_origin for m in sent} == {sink.wall_origin}
    events = [m for m in sent if isinstance(m, EventMessage)]
    starts = [m for m in events if m.update.phase == EventPhase.START]
    assert len(starts) == 1 and starts[0].snapshot_jpeg is not None
    snapshot = cv2.imdecode(np.frombuffer(starts[0].snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert snapshot is not None and snapshot.shape == (270, 480, 3)
    assert all(m.snapshot_jpeg is None for m in events if m.update.phase != EventPhase.START)
    # Live frames at most twice a second of wall time (the clip is read as fast as it decodes).
    assert all(isinstance(m, FrameMessage) and m.camera_id == 3 for m in frames_up)
    assert 1 <= len(frames_up) <= 2 * seconds + 1 and live.rendered == len(frames_up)
    assert len(ticks) >= frames.frames  # idle after every frame: health is sent when due
    health = meter.measure(None, detector_dropped=0, totals=SourceTotals(), error=None)
    assert health.fps_analysed > 0
