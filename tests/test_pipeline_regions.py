"""Region looks in the camera pipeline, on synthetic frames with a detector that finds red blocks.

The detector here is simple but honest: it reports every red block it sees in the image it is
given (so a crop shows it only what lies inside the crop, cut where the crop cuts), which lets
each test set up exactly the situation it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest

from citybrain.config import parse_config
from citybrain.core.detections import COCO_LABELS, Detections
from citybrain.core.frame import Frame, Image
from citybrain.pipeline import CameraPipeline, PipelineResult, Vision

WIDTH, HEIGHT = 768, 432
SCALE = 416 / 768
PERSON = (100, 100, 200, 400)  # standing from the first frame on

CONFIG = """
camera: {name: blocks, fps: 5}
anonymise: {enabled: false}
motion: {regions: %s}
zones:
  all: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  people: {kind: restricted_zone, zone: all, labels: [person]}
"""


@dataclass
class BlockDetector:
    """Finds red blocks; ``grow_left`` widens each box to the left (an object whose body goes
    on beyond what moved, like a shadow the detector counts in)."""

    grow_left: int = 0
    calls: list[tuple[tuple[int, ...], float | None]] = field(default_factory=list)

    @property
    def labels(self) -> tuple[str, ...]:
        return COCO_LABELS

    def frame_scale(self, height: int, width: int) -> float | None:
        return min(416 / height, 416 / width)

    def detect(
        self, images: Sequence[Image], scales: Sequence[float | None] | None = None
    ) -> list[Detections]:
        results = []
        for image, scale in zip(images, scales or [None] * len(images), strict=True):
            self.calls.append((image.shape, scale))
            red = ((image[:, :, 2] > 200) & (image[:, :, 0] < 50)).astype(np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(red)
            rows = [
                (max(0, x - self.grow_left), y, x + w, y + h)
                for x, y, w, h, _ in stats[1:count].tolist()
            ]
            results.append(
                Detections(
                    xyxy=np.array(rows, dtype=np.float32).reshape(-1, 4),
                    confidence=np.full(len(rows), 0.9, dtype=np.float32),
                    class_id=np.zeros(len(rows), dtype=np.int64),
                )
            )
        return results


def frame(t: float, *blocks: tuple[int, int, int, int]) -> Frame:
    image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for x1, y1, x2, y2 in blocks:
        image[y1:y2, x1:x2] = (0, 0, 255)
    return Frame(image, timestamp=t, index=round(t * 5))


def run(
    detector: BlockDetector, newcomer_x: int, *, regions: bool = True, frames: int = 20
) -> tuple[CameraPipeline, list[PipelineResult]]:
    """The person stands; from t = 2 s a newcomer block appears at ``newcomer_x`` and walks."""
    config = parse_config(CONFIG % ("true" if regions else "false"))
    pipeline = CameraPipeline(config, Vision(detector=detector))
    results = []
    for i in range(frames):
        t = i / 5
        blocks = [PERSON]
        if t >= 2.0:
            x = newcomer_x + 10 * (i - 10)
            blocks.append((x, 150, x + 30, 300))
        results.append(pipeline.process(frame(t, *blocks)))
    return pipeline, results


def boxes_of(result: PipelineResult) -> list[list[float]]:
    return sorted(result.detections.xyxy.round().tolist())


def test_a_newcomer_is_looked_for_in_a_crop_and_the_stander_keeps_their_box() -> None:
    detector = BlockDetector()
    pipeline, results = run(detector, newcomer_x=520)
    # The first look is the whole frame; the newcomer's arrival is looked for in a crop, at
    # the whole frame's scale.
    assert detector.calls[0] == ((HEIGHT, WIDTH, 3), None)
    crops = [(shape, scale) for shape, scale in detector.calls if shape[:2] != (HEIGHT, WIDTH)]
    assert crops and all(scale == pytest.approx(SCALE) for _, scale in crops)
    assert all(shape[1] < WIDTH / 2 for shape, _ in crops)
    arrived = next(r for r in results if r.detected and r.frame.timestamp >= 2.0)
    assert boxes_of(arrived) == sorted([list(PERSON), [520.0, 150.0, 550.0, 300.0]])
    # The person never moved and was never in a crop, yet stays tracked under one id.
    person_ids = [
        int(r.detections.tracker_id[r.detections.xyxy[:, 0] == 100][0])
        for r in results
        if (r.detections.xyxy[:, 0] == 100).any()
    ]
    assert len(person_ids) == len(results)
    assert len(set(person_ids) - {-1}) == 1 and person_ids[-1] != -1
    assert pipeline.stats.detector_regions == len(crops)
    assert pipeline.stats.region_retries == 0


def test_the_same_frames_give_the_same_objects_with_regions_off() -> None:
    _, with_regions = run(BlockDetector(), newcomer_x=520)
    detector = BlockDetector()
    pipeline, whole = run(detector, newcomer_x=520, regions=False)
    assert all(shape[:2] == (HEIGHT, WIDTH) for shape, _ in detector.calls)
    assert pipeline.stats.detector_regions == 0
    for a, b in zip(with_regions, whole, strict=True):
        assert a.detected == b.detected and boxes_of(a) == boxes_of(b)


def test_a_piece_of_a_kept_object_at_the_crop_edge_is_that_object() -> None:
    detector = BlockDetector()
    pipeline, results = run(detector, newcomer_x=215, frames=11)
    # The crop around the newcomer reaches into the person's box: the detector saw a piece of
    # the person at the crop's left edge, and the pipeline kept the person's whole box.
    shape, scale = detector.calls[-1]
    assert shape[1] < WIDTH and scale is not None
    assert pipeline.stats.region_retries == 0
    assert boxes_of(results[-1]) == sorted([list(PERSON), [215.0, 150.0, 245.0, 300.0]])


def test_something_new_cut_by_the_crop_is_looked_for_in_the_whole_frame() -> None:
    detector = BlockDetector(grow_left=200)
    pipeline, results = run(detector, newcomer_x=520, frames=11)
    shapes = [shape[:2] for shape, _ in detector.calls]
    assert shapes[-2][1] < WIDTH and shapes[-1] == (HEIGHT, WIDTH)  # crop, then whole frame
    assert pipeline.stats.region_retries == 1
    assert [320.0, 150.0, 550.0, 300.0] in boxes_of(results[-1])
