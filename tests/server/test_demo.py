"""Demo cameras: one per development clip (never an evaluation clip), each config valid and
producing events on its clip quickly, so that a first ``citybrain serve`` shows something."""

from __future__ import annotations

from pathlib import Path

import pytest

from citybrain.config import stored_camera_config
from citybrain.config.model import CameraConfig
from citybrain.core.events import EventPhase, EventUpdate
from citybrain.ingest import Reader, ReaderOptions
from citybrain.pipeline import MOTION_WIDTH, CameraPipeline, Vision
from citybrain.runtime.camera_plan import plan_camera
from citybrain.server.demo import DEMO_CAMERAS, add_demo_cameras
from citybrain.store import CameraRepo, Store

#: The development clips (tests/conftest.py); the evaluation clips must never appear here.
DEVELOPMENT_CLIPS = {
    "worker-zone-detection.mp4",
    "person-bicycle-car-detection.mp4",
    "car-detection.mp4",
    "one-by-one-person-detection.mp4",
    "face-demographics-walking-and-pause.mp4",
}


def test_demo_cameras_cover_the_development_clips_only(store: Store, samples_dir: Path) -> None:
    clips = {demo.clip for demo in DEMO_CAMERAS}
    assert clips == DEVELOPMENT_CLIPS
    added = add_demo_cameras(store, samples_dir)
    assert len(added) == 5
    assert add_demo_cameras(store, samples_dir) == []  # names taken: nothing added twice
    with store.session() as session:
        repo = CameraRepo(session)
        for camera_id in added:
            camera = repo.get(camera_id=camera_id)
            assert camera is not None
            plan = plan_camera(camera.id, camera.name, camera.source, camera.config)
            assert plan.loop and plan.realtime  # a file plays like a camera, forever
            assert Path(camera.source).name in clips and Path(camera.source).is_file()


def first_events(config: CameraConfig, clip: Path, vision: Vision) -> list[EventUpdate]:
    pipeline = CameraPipeline(config, vision)
    starts: list[EventUpdate] = []
    options = ReaderOptions(fps=config.camera.fps, thumbnail_width=MOTION_WIDTH)
    with Reader(str(clip), options) as reader:
        for frame in reader:
            updates = pipeline.process(frame).updates
            starts += [u for u in updates if u.phase == EventPhase.START]
    return starts


@pytest.mark.parametrize(
    "name", ["demo-warehouse", "demo-parking-lot", "demo-car-park", "demo-entrance", "demo-lobby"]
)
def test_demo_camera_shows_an_event_within_a_minute(
    name: str, models: Path, samples_dir: Path
) -> None:
    demo = next(d for d in DEMO_CAMERAS if d.name == name)
    config = stored_camera_config(demo.name, demo.config)
    starts = first_events(config, samples_dir / demo.clip, Vision.load(config, threads=1))
    assert starts, f"{name}: no event on {demo.clip}"
    assert min(u.event.start for u in starts) < 60.0


def test_the_demo_car_park_counts_its_cars(models: Path, samples_dir: Path) -> None:
    # Four cars drive through car-detection.mp4 seen from above, two up and two down; YOLOX-Nano
    # calls them cell phones, buses, suitcases and cars: the vehicle group counts them all.
    demo = next(d for d in DEMO_CAMERAS if d.name == "demo-car-park")
    config = stored_camera_config(demo.name, demo.config)
    starts = first_events(config, samples_dir / demo.clip, Vision.load(config, threads=1))
    crossings = sorted((u.event.details["direction"], u.event.label) for u in starts)
    assert crossings == [("in", "vehicle")] * 2 + [("out", "vehicle")] * 2
