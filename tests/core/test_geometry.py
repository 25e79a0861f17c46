from __future__ import annotations

import numpy as np
import pytest

from citybrain.core.detections import Detections
from citybrain.core.geometry import Line, PolygonZone


def boxes(*xyxy: tuple[float, float, float, float]) -> Detections:
    n = len(xyxy)
    return Detections(xyxy=np.array(xyxy), confidence=np.ones(n), class_id=np.zeros(n))


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        ((10, 10, 20, 40), True),  # feet at (15, 40) inside the left half
        ((60, 10, 80, 40), False),  # right half
        ((40, 0, 60, 100), True),  # feet on the frame's bottom edge, x = 50 on the zone edge
        ((10, 60, 20, 101), False),  # feet below the frame
    ],
)
def test_zone_trigger_uses_feet(box: tuple[float, float, float, float], inside: bool) -> None:
    zone = PolygonZone("left", [(0, 0), (0.5, 0), (0.5, 1), (0, 1)])
    assert zone.trigger(boxes(box), width=100, height=100).tolist() == [inside]


def test_zone_trigger_vectorised_and_empty() -> None:
    zone = PolygonZone("all", [(0, 0), (1, 0), (1, 1), (0, 1)], anchor="center")
    mask = zone.trigger(boxes((0, 0, 10, 10), (50, 50, 60, 60)), width=100, height=100)
    assert mask.tolist() == [True, True]
    assert zone.trigger(Detections.empty(), width=100, height=100).shape == (0,)


def test_self_intersecting_zone_is_repaired() -> None:
    bowtie = PolygonZone("bowtie", [(0, 0), (1, 1), (1, 0), (0, 1)], anchor="center")
    assert bowtie.trigger(boxes((70, 40, 90, 60)), width=100, height=100).tolist() == [True]


def test_line_crossing_directions() -> None:
    line = Line("gate", (0.0, 0.5), (1.0, 0.5))
    before = np.array([[0.5, 0.4], [0.5, 0.6], [0.5, 0.4], [1.5, 0.4]], dtype=np.float32)
    after = np.array([[0.5, 0.6], [0.5, 0.4], [0.6, 0.45], [1.5, 0.6]], dtype=np.float32)
    # down across = left-to-right when looking along +x with y down = "in" (+1); up = "out";
    # no crossing; and crossing the line's extension beyond its end point does not count.
    assert line.crossed(before, after).tolist() == [1.0, -1.0, 0.0, 0.0]


def test_degenerate_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="two equal points"):
        Line("x", (0.1, 0.1), (0.1, 0.1))
    with pytest.raises(ValueError, match="at least 3 points"):
        PolygonZone("x", [(0, 0), (1, 1)])
