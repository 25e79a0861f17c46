"""First look, first event: a still newcomer does not wait for the motion gate's refresh.

A block appears (motion) and then stays where it is (no motion), like a car that parks or a
person who sits down; the detector of ``test_pipeline_regions`` finds it at a chosen confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from citybrain.config import parse_config
from citybrain.core.detections import Detections
from citybrain.pipeline import CameraPipeline, Vision
from test_pipeline_regions import BlockDetector, frame

CONFIG = """
camera: {name: blocks, fps: 5}
anonymise: {enabled: false}
zones:
  all: {polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]}
rules:
  people: {kind: restricted_zone, zone: all, labels: [person]}
"""
STILL = (300, 100, 360, 300)


@dataclass
class SureDetector(BlockDetector):
    """Finds red blocks with the given confidence."""

    confidence: float = 0.9

    def detect(self, images, scales=None):  # type: ignore[no-untyped-def]
        found = super().detect(images, scales)
        return [
            Detections(xyxy=d.xyxy, confidence=d.confidence * 0 + self.confidence,
                       class_id=d.class_id)
            for d in found
        ]  # fmt: skip


def first_event(confidence: float) -> tuple[float, int]:
    """When the event of a block still from t = 1 s starts, and the detector's calls by then."""
    detector = SureDetector(confidence=confidence)
    pipeline = CameraPipeline(parse_config(CONFIG), Vision(detector=detector))
    for i in range(40):
        t = i / 5
        result = pipeline.process(frame(t) if t < 1.0 else frame(t, STILL))
        if result.updates:
            return t, len(detector.calls)
    raise AssertionError("no event")


@pytest.mark.parametrize(
    ("confidence", "expected"),
    [
        (0.9, 1.0),  # one confident look: a track at once
        (0.6, 1.4),  # a hesitant one: confirmed by a look 0.4 s later (min_interval)
    ],
)
def test_a_still_newcomer_does_not_wait_for_the_refresh(confidence: float, expected: float) -> None:
    start, calls = first_event(confidence)
    assert start == pytest.approx(expected)  # the refresh would have come at 4.0 s
    assert calls <= 3  # the first look at the empty frame, the newcomer, at most one more


def test_a_hesitant_look_that_is_not_confirmed_costs_one_more_look_only() -> None:
    detector = SureDetector(confidence=0.6)
    pipeline = CameraPipeline(parse_config(CONFIG), Vision(detector=detector))
    # The block is there for one frame only (a flicker), then never again.
    for i in range(20):
        t = i / 5
        pipeline.process(frame(t, STILL) if i == 5 else frame(t))
    # Looks: the first frame, the flicker (motion), the confirming look, the block's going
    # (motion at 1.2 s is within min_interval of the flicker), no more: nothing is tracked.
    assert pipeline.stats.detector_frames <= 4
    assert pipeline.stats.events_started == 0
