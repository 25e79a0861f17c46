"""The batching detector: many camera threads, one YOLOX session, bounded queue, clean close."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import av
import numpy as np
import pytest

from citybrain.core.detections import Detections
from citybrain.core.frame import Image
from citybrain.vision.batching import BatchingDetector
from citybrain.vision.detector import Detector, DetectorSpec, build_detector

CAMERAS = 4
FRAMES_PER_CAMERA = 6


@pytest.fixture(scope="module")
def yolox(model_dir: Path) -> Detector:
    return build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx", threads=2))


@pytest.fixture(scope="module")
def clip_frames(samples_dir: Path) -> list[Image]:
    """Every 10th frame of two clips of different sizes, as if from different cameras."""
    images = []
    for name in ("worker-zone-detection.mp4", "one-by-one-person-detection.mp4"):
        with av.open(str(samples_dir / name)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % 10 == 0:
                    images.append(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8))
                if i >= 150:
                    break
    return images


class Gated:
    """Runs the real detector, but only once ``gate`` is open: lets a test fill the queue."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.labels = detector.labels

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        self.entered.set()
        self.gate.wait(timeout=30)
        return self.detector.detect(images)


def same(a: Detections, b: Detections) -> bool:
    return (
        len(a) == len(b)
        and bool(np.array_equal(a.class_id, b.class_id))
        and bool(np.allclose(a.xyxy, b.xyxy, atol=1e-2))
    )


def test_concurrent_cameras_get_their_own_results_in_batches(
    yolox: Detector, clip_frames: list[Image]
) -> None:
    expected = [yolox.detect([image])[0] for image in clip_frames]
    results: dict[tuple[int, int], tuple[int, Detections]] = {}
    errors: list[BaseException] = []

    def camera(cam: int) -> None:
        try:
            for k in range(FRAMES_PER_CAMERA):
                index = (cam * 5 + k * 3) % len(clip_frames)
                found = shared.detect_one(clip_frames[index], timeout=30)
                assert found is not None, "a queue of 32 never fills with 4 cameras"
                results[cam, k] = (index, found)
        except BaseException as exc:
            errors.append(exc)

    with BatchingDetector(yolox, max_batch=4, max_wait=0.05, max_queue=32) as shared:
        threads = [threading.Thread(target=camera, args=(c,)) for c in range(CAMERAS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stats = shared.stats()
    assert not errors, errors
    assert len(results) == CAMERAS * FRAMES_PER_CAMERA
    for index, found in results.values():
        assert same(found, expected[index]), f"frame {index} got another camera's result"
    assert stats.images == CAMERAS * FRAMES_PER_CAMERA and stats.rejected == 0
    assert stats.batches < stats.images and stats.mean_batch_size > 1.5
    assert stats.mean_latency > 0 and stats.queue_depth == 0


def test_full_queue_refuses_at_once_and_counts(yolox: Detector, clip_frames: list[Image]) -> None:
    gated = Gated(yolox)
    shared = BatchingDetector(gated, max_batch=2, max_wait=0.0, max_queue=2)
    first = shared.submit(clip_frames[0])
    assert gated.entered.wait(timeout=10), "the worker took the first request"
    queued = [shared.submit(clip_frames[1]), shared.submit(clip_frames[2])]
    assert shared.stats().queue_depth == 2
    assert shared.submit(clip_frames[3]) is None, "full: the camera drops this frame"
    assert shared.detect_one(clip_frames[3]) is None
    gated.gate.set()
    futures: list[Future[Detections]] = [f for f in [first, *queued] if f is not None]
    assert len(futures) == 3
    for future, image in zip(futures, clip_frames[:3], strict=True):
        assert same(future.result(timeout=30), yolox.detect([image])[0])
    shared.close()
    stats = shared.stats()
    assert (stats.rejected, stats.images) == (2, 3)
    assert stats.batches == 2, "the two queued requests went out together"


def test_close_drains_is_idempotent_and_refuses_new_work(
    yolox: Detector, clip_frames: list[Image]
) -> None:
    shared = BatchingDetector(yolox, max_batch=8, max_wait=0.5, max_queue=8)
    pending = [shared.submit(image) for image in clip_frames[:5]]
    closers = [threading.Thread(target=shared.close) for _ in range(3)]
    for closer in closers:
        closer.start()
    for closer in closers:
        closer.join(timeout=30)
    assert all(f is not None and f.done() and not f.exception() for f in pending)
    with pytest.raises(RuntimeError, match="closed"):
        shared.submit(clip_frames[0])
    shared.close()


class Broken:
    """A detector whose model fails, to show the failure reaches every waiting camera."""

    labels = ("person",)

    def detect(self, images: Sequence[Image]) -> list[Detections]:
        raise RuntimeError("inference failed")


def test_errors_reach_the_callers_and_bad_frames_are_refused_early(
    clip_frames: list[Image],
) -> None:
    with BatchingDetector(Broken(), max_batch=4, max_wait=0.01) as shared:
        future = shared.submit(clip_frames[0])
        assert future is not None
        with pytest.raises(RuntimeError, match="inference failed"):
            future.result(timeout=10)
        with pytest.raises(ValueError, match="uint8 BGR"):
            shared.submit(np.zeros((4, 4), dtype=np.uint8))
        assert shared.stats().batches == 1
