"""Letterbox placement and per-class NMS, the pieces every detector family shares."""

from __future__ import annotations

import numpy as np
import pytest

from citybrain.vision.boxes import Letterbox, nms_per_class, to_detections


@pytest.mark.parametrize(
    ("center", "offset"),
    [(False, (0.0, 0.0)), (True, (0.0, 80.0))],  # 640x320 -> 320x160 in a 320 square
)
def test_letterbox_places_and_maps_back(center: bool, offset: tuple[float, float]) -> None:
    image = np.zeros((320, 640, 3), dtype=np.uint8)
    image[:, :, 0] = 200  # blue in BGR
    tensor, (placement,) = Letterbox(320, center=center, rgb=True, scale=1 / 255)([image])
    assert tensor.shape == (1, 3, 320, 320) and tensor.dtype == np.float32
    assert placement.ratio == 0.5 and (placement.offset_x, placement.offset_y) == offset
    top = int(offset[1])
    # RGB order: the blue channel is last; padding is grey 114.
    assert tensor[0, 2, top + 10, 10] == pytest.approx(200 / 255)
    assert tensor[0, 0, top + 10, 10] == 0.0
    pad_row = 319 if not center else 0
    assert tensor[0, 1, pad_row, 10] == pytest.approx(114 / 255)
    box = np.array([[10, top + 20, 110, top + 60]], dtype=np.float32)
    np.testing.assert_allclose(placement.to_original(box), [[20, 40, 220, 120]])
    outside = np.array([[-10, -10, 400, 400]], dtype=np.float32)
    np.testing.assert_allclose(placement.to_original(outside), [[0, 0, 640, 320]])


def test_letterbox_keeps_bgr_and_raw_values_for_yolox() -> None:
    image = np.full((100, 50, 3), (10, 20, 30), dtype=np.uint8)
    tensor, _ = Letterbox(64)([image, image])
    assert tensor.shape == (2, 3, 64, 64)
    assert tensor[1, :, 5, 5].tolist() == [10.0, 20.0, 30.0]
    assert tensor[1, :, 5, 63].tolist() == [114.0, 114.0, 114.0]


def test_nms_suppresses_within_a_class_only() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60], [-5, -5, 5, 5]],
        dtype=np.float32,
    )
    scores = np.array([0.6, 0.9, 0.8, 0.5, 0.7], dtype=np.float32)
    classes = np.array([0, 0, 1, 0, 1], dtype=np.int64)
    keep = nms_per_class(boxes, scores, classes, iou_threshold=0.45)
    # Box 0 overlaps box 1 (IoU 0.68) of its class; box 4 overlaps box 2 by IoU 0.14 only.
    assert keep.tolist() == [1, 2, 4, 3]
    assert nms_per_class(boxes[:0], scores[:0], classes[:0], 0.45).tolist() == []


def test_to_detections_thresholds_before_nms() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], dtype=np.float32)
    detections = to_detections(
        boxes,
        np.array([0.2, 0.5], dtype=np.float32),
        np.array([3, 3], dtype=np.int64),
        confidence=0.3,
        iou_threshold=0.45,
    )
    assert detections.xyxy.tolist() == [[1, 1, 11, 11]]
    assert detections.class_id.tolist() == [3]
