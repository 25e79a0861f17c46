"""Where the detector looks between whole-frame looks: crops around unexplained motion."""

from __future__ import annotations

import numpy as np
import pytest

from citybrain.core.detections import Detections
from citybrain.core.regions import Crop, RegionPlanner, explained, mostly_inside, touches

WIDTH, HEIGHT = 768, 432
SCALE = 416 / 768  # YOLOX-Nano's scale for a whole 768x432 frame


def boxes(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.array(rows, dtype=np.float32).reshape(-1, 4)


def dets(rows: list[tuple[float, float, float, float]], classes: list[int]) -> Detections:
    return Detections(
        xyxy=boxes(*rows),
        confidence=np.full(len(rows), 0.9, dtype=np.float32),
        class_id=np.array(classes, dtype=np.int64),
    )


def plan(
    motion: np.ndarray, tracked: np.ndarray, planner: RegionPlanner | None = None
) -> Crop | None:
    unexplained = ~explained(motion, tracked)
    assert unexplained.any()
    return (planner or RegionPlanner()).plan(motion, unexplained, tracked, (WIDTH, HEIGHT), SCALE)


def test_explained_is_per_region() -> None:
    tracked = boxes((100, 100, 200, 300))
    motion = boxes((110, 120, 190, 290), (95, 100, 205, 300), (300, 100, 350, 200))
    # Inside the box; inside it grown by 15 %; elsewhere.
    assert explained(motion, tracked).tolist() == [True, True, False]
    assert explained(motion, boxes()).tolist() == [False, False, False]
    assert explained(boxes(), tracked).tolist() == []


def test_the_crop_holds_the_motion_with_a_margin_and_fills_whole_strides() -> None:
    crop = plan(boxes((300, 200, 360, 300)), boxes())
    assert crop is not None and crop.scale == SCALE
    assert crop.x1 <= 300 - 24 and crop.x2 >= 360 + 24
    assert crop.y1 <= 200 - 25 and crop.y2 >= 300 + 25
    assert 0 <= crop.x1 < crop.x2 <= WIDTH and 0 <= crop.y1 < crop.y2 <= HEIGHT
    assert fills_strides(crop)
    assert crop.area < 0.2 * WIDTH * HEIGHT


def test_a_crop_at_the_frame_edge_stays_inside_the_frame() -> None:
    crop = plan(boxes((700, 380, 768, 432)), boxes())
    assert crop is not None
    assert crop.x2 == WIDTH and crop.y2 == HEIGHT
    assert crop.x1 < 700 and crop.y1 < 380


def test_tracked_boxes_that_motion_touches_are_taken_in_whole() -> None:
    walker = (400, 50, 520, 420)  # leaving their box: the motion reaches beyond it
    stander = (50, 60, 150, 400)  # far from any motion
    motion = boxes((500, 60, 600, 410))
    crop = plan(motion, boxes(walker, stander))
    assert crop is not None
    assert crop.contains(boxes(walker)).all()
    assert not crop.contains(boxes(stander)).any()
    # Motion inside a box (someone leaving the frame from it) takes that box in too.
    fidget = (600, 100, 700, 400)
    crop = plan(boxes((300, 200, 340, 260), (620, 150, 680, 300)), boxes(fidget))
    assert crop is not None and crop.contains(boxes(fidget)).all()


def test_motion_over_most_of_the_frame_means_the_whole_frame() -> None:
    assert plan(boxes((0, 0, 700, 400)), boxes()) is None
    assert plan(boxes((0, 0, 700, 400)), boxes(), RegionPlanner(max_fraction=1.0)) is not None


def test_crop_edges_cut_objects_only_inside_the_frame() -> None:
    crop = Crop(100, 0, 400, HEIGHT, SCALE)
    found = boxes((101, 50, 200, 300), (250, 0, 300, 432), (300, 100, 399, 200), (150, 80, 250, 90))
    # Left and right edges are inside the frame; top and bottom are the frame's own.
    assert crop.cut(found, WIDTH, HEIGHT).tolist() == [True, False, True, False]
    assert crop.contains(boxes((99.5, 0, 400.5, 432), (98, 0, 200, 10))).tolist() == [True, False]
    moved = crop.to_frame(dets([(0, 0, 10, 20)], [0]))
    np.testing.assert_allclose(moved.xyxy, [[100, 0, 110, 20]])
    assert moved.class_id.tolist() == [0]


def test_pieces_belong_to_kept_objects_of_their_class() -> None:
    kept = dets([(100, 100, 300, 400)], [0])
    pieces = dets([(250, 100, 320, 400), (150, 150, 200, 200), (150, 150, 200, 200)], [0, 0, 2])
    # 5/7 of the first piece lies in the kept box; the car (class 2) is another object.
    assert mostly_inside(pieces, kept).tolist() == [True, True, False]
    assert mostly_inside(pieces, Detections.empty()).tolist() == [False, False, False]


def test_touches() -> None:
    tracked = boxes((0, 0, 10, 10), (20, 20, 30, 30))
    assert touches(tracked, boxes((5, 5, 25, 15))).tolist() == [True, False]
    assert touches(tracked, boxes()).tolist() == [False, False]


@pytest.mark.parametrize("x", [0.0, 123.4, 500.0, 740.0])
def test_any_crop_fills_whole_strides(x: float) -> None:
    crop = plan(boxes((x, 10, x + 28, 60)), boxes())
    assert crop is not None and fills_strides(crop)


def fills_strides(crop: Crop) -> bool:
    """Each side, at the network's scale, leaves less than a pixel of its input unused (or is
    the frame's whole side): the crop uses all the network input it costs."""
    for side, limit in ((crop.x2 - crop.x1, WIDTH), (crop.y2 - crop.y1, HEIGHT)):
        network = side * SCALE
        canvas = -(-round(network) // 32) * 32
        if side != limit and not 0 <= canvas - network < 1.0:
            return False
    return True
