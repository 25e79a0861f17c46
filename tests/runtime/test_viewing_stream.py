"""A camera analysed on a substream shows its viewing stream live (issue 15): the viewing
stream is decoded only while someone watches, its frames carry the analysed objects scaled to
them, and faces are looked for over the whole viewing frame, since the objects come from
another stream's frame."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from citybrain.config.model import CameraConfig
from citybrain.core.detections import Detections
from citybrain.core.frame import Frame
from citybrain.runtime.camera import RunnerOptions
from citybrain.runtime.messages import FrameMessage, LiveDemand, StartCamera, WorkerMessage
from citybrain.runtime.outbox import Outbox
from citybrain.runtime.viewing import ViewingStream
from citybrain.runtime.worker_process import Worker, WorkerOptions
from citybrain.sinks.base import AnalysedFrame
from citybrain.vision.anonymise import Anonymiser
from citybrain.vision.centerface import CenterFace

ANALYSED = "worker-zone-detection.mp4"  # 480x270
FACES = "face-demographics-walking-and-pause.mp4"  # 480x270, faces towards the camera
#: The probe of tests/vision/test_anonymise.py: more eager than the anonymiser's 0.25.
PROBE_THRESHOLD = 0.1


def upscaled(source: Path, target: Path, factor: int = 2) -> Path:
    """``source`` re-encoded at ``factor`` times its size: the camera's main stream."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        rate = src.streams.video[0].average_rate or Fraction(15)
        stream = out.add_stream("libx264", rate=rate)
        stream.width = src.streams.video[0].width * factor
        stream.height = src.streams.video[0].height * factor
        stream.pix_fmt = "yuv420p"
        for frame in src.decode(video=0):
            big = frame.reformat(width=stream.width, height=stream.height)
            big.pts = None
            out.mux(stream.encode(big))
        out.mux(stream.encode(None))
    return target


def viewing_threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.endswith(str(path)) and t.is_alive()]


@pytest.fixture
def lossy() -> queue.Queue[WorkerMessage]:
    return queue.Queue()


@pytest.fixture
def worker(models: Path, lossy: queue.Queue[WorkerMessage]) -> Iterator[Worker]:
    options = WorkerOptions(runner=RunnerOptions(viewing_idle=1.0))
    worker = Worker(Outbox(queue.Queue(), lossy), options)
    yield worker
    worker.close()


def frame_sizes(lossy: queue.Queue[WorkerMessage], seconds: float) -> list[tuple[int, ...]]:
    sizes: list[tuple[int, ...]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = lossy.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(message, FrameMessage):
            image = cv2.imdecode(np.frombuffer(message.jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image is not None
            sizes.append(image.shape[:2])
    return sizes


def test_the_viewing_stream_is_decoded_only_while_someone_watches(
    worker: Worker, lossy: queue.Queue[WorkerMessage], samples_dir: Path, tmp_path: Path
) -> None:
    main = upscaled(samples_dir / ANALYSED, tmp_path / "main.mp4")
    config = CameraConfig.model_validate({"camera": {"name": "dock", "fps": 5}})
    worker.handle(
        StartCamera(7, str(main), config, realtime=True, loop=True,
                    analysis_source=str(samples_dir / ANALYSED))
    )  # fmt: skip
    runner = worker.runners[7]
    assert runner.viewing is not None
    time.sleep(2.0)  # the substream is analysed; nobody watches
    assert runner.viewing.opened == 0 and not viewing_threads(main)
    assert frame_sizes(lossy, 0.5) == []

    worker.handle(LiveDemand((7,), until=time.time() + 30))
    sizes = frame_sizes(lossy, 4.0)
    assert (540, 960) in sizes, sizes  # the viewing stream, twice the analysed size
    assert set(sizes) <= {(540, 960), (270, 480)}  # the analysed one only until it has a frame
    assert runner.viewing.open and viewing_threads(main)

    worker.handle(LiveDemand((), until=time.time() + 30))  # the viewer leaves
    deadline = time.monotonic() + 10
    while runner.viewing.open or viewing_threads(main):
        assert time.monotonic() < deadline, "the viewing stream was still decoded"
        time.sleep(0.1)
    assert runner.viewing.opened == 1


def test_a_viewing_frame_carries_the_objects_scaled_and_hides_faces_outside_them(
    samples_dir: Path, tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBRAIN_MODEL_DIR", str(model_dir))
    main = upscaled(samples_dir / FACES, tmp_path / "faces.mp4")
    with av.open(str(main)) as container:
        decoded = next(iter(container.decode(video=0)))
        big = np.asarray(decoded.to_ndarray(format="bgr24"), dtype=np.uint8)
    small = np.asarray(cv2.resize(big, (480, 270)), dtype=np.uint8)
    probe = CenterFace(threshold=PROBE_THRESHOLD)
    assert len(probe.detect(big)[0]) >= 1, "the clip's first frame shows a face"

    anonymiser = Anonymiser()
    # A car far from every face: looking only around the objects would find none of them.
    car = Detections(
        xyxy=np.array([[0, 250, 40, 270]], np.float32),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([2]),
    )
    analysed = AnalysedFrame(1.0, car, Frame(small, 1.0, 5), anonymiser.apply)
    shown = analysed.on(Frame(big, 1.1, 6))
    assert (shown.width, shown.height) == (960, 540)
    np.testing.assert_allclose(shown.detections.xyxy, [[0, 500, 80, 540]])
    assert shown.detections.class_id.tolist() == [2]
    safe = shown.render()
    assert safe.shape == big.shape
    assert len(probe.detect(safe)[0]) == 0, "a face in the viewing frame stayed"
    looks = anonymiser.face_looks
    assert looks["frame"] == 1 and looks["crops"] == 0


def test_a_viewing_stream_that_cannot_open_leaves_the_analysed_frames(
    samples_dir: Path, tmp_path: Path
) -> None:
    viewing = ViewingStream(str(tmp_path / "gone.mp4"), 2.0, realtime=True, loop=True)
    image = np.zeros((270, 480, 3), np.uint8)
    analysed = AnalysedFrame(0.0, Detections.empty(), Frame(image, 0.0, 0), lambda i, d: i)
    assert viewing.live_frame(analysed) is analysed
    assert not viewing.open and viewing.opened == 0
    assert viewing.live_frame(analysed) is analysed  # not tried again at once
    viewing.close()
