from __future__ import annotations

import numpy as np
import pytest

from citybrain.core.detections import (
    COCO_LABELS,
    LABEL_GROUPS,
    Detections,
    expand_labels,
    label_ids,
)


def make(n: int) -> Detections:
    xyxy = np.array([[i, i, i + 10, i + 20] for i in range(n)], dtype=np.float32)
    return Detections(xyxy=xyxy, confidence=np.linspace(0.1, 0.9, n), class_id=np.arange(n) % 3)


def test_mask_filters_every_column() -> None:
    d = make(5).with_data("hardhat", np.arange(5, dtype=np.float32))
    kept = d[d.class_id == 1]
    assert len(kept) == 2
    assert kept.data["hardhat"].tolist() == [1.0, 4.0]
    assert kept.tracker_id.tolist() == [-1, -1]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("confidence", np.ones(2), "confidence has 2 rows, expected 3"),
        ("class_id", np.ones(4), "class_id has 4 rows, expected 3"),
        ("tracker_id", np.ones(1), "tracker_id has 1 rows, expected 3"),
    ],
)
def test_mismatched_columns_are_refused(field: str, value: np.ndarray, message: str) -> None:
    kwargs = {"xyxy": np.zeros((3, 4)), "confidence": np.ones(3), "class_id": np.zeros(3)}
    kwargs[field] = value
    with pytest.raises(ValueError, match=message):
        Detections(**kwargs)


def test_merge_and_empty() -> None:
    merged = Detections.merge([make(2), Detections.empty(), make(3)])
    assert len(merged) == 5
    assert len(Detections.merge([])) == 0


def test_anchors() -> None:
    d = make(1)
    assert d.anchors("bottom_center").tolist() == [[5.0, 20.0]]
    assert d.anchors("center").tolist() == [[5.0, 10.0]]
    with pytest.raises(ValueError, match="unknown anchor"):
        d.anchors("top")


def test_label_ids() -> None:
    assert label_ids(["person", "car"]).tolist() == [0, 2]
    with pytest.raises(ValueError, match="unknown label"):
        label_ids(["unicorn"])


def test_vehicle_group_expands_to_its_members() -> None:
    members = LABEL_GROUPS["vehicle"]
    assert {"car", "truck", "bus", "motorcycle"} <= set(members)
    assert expand_labels(["person", "vehicle"]) == ("person", *members)
    assert expand_labels(["car", "vehicle"]).count("car") == 1  # no repeats
    assert label_ids(["vehicle"]).tolist() == [COCO_LABELS.index(m) for m in members]
    with pytest.raises(ValueError, match="groups vehicle"):
        expand_labels(["vehicles"])
