"""The hard-hat classifier: packaged weights, head regions, crops, and the evaluate command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from citybrain.commands.hardhat import app, read_split
from citybrain.errors import ConfigError
from citybrain.vision.hardhat import (
    CROP_SIZE,
    HARDHAT,
    NO_HARDHAT,
    UNKNOWN,
    HardhatClassifier,
    crop_regions,
    expand_boxes,
    head_region,
    located_heads,
    normalise,
    verdicts,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def classifier() -> HardhatClassifier:
    return HardhatClassifier()


@pytest.fixture(scope="module")
def valid_report(hardhat_dataset: Path) -> dict[str, float]:
    """``citybrain hardhat evaluate`` on the whole valid split (about 10-20 s on 2 cores)."""
    result = runner.invoke(app, ["evaluate", str(hardhat_dataset / "valid"), "--quiet"])
    assert result.exit_code == 0, result.output
    report: dict[str, float] = json.loads(result.stdout)
    return report


def test_valid_split_balanced_accuracy_reaches_goal(valid_report: dict[str, float]) -> None:
    # valid is the selection split: this guards against regressions, it is not an evaluation.
    assert valid_report["balanced_accuracy"] >= 0.9
    assert valid_report["recall_helmet"] >= 0.85
    assert valid_report["recall_head"] >= 0.85


def test_evaluate_prints_one_json_object_with_counts(valid_report: dict[str, float]) -> None:
    # Counts of 5-field class-0/1 lines in valid/labels (README: skip other lines).
    assert valid_report["n_helmet"] == 3913
    assert valid_report["n_head"] == 1339
    assert 0 < valid_report["threshold"] < 1
    assert valid_report["seconds"] > 0
    expected = (valid_report["recall_helmet"] + valid_report["recall_head"]) / 2
    assert valid_report["balanced_accuracy"] == pytest.approx(expected, abs=1e-3)
    n = valid_report["n_helmet"] + valid_report["n_head"]
    weighted = (
        valid_report["recall_helmet"] * valid_report["n_helmet"]
        + valid_report["recall_head"] * valid_report["n_head"]
    ) / n
    assert valid_report["accuracy"] == pytest.approx(weighted, abs=1e-3)


def test_classify_empty_input_gives_empty_output(classifier: HardhatClassifier) -> None:
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    out = classifier.classify(image, np.zeros((0, 4), dtype=np.float32))
    assert out.shape == (0,)
    assert out.dtype == np.float32


def test_classify_batch_matches_single_calls(classifier: HardhatClassifier) -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(200, 300, 3), dtype=np.uint8)
    boxes = np.array(
        [[10, 10, 60, 60], [100, 40, 130, 90], [250, -20, 320, 30], [0, 0, 3, 3]], np.float32
    )
    together = classifier.classify(image, boxes)
    alone = np.concatenate([classifier.classify(image, box[None]) for box in boxes])
    assert together.shape == (4,)
    assert np.all((together >= 0) & (together <= 1))
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_packaged_model_carries_its_threshold(classifier: HardhatClassifier) -> None:
    assert 0.05 <= classifier.threshold <= 0.95


def test_head_region_of_a_standing_person() -> None:
    person = np.array([[100, 50, 200, 350]], dtype=np.float32)  # 100 x 300
    (region,) = head_region(person)
    side = region[2] - region[0]
    assert side == pytest.approx(region[3] - region[1])
    assert side == pytest.approx(90)  # 0.9 of the width: shoulders, not height, set the scale
    assert (region[0] + region[2]) / 2 == pytest.approx(150)
    assert region[1] < 50 < region[3] < 50 + 0.3 * 300  # from just above the box, top part


def test_head_region_of_a_wide_box_follows_its_height() -> None:
    # Arms spread or bending over: the width would give a region far larger than a head.
    person = np.array([[0, 100, 300, 200]], dtype=np.float32)  # 300 x 100
    (region,) = head_region(person)
    assert region[2] - region[0] == pytest.approx(50)


def test_head_region_of_an_upper_body_keeps_the_head_size() -> None:
    # Cut off at the chest by the frame: the box is short, the head as large as when standing.
    whole = head_region(np.array([[0, 0, 100, 300]], dtype=np.float32))[0]
    upper = head_region(np.array([[0, 0, 100, 190]], dtype=np.float32))[0]
    assert upper[2] - upper[0] == pytest.approx(whole[2] - whole[0])


def test_head_region_shapes_and_degenerate_boxes() -> None:
    assert head_region(np.zeros((0, 4), dtype=np.float32)).shape == (0, 4)
    regions = head_region(np.array([[5, 5, 5, 5], [10, 10, 10.5, 40]], dtype=np.float32))
    assert regions.dtype == np.float32
    assert np.all(regions[:, 2] - regions[:, 0] >= 2)


def test_expand_boxes_keeps_the_centre() -> None:
    (box,) = expand_boxes(np.array([[10, 20, 30, 60]], dtype=np.float32), 1.5)
    np.testing.assert_allclose(box, [5, 10, 35, 70])


def test_crop_regions_squares_and_pads() -> None:
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    image[40:60, 40:60] = 255  # a white square in the middle
    crops = crop_regions(image, np.array([[40, 40, 60, 60], [-50, -50, 10, 10]], np.float32))
    assert crops.shape == (2, CROP_SIZE, CROP_SIZE, 3)
    assert crops[0].min() == 255  # exactly the white square
    assert crops[1].max() == 0  # outside the image: edge pixels repeated (black)
    tall = crop_regions(image, np.array([[45, 30, 55, 70]], np.float32))[0]
    # A 10 x 40 box becomes a 40 x 40 square: the white square fills the middle half of it.
    assert tall[CROP_SIZE // 2, 2].max() == 0
    assert tall[CROP_SIZE // 2, CROP_SIZE // 2].min() == 255


def test_normalise_layout() -> None:
    crops = np.full((2, CROP_SIZE, CROP_SIZE, 3), 128, dtype=np.uint8)
    x = normalise(crops)
    assert x.shape == (2, 3, CROP_SIZE, CROP_SIZE)
    assert x.dtype == np.float32
    assert np.all(np.abs(x) < 1)


def _tiny_split(root: Path) -> Path:
    """A two-image split: one head, one helmet, plus lines a reader must skip."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    image = np.full((64, 80, 3), 90, dtype=np.uint8)
    for name in ("a", "b"):
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), image)
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.25\n2 0.5 0.5 0.9 0.9\n")
    (root / "labels" / "b.txt").write_text("1 0.3 0.3 0.2 0.2\n1 0.1 0.1 0.2 0.1 0.3 0.3 0.2 0.2")
    (root / "labels" / "orphan.txt").write_text("1 0.5 0.5 0.1 0.1\n")  # no image
    return root


def test_read_split_skips_polygons_persons_and_orphans(tmp_path: Path) -> None:
    split = read_split(_tiny_split(tmp_path / "split"))
    assert [item.image.name for item in split] == ["a.jpg", "b.jpg"]
    assert [item.hardhat.tolist() for item in split] == [[False], [True]]
    xyxy = split[0].pixel_xyxy(80, 64)
    np.testing.assert_allclose(xyxy, [[32, 24, 48, 40]])


def test_evaluate_on_a_tiny_split(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", str(_tiny_split(tmp_path / "s")), "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["n_helmet"], report["n_head"], report["images"]) == (1, 1, 2)
    assert report["balanced_accuracy"] in (0.0, 0.5, 1.0)


def test_evaluate_refuses_a_threshold_outside_0_1(tmp_path: Path) -> None:
    split = str(_tiny_split(tmp_path / "s"))
    result = runner.invoke(app, ["evaluate", split, "--quiet", "--threshold", "1.5"])
    assert result.exit_code == 2 and "--threshold" in result.output
    assert runner.invoke(app, ["evaluate", split, "--quiet", "--threshold", "1"]).exit_code == 0


def test_evaluate_refuses_a_folder_that_is_not_a_split(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    result = runner.invoke(app, ["evaluate", str(tmp_path), "--quiet"])
    assert result.exit_code != 0
    assert str(tmp_path) in result.output
    assert "YOLO" in result.output
    assert result.stdout == ""


def test_read_split_refuses_a_split_without_heads(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    with pytest.raises(ConfigError, match="no labelled head"):
        read_split(tmp_path)


def test_verdicts_abstain_in_the_band_and_on_small_heads() -> None:
    p = np.array([0.1, 0.5, 0.9, 0.1, np.nan], np.float32)
    side = np.array([20, 20, 20, 8, 20], np.float32)
    out = verdicts(p, side, band=(0.3, 0.7), min_side=12)
    assert out.tolist() == [NO_HARDHAT, UNKNOWN, HARDHAT, UNKNOWN, UNKNOWN]


def test_located_heads_map_crop_fractions_to_pixels() -> None:
    regions = np.array([[100, 50, 200, 150], [0, 0, 40, 20]], np.float32)
    head = np.array([[0.5, 0.5, 0.5], [0.25, 0.5, 0.25]], np.float32)
    boxes = located_heads(regions, head)
    np.testing.assert_allclose(boxes[0], [125, 75, 175, 125])
    # A 40 x 20 region is cut as the 40 x 40 square about its centre (y from -10 to 30).
    np.testing.assert_allclose(boxes[1], [5, 5, 15, 15])


def test_assess_gives_probability_head_and_verdict(classifier: HardhatClassifier) -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 70, 70], [100, 20, 104, 24]], np.float32)
    looks = classifier.assess(image, boxes)
    assert looks.probability.shape == (2,) and looks.head.shape == (2, 4)
    np.testing.assert_allclose(looks.probability, classifier.classify(image, boxes), atol=1e-6)
    assert looks.verdict[1] == UNKNOWN  # a 4 px region holds no head worth judging
    low, high = classifier.band
    assert 0 < low <= classifier.threshold <= high < 1
