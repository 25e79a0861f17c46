"""Licence-plate images and boxes for training the plate detector, and their augmentation.

The data (``shared/datasets/license-plates``) has ``train`` and ``valid`` splits only. ``valid`` is
cut in two by :func:`split_valid`: images at even positions (sorted by name) are for selection
(epoch, threshold), images at odd positions are this project's test split, read only for the
final figures. Class 0 is a plate; vehicles (class 1) are not used.

Plates are found only to be blurred: no plate crop or text is ever stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from citybrain.core.detections import FloatArray
from citybrain.core.frame import Image
from citybrain.vision.plates import STRIDE

__all__ = [
    "MATCH_IOU", "Sample", "Views", "augment", "iou", "load_split", "match", "split_valid",
    "targets",
]  # fmt: skip

PLATE_CLASS = 0
VEHICLE_CLASS = 1


@dataclass(frozen=True, slots=True)
class Sample:
    """One image and its boxes (``x1, y1, x2, y2`` pixels)."""

    name: str
    image: Image
    plates: FloatArray
    vehicles: FloatArray


def _boxes(rows: npt.NDArray[np.float64], cls: int, width: int, height: int) -> FloatArray:
    table = rows[rows[:, 0] == cls, 1:5] if len(rows) else np.zeros((0, 4))
    scale = np.array([width, height, width, height])
    cxcy, wh = table[:, :2], table[:, 2:]
    return (np.concatenate([cxcy - wh / 2, cxcy + wh / 2], axis=1) * scale).astype(np.float32)


def load_split(split_dir: Path) -> list[Sample]:
    """Every image of a YOLO-format split with its plate and vehicle boxes, sorted by name."""
    samples = []
    for image_path in sorted((split_dir / "images").glob("*.jpg")):
        label = split_dir / "labels" / f"{image_path.stem}.txt"
        rows = [
            [float(v) for v in line.split()]
            for line in (label.read_text().splitlines() if label.is_file() else [])
            if len(line.split()) == 5
        ]
        table = np.array(rows, dtype=np.float64).reshape(-1, 5)
        image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot decode {image_path}")
        h, w = image.shape[:2]
        samples.append(
            Sample(
                image_path.name,
                np.asarray(image, dtype=np.uint8),
                _boxes(table, PLATE_CLASS, w, h),
                _boxes(table, VEHICLE_CLASS, w, h),
            )
        )
    return samples


def split_valid(samples: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """``valid`` cut in two: (selection, test), alternating by sorted name."""
    ordered = sorted(samples, key=lambda s: s.name)
    return ordered[0::2], ordered[1::2]


@dataclass(frozen=True, slots=True)
class Views:
    """How training views are drawn (:func:`augment`).

    Attributes:
        scale: range of the image's scale (log-uniform): plates from far away and close up.
        tilt: largest rotation in degrees (a camera rolled, a plate hung askew).
        side: share of views foreshortened horizontally and sheared, as a plate seen from the
            side of the car is (squeezed to ``squeeze``-1 of its width).
        squeeze: the narrowest horizontal squeeze of a side view.
        vehicle: share of views cut about one labelled vehicle and scaled so that its longer
            side fills 55-100 % of the view: what the run time's second look at a vehicle box
            (``PlateDetector.detect_in``) sees.
        low_res: share of views shrunk to 25-60 % and scaled back up (CCTV resolution).
    """

    scale: tuple[float, float] = (0.35, 1.6)
    tilt: float = 0.0
    side: float = 0.0
    squeeze: float = 0.5
    vehicle: float = 0.0
    low_res: float = 0.0


def _view_matrix(
    sample: Sample, size: int, rng: np.random.Generator, views: Views
) -> npt.NDArray[np.float64]:
    """The 2 x 3 affine map from the sample's pixels to a ``size`` x ``size`` view."""
    h, w = sample.image.shape[:2]
    if len(sample.vehicles) and rng.random() < views.vehicle:
        box = sample.vehicles[int(rng.integers(len(sample.vehicles)))]
        centre = (box[:2] + box[2:]) / 2 + rng.uniform(-0.1, 0.1, 2) * (box[2:] - box[:2])
        scale = size * rng.uniform(0.55, 1.0) / max(float((box[2:] - box[:2]).max()), 8.0)
    else:
        scale = float(np.exp(rng.uniform(*np.log(views.scale))))
        # A random place of the scaled image in the view (as a shifted crop of it).
        free = np.array([w, h]) * scale - size
        shift = np.array([rng.uniform(min(0, f), max(0, f)) for f in free])
        centre = (shift + size / 2) / scale
    linear = np.diag([scale * rng.uniform(0.85, 1.15), scale])
    if rng.random() < views.side:
        squeeze = rng.uniform(views.squeeze, 1.0)
        shear = rng.uniform(-0.25, 0.25)
        linear = np.array([[squeeze, 0.0], [shear, 1.0]]) @ linear
    if views.tilt > 0 and rng.random() < 0.5:
        angle = np.deg2rad(rng.uniform(-views.tilt, views.tilt))
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        linear = rotation @ linear
    offset = size / 2 - linear @ np.asarray(centre, dtype=np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1)


def _map_boxes(boxes: FloatArray, matrix: npt.NDArray[np.float64]) -> FloatArray:
    """The upright boxes that hold the mapped corners of ``boxes``."""
    if not len(boxes):
        return boxes.reshape(-1, 4)
    corners = np.stack(
        [boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], axis=1
    )
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    return np.concatenate([mapped.min(axis=1), mapped.max(axis=1)], axis=1).astype(np.float32)


def augment(
    sample: Sample, size: int, rng: np.random.Generator, views: Views | None = None
) -> tuple[Image, FloatArray]:
    """A random ``size`` x ``size`` view of a sample (see :class:`Views`): scaled, shifted,
    sometimes tilted, seen from the side or cut about a vehicle, flipped, colour-jittered,
    blurred or shrunk to CCTV resolution."""
    views = views or Views()
    matrix = _view_matrix(sample, size, rng, views)
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    canvas = cv2.warpAffine(
        sample.image, matrix, (size, size), flags=cv2.INTER_AREA if matrix[0, 0] < 1 else
        cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill,
    )  # fmt: skip
    boxes = _map_boxes(sample.plates, matrix)
    if rng.random() < 0.5:
        canvas = np.ascontiguousarray(canvas[:, ::-1])
        boxes = np.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], 1)
    if rng.random() < views.low_res:
        side = max(round(size * rng.uniform(0.25, 0.6)), 8)
        small = cv2.resize(canvas, (side, side), interpolation=cv2.INTER_AREA)
        canvas = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.2:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 1.2))
    pixels = canvas.astype(np.float32)
    grey = pixels.mean(axis=2, keepdims=True)
    pixels = grey + (pixels - grey) * rng.uniform(0.0, 1.3)
    pixels = pixels * rng.uniform(0.6, 1.4) * rng.uniform(0.9, 1.1, 3) + rng.uniform(-30, 30)
    out = np.clip(pixels, 0, 255).astype(np.uint8)
    return out, _visible(boxes.astype(np.float32), size)


def _visible(boxes: FloatArray, size: int) -> FloatArray:
    """Boxes clipped to the view; those with less than half their area left are dropped."""
    clipped = np.clip(boxes, 0, size)
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1e-6, None), axis=1)
    kept = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    return clipped[kept >= 0.5 * area].reshape(-1, 4)


def targets(
    boxes: FloatArray, size: int
) -> tuple[FloatArray, FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """CenterNet targets of one view: heat map, log size, offset, and the cells that carry a
    box (size and offset are learnt there only).

    Returns:
        ``(1, s, s)`` heat, ``(2, s, s)`` size, ``(2, s, s)`` offset, ``(s, s)`` mask, with
        ``s = size // STRIDE``.
    """
    s = size // STRIDE
    heat = np.zeros((1, s, s), np.float32)
    wh = np.zeros((2, s, s), np.float32)
    offset = np.zeros((2, s, s), np.float32)
    mask = np.zeros((s, s), bool)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    for box in boxes / STRIDE:
        w, h = max(box[2] - box[0], 0.25), max(box[3] - box[1], 0.25)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        ix, iy = min(int(cx), s - 1), min(int(cy), s - 1)
        sigma_x, sigma_y = max(w / 6, 0.5), max(h / 6, 0.5)
        g = np.exp(-((xx - ix) ** 2) / (2 * sigma_x**2) - ((yy - iy) ** 2) / (2 * sigma_y**2))
        heat[0] = np.maximum(heat[0], g)
        wh[:, iy, ix] = np.log([w, h])
        offset[:, iy, ix] = [cx - ix, cy - iy]
        mask[iy, ix] = True
    return heat, wh, offset, mask


#: A detection takes a labelled plate it overlaps by at least this IoU.
MATCH_IOU = 0.3


def iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``(len(a), len(b))`` IoU of two box sets."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    result: npt.NDArray[np.float32] = inter / np.maximum(area_a[:, None] + area_b - inter, 1e-6)
    return result


def match(found: npt.NDArray[np.float32], truth: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Which detections (best first) take a not yet taken plate at :data:`MATCH_IOU`."""
    hits = np.zeros(len(found), dtype=bool)
    if not len(found) or not len(truth):
        return hits
    overlap = iou(found, truth)
    taken = np.zeros(len(truth), dtype=bool)
    for i in range(len(found)):
        candidates = np.where(taken, -1.0, overlap[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= MATCH_IOU:
            taken[j] = hits[i] = True
    return hits
