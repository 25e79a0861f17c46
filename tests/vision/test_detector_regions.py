"""Crops of real frames fed at the whole frame's scale: the same objects, for less work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citybrain.core.detections import COCO_LABELS
from citybrain.core.frame import Image
from citybrain.core.regions import Crop
from citybrain.vision.batching import BatchingDetector
from citybrain.vision.boxes import Letterbox
from citybrain.vision.detector import DetectorSpec, RegionDetector, build_detector

from .test_detector import decode, iou

PERSON = COCO_LABELS.index("person")
ROOM = "one-by-one-person-detection.mp4"  # 768x432


@pytest.fixture(scope="module")
def yolox(model_dir: Path) -> RegionDetector:
    detector = build_detector(DetectorSpec("yolox", model_dir / "yolox_nano.onnx", threads=1))
    assert isinstance(detector, RegionDetector)
    return detector


@pytest.fixture(scope="module")
def room(samples_dir: Path) -> Image:
    return decode(samples_dir / ROOM, (300,))[300]


def best_person(xyxy: np.ndarray, class_id: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    people = np.flatnonzero(class_id == PERSON)
    assert len(people), "no person found"
    return xyxy[people[int(confidence[people].argmax())]]


def test_a_crop_around_a_person_finds_them_where_the_whole_frame_does(
    yolox: RegionDetector, room: Image
) -> None:
    scale = yolox.frame_scale(*room.shape[:2])
    assert scale == pytest.approx(416 / 768)
    (whole,) = yolox.detect([room])
    person = best_person(whole.xyxy, whole.class_id, whole.confidence)
    x1, _, x2, _ = person.tolist()
    crop = Crop(max(0, int(x1) - 60), 0, min(768, int(x2) + 60), 432, scale)
    (found,) = yolox.detect([room[crop.y1 : crop.y2, crop.x1 : crop.x2]], [crop.scale])
    found = crop.to_frame(found)
    again = best_person(found.xyxy, found.class_id, found.confidence)
    # The network sees the person at the same size, in less context: nearly the same box.
    assert iou(again, person) > 0.9
    assert not crop.cut(again[None, :], 768, 432).any()


def test_letterbox_feeds_a_crop_at_the_given_scale() -> None:
    letterbox = Letterbox(416, stride=32)
    crop = np.zeros((432, 300, 3), dtype=np.uint8)
    tensor, (placement,) = letterbox([crop], [416 / 768])
    # 300x432 at 0.5417 is 162x234: padded to whole strides, 192x256, not fitted to 416.
    assert tensor.shape == (1, 3, 256, 192)
    assert placement.ratio == pytest.approx(416 / 768)
    with pytest.raises(ValueError, match="would not fit"):
        letterbox([crop], [2.0])
    with pytest.raises(ValueError, match="fixed size"):
        Letterbox(416)([crop], [0.5])


def test_crops_and_whole_frames_in_one_batch_equal_single_calls(
    yolox: RegionDetector, room: Image
) -> None:
    scale = yolox.frame_scale(*room.shape[:2])
    crop = room[:, 200:520]
    images, scales = [room, crop, room[100:, 400:]], [None, scale, scale]
    together = yolox.detect(images, scales)
    for joint, image, image_scale in zip(together, images, scales, strict=True):
        (single,) = yolox.detect([image], [image_scale])
        # A crop in a batch is padded to the batch's largest input: a fraction of a pixel.
        assert len(joint) == len(single)
        np.testing.assert_allclose(joint.xyxy, single.xyxy, atol=1.0)
    with pytest.raises(ValueError, match="2 scales for 3 images"):
        yolox.detect(images, [None, scale])


def test_a_shared_detector_passes_scales_through(yolox: RegionDetector, room: Image) -> None:
    scale = yolox.frame_scale(*room.shape[:2])
    crop = room[:, 200:520]
    with BatchingDetector(yolox, max_batch=4) as shared:
        assert shared.frame_scale(432, 768) == scale
        (via_shared,) = shared.detect([crop], [scale])
    (direct,) = yolox.detect([crop], [scale])
    np.testing.assert_allclose(via_shared.xyxy, direct.xyxy, atol=0.05)


def test_fixed_size_models_take_no_scales(model_dir: Path, room: Image) -> None:
    spec = DetectorSpec("picodet", model_dir / "picodet_xs_320_lcnet_postprocessed.onnx")
    picodet = build_detector(spec)
    assert isinstance(picodet, RegionDetector)
    assert picodet.frame_scale(432, 768) is None
    with pytest.raises(ValueError, match="fixed-size inputs"):
        picodet.detect([room], [0.5])
