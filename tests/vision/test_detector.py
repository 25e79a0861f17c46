"""YOLOX and PicoDet on real frames of the development clips, batching, spec and registry."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from citybrain.core.detections import COCO_LABELS, Detections
from citybrain.core.frame import Image
from citybrain.errors import ConfigError, ModelError
from citybrain.vision.detector import Detector, DetectorSpec, build_detector, families

PICODET = "picodet_xs_320_lcnet_postprocessed.onnx"
WORKER_FRAMES = (10, 20, 30, 40, 50, 60, 70)
ROOM_PEOPLE_FRAMES = (131, 300, 560, 1132)
ROOM_EMPTY_FRAMES = (0, 1232)


def decode(path: Path, indices: tuple[int, ...]) -> dict[int, Image]:
    """The frames at ``indices`` (0-based decode order), BGR."""
    wanted, frames = set(indices), {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            if i >= max(indices):
                break
    assert set(frames) == wanted, f"{path.name} has fewer frames than expected"
    return frames


@pytest.fixture(scope="module")
def yolox(model_dir: Path) -> Detector:
    return build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx", threads=2))


@pytest.fixture(scope="module")
def worker_frames(samples_dir: Path) -> dict[int, Image]:
    return decode(samples_dir / "worker-zone-detection.mp4", WORKER_FRAMES)


@pytest.fixture(scope="module")
def room_frames(samples_dir: Path) -> dict[int, Image]:
    return decode(
        samples_dir / "one-by-one-person-detection.mp4", ROOM_PEOPLE_FRAMES + ROOM_EMPTY_FRAMES
    )


def people(detections: Detections) -> Detections:
    return detections[detections.class_id == COCO_LABELS.index("person")]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = np.maximum(a[:2], b[:2])
    x2, y2 = np.minimum(a[2:], b[2:])
    inter = max(x2 - x1, 0) * max(y2 - y1, 0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return float(inter / (area - inter))


def test_yolox_finds_the_walking_worker(yolox: Detector, worker_frames: dict[int, Image]) -> None:
    assert isinstance(yolox, Detector)
    assert yolox.labels == COCO_LABELS
    results = yolox.detect(list(worker_frames.values()))
    for index, image, detections in zip(
        worker_frames, worker_frames.values(), results, strict=True
    ):
        found = people(detections)
        assert len(found) >= 1, f"no person in frame {index}"
        best = found[int(found.confidence.argmax())]
        assert best.confidence[0] > 0.6
        x1, y1, x2, y2 = best.xyxy[0]
        height, width = image.shape[:2]
        # Boxes are in the original 480x270 pixels, not the 416 network input.
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert y2 - y1 > 0.5 * height, "the worker fills most of the frame's height"
        assert detections.confidence.min() >= 0.3


def test_yolox_finds_people_in_the_room_and_none_when_it_is_empty(
    yolox: Detector, room_frames: dict[int, Image]
) -> None:
    for index in ROOM_PEOPLE_FRAMES:
        (detections,) = yolox.detect([room_frames[index]])
        assert people(detections).confidence.max(initial=0) > 0.6, f"frame {index}"
    for index in ROOM_EMPTY_FRAMES:
        (detections,) = yolox.detect([room_frames[index]])
        assert len(people(detections)) == 0, f"frame {index} shows an empty room"


def test_batch_of_four_equals_four_single_calls(
    yolox: Detector, worker_frames: dict[int, Image], room_frames: dict[int, Image]
) -> None:
    # Different sizes (480x270 and 768x432) in one batch, as from several cameras.
    images = [worker_frames[10], room_frames[131], worker_frames[50], room_frames[0]]
    assert getattr(yolox, "batched", False), "the static batch-1 export was made dynamic"
    together = yolox.detect(images)
    alone = [yolox.detect([image])[0] for image in images]
    assert len(together) == 4
    for joint, single in zip(together, alone, strict=True):
        assert len(joint) == len(single)
        np.testing.assert_array_equal(joint.class_id, single.class_id)
        np.testing.assert_allclose(joint.xyxy, single.xyxy, atol=1e-2)
        np.testing.assert_allclose(joint.confidence, single.confidence, atol=1e-4)
    assert len(people(together[3])) == 0, "the empty room stays empty in a batch"
    # Two threads on the CPU: the batch ran as two halves side by side.
    assert getattr(yolox, "lanes", None) == 2
    uneven = yolox.detect(images[:3])
    for joint, single in zip(uneven, alone[:3], strict=True):
        np.testing.assert_allclose(joint.xyxy, single.xyxy, atol=1e-2)


def test_one_thread_runs_a_batch_as_one_call(
    model_dir: Path, worker_frames: dict[int, Image], room_frames: dict[int, Image]
) -> None:
    detector = build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx", threads=1))
    assert getattr(detector, "lanes", None) == 0
    images = [worker_frames[10], room_frames[131]]
    together = detector.detect(images)
    for joint, image in zip(together, images, strict=True):
        (single,) = detector.detect([image])
        np.testing.assert_allclose(joint.xyxy, single.xyxy, atol=1e-2)


def test_picodet_finds_the_same_person(
    model_dir: Path, yolox: Detector, worker_frames: dict[int, Image]
) -> None:
    if not (model_dir / PICODET).is_file():
        pytest.skip(f"{PICODET} not in {model_dir}")
    picodet = build_detector(DetectorSpec("picodet", model_dir / PICODET, threads=2))
    assert picodet.labels == COCO_LABELS
    images = [worker_frames[30], worker_frames[60]]
    for from_picodet, from_yolox in zip(picodet.detect(images), yolox.detect(images), strict=True):
        pico_person, yolox_person = people(from_picodet), people(from_yolox)
        assert pico_person.confidence.max(initial=0) > 0.6
        best_pico = pico_person.xyxy[int(pico_person.confidence.argmax())]
        best_yolox = yolox_person.xyxy[int(yolox_person.confidence.argmax())]
        assert iou(best_pico, best_yolox) > 0.7


def test_no_images_and_bad_images(yolox: Detector) -> None:
    assert yolox.detect([]) == []
    with pytest.raises(ValueError, match="uint8 BGR"):
        yolox.detect([np.zeros((10, 10), dtype=np.uint8)])
    (blank,) = yolox.detect([np.full((240, 320, 3), 114, dtype=np.uint8)])
    assert len(blank) == 0


def test_confidence_threshold_is_applied(model_dir: Path, worker_frames: dict[int, Image]) -> None:
    strict = build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx", confidence=0.8))
    (detections,) = strict.detect([worker_frames[30]])
    assert len(detections) >= 1 and detections.confidence.min() >= 0.8
    assert set(detections.class_id.tolist()) == {0}  # the 0.45-0.73 "sports ball" is gone


def test_spec_rejects_bad_threads() -> None:
    # The ranges of the values a camera config sets are the config's (tests/config).
    with pytest.raises(ConfigError, match="threads"):
        DetectorSpec("yolox", Path("m.onnx"), threads=0)


def test_registry_errors(model_dir: Path, tmp_path: Path) -> None:
    assert {"yolox", "yolov8", "picodet"} <= set(families())
    with pytest.raises(ConfigError, match="unknown detector family 'ssd'"):
        build_detector(DetectorSpec("ssd", model_dir / "yolox_nano.onnx"))
    with pytest.raises(ModelError, match="does not exist"):
        build_detector(DetectorSpec("yolox", tmp_path / "missing.onnx"))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load model"):
        build_detector(DetectorSpec("yolox", broken))
    with pytest.raises(
        ModelError, match=r"NoSuchProvider.. is available; this ONNX Runtime build offers"
    ):
        build_detector(
            DetectorSpec("yolox", model_dir / "yolox_nano.onnx", providers=("NoSuchProvider",))
        )


def test_yolox_feeds_frames_in_their_own_aspect_ratio(
    model_dir: Path, worker_frames: dict[int, Image]
) -> None:
    """A 16:9 frame goes in as 416x256, not 416x416, and finds the same worker."""
    frame = worker_frames[30]
    detector = build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx"))
    assert getattr(detector, "rectangular", False)
    assert detector._letterbox.canvas_size([frame]) == (256, 416)  # type: ignore[attr-defined]
    (rect,) = detector.detect([frame])
    square = np.full((480, 480, 3), 114, dtype=np.uint8)
    square[: frame.shape[0], : frame.shape[1]] = frame  # the old square letterbox, by hand
    (padded,) = detector.detect([square])
    people_rect = rect[rect.class_id == 0]
    people_square = padded[padded.class_id == 0]
    assert len(people_rect) == len(people_square) == 1
    assert np.abs(people_rect.xyxy - people_square.xyxy).max() < 4.0
    for size in (320, 640):
        bigger = build_detector(
            DetectorSpec("yolox", model_dir / "yolox_nano.onnx", input_size=size)
        )
        (found,) = bigger.detect([frame])
        assert (found.class_id == 0).sum() == 1
