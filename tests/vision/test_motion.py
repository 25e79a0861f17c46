"""The motion gate on real clips: fires while people move, stays quiet when nothing does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from citybrain.core.frame import Frame, Image
from citybrain.vision.detector import DetectorSpec, build_detector
from citybrain.vision.motion import Motion, MotionConfig, MotionGate


def frames(path: Path, fps: float | None = None) -> Iterator[tuple[Image, float]]:
    """Decoded BGR frames with their stream timestamps, optionally sampled at ``fps``."""
    last_slot = -1
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            timestamp = float(frame.time or 0.0)
            if fps is not None:
                slot = int(timestamp * fps + 1e-6)
                if slot == last_slot:
                    continue
                last_slot = slot
            yield np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8), timestamp


def covered(box: np.ndarray, regions: np.ndarray) -> float:
    """The largest share of ``box`` that one motion region covers."""
    best = 0.0
    for region in regions:
        x1, y1 = np.maximum(box[:2], region[:2])
        x2, y2 = np.minimum(box[2:], region[2:])
        inter = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
        best = max(best, float(inter / ((box[2] - box[0]) * (box[3] - box[1]))))
    return best


def test_walking_worker_moves_where_the_detector_sees_him(
    samples_dir: Path, model_dir: Path
) -> None:
    detector = build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx", threads=2))
    gate = MotionGate()
    results: list[Motion] = []
    for index, (image, timestamp) in enumerate(frames(samples_dir / "worker-zone-detection.mp4")):
        motion = gate.detect(Frame(image, timestamp, 0))
        results.append(motion)
        assert motion.regions.dtype == np.float32 and motion.regions.shape[1:] == (4,)
        assert 0.0 <= motion.fraction < 0.5 and not motion.reseeded
        if index % 5 or index < 10:
            continue
        (detections,) = detector.detect([image])
        person = detections[detections.class_id == 0]
        assert len(person), f"frame {index}: the detector lost the worker"
        box = person.xyxy[int(person.confidence.argmax())]
        # He walks until about frame 50, then mostly stands and turns.
        assert covered(box, motion.regions) > (0.3 if index <= 50 else 0.0), f"frame {index}"
    assert not results[0].moving, "the first frame only seeds the background"
    moving_share = sum(m.moving for m in results[1:]) / (len(results) - 1)
    assert moving_share > 0.9
    regions = np.concatenate([m.regions for m in results])
    assert regions[:, 2].max() <= 480 and regions[:, 3].max() <= 270  # original pixels


def test_room_with_long_still_stretches_is_mostly_quiet(samples_dir: Path) -> None:
    gate = MotionGate()
    moving, times = [], []
    for image, timestamp in frames(samples_dir / "one-by-one-person-detection.mp4", fps=5):
        moving.append(gate.detect(Frame(image, timestamp, 0)).moving)
        times.append(timestamp)
    share = sum(moving) / len(moving)
    # Measured: 0.57 of 697 samples. People walk in and out, then stand for long spells.
    assert 0.2 < share < 0.75, share
    longest_still, start = 0.0, None
    for is_moving, timestamp in zip(moving, times, strict=True):
        if is_moving:
            start = None
        else:
            start = timestamp if start is None else start
            longest_still = max(longest_still, timestamp - start)
    assert longest_still > 5.0


def test_global_brightness_jump_reseeds_instead_of_firing(samples_dir: Path) -> None:
    gate = MotionGate()
    clip = frames(samples_dir / "one-by-one-person-detection.mp4")
    results = []
    for index, (image, timestamp) in enumerate(clip):
        if index >= 40:
            break
        lit = image
        if index >= 20:  # the lights come on: every pixel much brighter at once
            lit = np.clip(image.astype(np.int16) + 60, 0, 255).astype(np.uint8)
        results.append(gate.detect(Frame(lit, timestamp, 0)))
    assert not any(m.moving for m in results[:20]), "the empty room at the start is still"
    assert results[20].reseeded and not results[20].moving and results[20].fraction > 0.5
    assert not any(m.moving or m.reseeded for m in results[21:])


def test_new_frame_size_or_time_going_back_starts_over() -> None:
    gate = MotionGate(MotionConfig(frame_width=64))
    dark, light = np.zeros((90, 160, 3), np.uint8), np.zeros((90, 160, 3), np.uint8)
    light[20:60, 40:100] = 255  # a bright box: 16% of the frame
    assert not gate.detect(Frame(dark, 0.0, 0)).moving
    motion = gate.detect(Frame(light, 0.1, 0))
    assert motion.moving and motion.fraction == pytest.approx(0.17, abs=0.05)
    np.testing.assert_allclose(motion.regions[0], [40, 20, 100, 60], atol=8)
    assert not gate.detect(Frame(light, 0.05, 0)).moving, "time went back: a new stream, re-seeded"
    small = Frame(np.zeros((50, 50, 3), np.uint8), 1.0, 0)
    assert not gate.detect(small).moving, "new size: re-seeded"


@pytest.mark.parametrize(
    "changes",
    [{"frame_width": 8}, {"blur": 4}, {"reseed_fraction": 0}],
)
def test_the_gates_own_settings_are_validated(changes: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="motion"):
        MotionConfig(**changes)  # type: ignore[arg-type]
