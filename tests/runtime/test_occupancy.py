"""Zone occupancy on the worker: counts per zone and label from the tracked objects, sent up on
the lossy queue when they change and now and then regardless."""

from __future__ import annotations

import itertools
import queue
from pathlib import Path

import numpy as np
import pytest

from citybrain.config import parse_config
from citybrain.core.detections import Detections
from citybrain.ingest import Reader, ReaderOptions
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, Vision
from citybrain.runtime.camera_sink import OutboxSink
from citybrain.runtime.health import HealthMeter
from citybrain.runtime.loop import FrameLoop
from citybrain.runtime.messages import OccupancyMessage, WorkerMessage
from citybrain.runtime.occupancy import OccupancyMeter, watched_labels
from citybrain.runtime.outbox import Outbox

CLIP = "worker-zone-detection.mp4"  # one worker walks through for 4.7 s
CONFIG = parse_config("""
camera: {name: dock, fps: 5}
zones:
  left: {polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}
  floor: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  intruders: {kind: restricted_zone, zone: floor, labels: [person]}
  parking: {kind: dwell, zone: left, labels: [car, person], seconds: 60}
""")


def _dets(boxes: list[tuple[float, float, float, float]], classes: list[int], tracks: list[int]):
    return Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.ones(len(boxes), dtype=np.float32),
        class_id=np.array(classes, dtype=np.int64),
        tracker_id=np.array(tracks, dtype=np.int64),
    )


def test_counts_per_zone_and_label_sent_on_change_and_every_few_seconds() -> None:
    assert watched_labels(CONFIG) == ("person", "car")
    now = [0.0]
    meter = OccupancyMeter(7, CONFIG, every=10.0, clock=lambda: now[0])
    # A person in the left half, a car in the right half, an untracked person (not counted).
    dets = _dets([(10, 10, 20, 90), (70, 10, 90, 90), (30, 10, 40, 90)], [0, 2, 0], [1, 2, -1])
    first = meter.observe(dets, 100, 100)
    assert first is not None and (first.camera_id, first.camera) == (7, "dock")
    assert dict(((z, lbl), n) for z, lbl, n in first.counts) == {
        ("left", "person"): 1, ("left", "car"): 0, ("floor", "person"): 1, ("floor", "car"): 1,
    }  # fmt: skip
    assert meter.observe(dets, 100, 100) is None  # the same objects: nothing new
    now[0] = 5.0
    assert meter.observe(_dets([(10, 10, 20, 90)], [0], [1]), 100, 100) is not None  # a change
    now[0] = 9.0
    assert meter.observe(_dets([(10, 10, 20, 90)], [0], [1]), 100, 100) is None
    now[0] = 15.1
    healed = meter.observe(_dets([(10, 10, 20, 90)], [0], [1]), 100, 100)
    assert healed is not None, "sent again after `every` seconds, changed or not"
    no_zones = OccupancyMeter(1, parse_config("camera: {name: x}"))
    assert not no_zones.active and no_zones.observe(dets, 100, 100) is None


def test_a_label_group_counts_all_its_members() -> None:
    """``vehicle`` names several classes: a car, a bus and a truck are three vehicles (this
    raised in every demo camera that watched the group)."""
    config = parse_config("""
camera: {name: lot, fps: 5}
zones: {lot: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}}
rules: {stopped: {kind: dwell, zone: lot, labels: [vehicle, person], seconds: 60}}
""")
    meter = OccupancyMeter(3, config)
    car, bus, truck, person = 2, 5, 7, 0
    boxes = [(10, 10, 20, 20), (30, 30, 40, 40), (50, 50, 60, 60), (70, 70, 80, 80)]
    message = meter.observe(_dets(boxes, [car, bus, truck, person], [1, 2, 3, 4]), 100, 100)
    assert message is not None
    assert message.counts == (("lot", "vehicle", 3), ("lot", "person", 1))


def test_a_worker_walking_into_the_zones_of_the_clip_is_counted(
    samples_dir: Path, model_dir: Path
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
        vision = Vision.load(CONFIG, threads=1)
    reliable: queue.Queue[WorkerMessage] = queue.Queue()
    lossy: queue.Queue[WorkerMessage] = queue.Queue()
    sink = OutboxSink(
        3, Outbox(reliable, lossy), HealthMeter(3), lambda: None, live_fps=0.01,
        live=None, occupancy=OccupancyMeter(3, CONFIG, every=3600),
    )  # fmt: skip
    reader = Reader(str(samples_dir / CLIP), ReaderOptions(fps=5, thumbnail_width=MOTION_WIDTH))
    FrameLoop(reader, lambda origin: CameraPipeline(CONFIG, vision, wall_origin=origin), sink).run()
    sent = [m for m in (lossy.get_nowait() for _ in range(lossy.qsize()))]
    counted = [m for m in sent if isinstance(m, OccupancyMessage)]
    assert counted and all(m.camera == "dock" and m.camera_id == 3 for m in counted)
    floor = [dict(((z, lbl), n) for z, lbl, n in m.counts)[("floor", "person")] for m in counted]
    assert max(floor) == 1, floor  # the one worker, never more
    assert floor[0] == 0 and 1 in floor, floor  # counted as they walk in
    assert all(a.counts != b.counts for a, b in itertools.pairwise(counted))  # only changes
